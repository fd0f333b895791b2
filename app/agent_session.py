"""Agent session memory over the store: the OpenAI Agents SDK's ``Session`` protocol on ``chat.messages``.

``ChatStoreSession(store, conversation_id, user=None, *, session_settings=None, max_tokens=None)`` keeps an
agent's history in one conversation of one user, so that a stateless backend can run ``Runner.run(agent, …,
session=…)`` on any instance and find the turns before it. Every call is the store's: one transaction
that acts as the user under row-level security.

Whom it acts for: ``user`` when given; otherwise the run's context (``Runner.run(…, context=…)``, handed
to every method as ``wrapper``): a ``User``, or an object whose ``user`` attribute is one. With neither,
every method raises ``NoSessionUser`` before it reaches the database. A session made without ``user``
works only inside a run (or when given ``wrapper=``); a session wrapped by another one that does not pass
the run context on (such as the SDK's compaction session) needs ``user``.

One item is one message row:

- ``metadata`` holds the item itself, unchanged, under ``"agents_item"``; ``get_items`` returns exactly
  the items added (equal after a JSON round trip), oldest first.
- ``content`` is a text a person (or the search, or the HTTP API) can read: a message's text, a
  function call's tool name and arguments (``get_weather({"city": "Paris"})``), a tool's output, a
  reasoning item's summary, a short line for hosted tool calls (``web search: …``); cut to 10,000
  characters. It is never read back into an item.
- ``role``, one of the database's four:

  ======================================================================  ===========
  item                                                                    role
  ======================================================================  ===========
  message of role ``user``                                                ``user``
  message of role ``system`` or ``developer``                             ``system``
  message of role ``assistant``; function, custom and hosted tool calls;
  reasoning; compaction; anything else the model produces                 ``assistant``
  the output of a tool run by the application (``function_call_output``,
  ``computer_call_output``, ``shell_call_output``, every ``…_output``)    ``tool``
  ``mcp_approval_response`` (the application's decision)                  ``user``
  ======================================================================  ===========

- ``tokens``: the database's estimate (``chat_private.estimated_tokens``, of the item the metadata holds), since an item
  carries no count. A subclass that knows an item's count (a model's usage) passes it: the rows
  ``_append`` stores, and ``_row``'s, take an optional ``"tokens"``.

Rows written otherwise (through the HTTP API, or ``ChatStore.append_message``) carry no item; they come
back as plain messages ``{"role": role, "content": content}``, and a ``tool`` row, whose role is not one
a model takes as input and which has no call to answer, as ``{"role": "assistant", "content": …}``: the
text the assistant's side of the conversation produced, never promoted to ``system`` nor put in the
user's mouth.

Reading: ``get_items`` returns the *model's view* of the conversation (``chat.fetch_context``), where a
summary stands in for the messages it covers; people (the HTTP API, search, export, the audit) still see
every message. ``get_items(n)`` is the latest n items of that view, ``get_items()`` all of it, read back
from the newest in pages of at most 1000 rows.

A token budget: with ``max_tokens``, ``get_items`` returns the newest items of the view whose ``tokens`` sum
to at most ``max_tokens`` (and at most ``limit``, or 1000, of them; 1000 at most, in one call): never starting
with a tool's output whose call is left out, and always the newest item, even alone over the budget. The
pinned SDK's ``SessionSettings`` has a ``limit`` and nothing else, no field for a budget: so the budget is
the constructor's argument. It bounds what a run sends the model; the compaction hooks below read the view
without it.

Compaction that keeps the history: ``ChatStoreSession`` implements the SDK's private compaction hooks, as its
``SQLAlchemySession`` does (``_get_compaction_snapshot``, a bounded snapshot whose suffix is replaced
atomically, refused when the tail changed meanwhile; and ``_atomic_replace_items``, the whole view
replaced in one transaction), so that ``OpenAIResponsesCompactionSession(session_id,
underlying_session=ChatStoreSession(…, user=…))`` compacts atomically and never falls back to its
``clear_session()`` and ``add_items()``. A replacement is ``chat.compact_messages``: the compacted items are
appended as a summary that stands in for the replaced items in the model's view, and every replaced item
stays in the conversation for people. Those hooks are private to the SDK: the version is pinned
(``uv.lock``), and tests/test_agent_session_compaction.py fails when an upgrade changes them.

Adding: ``add_items`` builds every row first and checks it against the database's limits (the item a
JSON object of storable text, its metadata at most ``MAX_MESSAGE_METADATA`` bytes); an item over them is
refused with ``ItemNotStorable`` naming it (``items[2] (function_call_output): …``) before any database
call. Then one ``append_messages`` call stores the batch: one transaction, one round trip, all or none.
Items get no ``client_msg_id``: an item's ``id`` is not unique in a session (scripted and replayed
outputs reuse ids, an item popped by a rewind is added again), and a key made from the content would
merge two legitimate equal items (a user who says "yes" twice) into one. So a caller that retries an
``add_items`` whose answer was lost may store the batch twice; the SDK's own retries read the tail back
and rewind instead.

Branches, in the spirit of the SDK's ``AdvancedSQLiteSession``: the conversation is a tree of messages with
one active path (its head), which every method reads and writes. ``create_branch_from_turn(n)`` branches from
the n-th user message of the model's view: the branch point lives on the session object (``branch_point``), as
``AdvancedSQLiteSession`` keeps its current branch, and ``get_items`` reads the view before that message until
the next ``add_items`` stores its first item, a user message, as a new version of it (``chat.edit_message``,
beside it) and the rest after it, in one transaction. ``switch_to_branch(seq)`` moves the head to the newest
leaf under a message (``chat.switch_branch``), for everyone; ``list_branches()`` gives the leaves of the tree,
with the id that switches to each. Each is one call of the store.

Errors: ``NoSessionUser`` (no user), ``ItemNotStorable`` (an item over the limits), ``TooManyItems`` (a
batch of more than 1000 items, what one ``append_messages`` takes), ``EmptyCompaction`` (a whole-view
replacement by no item), ``BranchStartsWithUserMessage`` (a branch's first item not a user message),
``NotNewestItem`` (``pop_item`` where the active path does not end at the newest message), ``ValueError`` for a
turn or a branch id that is none; a conversation that is missing or someone else's raises the store's
``psycopg.errors.NoDataFound`` (P0002) from every method, the same for both, so that existence does not
leak; and whatever else the store raises, unchanged.

A mutation (``add_items``, ``pop_item``, ``clear_session``, ``switch_to_branch``, a compaction's replacement)
that has been sent runs to its end even when the caller is cancelled; the cancellation is raised once its
outcome is known, so a cancelled call has either done all of its work or none of it, never left it in flight.

The core store (``app.store``) imports without the SDK; only this module needs it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

import psycopg
from agents.memory import SessionSettings
from agents.memory.session import _CompactionSnapshot
from agents.memory.session_settings import coerce_session_settings
from psycopg import sql
from psycopg.rows import scalar_row
from psycopg.types.json import Jsonb

from app.identity import User
from app.models import MAX_CONTENT, MAX_MESSAGE_METADATA, MAX_TOKENS, AppendedMessage, storable_json
from app.store import ChatStore
from app.transport import Statement, model_row, to_the_end

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.run_context import RunContextWrapper

__all__ = ["ITEM_KEY", "MAX_BATCH", "BranchPoint", "BranchStartsWithUserMessage", "ChatStoreSession",
           "EmptyCompaction", "ItemNotStorable", "NoSessionUser", "NotNewestItem", "TooManyItems"]

# The key of a message's metadata that holds the item.
ITEM_KEY = "agents_item"

# The most rows one read asks for (the SQL functions take 1..1000).
PAGE = 1000
# The most items one add_items stores: chat.append_messages takes 1..1000 messages (chat.compact_messages too).
MAX_BATCH = 1000

# A row as the item it holds, built by the server so that only the item travels (not the row's content and
# columns beside it): the item of a row this session wrote; for a row written otherwise, a plain message of its role
# and content, a tool's row as the assistant's (see the module's docstring). The JSON path reads the metadata once,
# silent when it has no item (a CASE that tests the item, then takes it, reads a large one twice from its compressed
# storage).
ITEM = sql.SQL(
    "coalesce(pg_catalog.jsonb_path_query_first(m.metadata, {path}, '{{}}', true),"
    " pg_catalog.jsonb_build_object('role', case when m.role = 'tool' then 'assistant' else m.role end,"
    " 'content', m.content))"
).format(path=sql.Literal(f'strict $."{ITEM_KEY}" ? (@.type() == "object")'))

# Where the model's view goes on before a row: before a summary's first row, before the range the summary stands in
# for (summary_from); before any other row, before that row. (fetch_context reads a before_seq so too; asking it of
# the range's first message tells at once, when that is the conversation's first, that nothing is before.)
BEFORE = sql.SQL("case when m.seq = m.summary_through + 1 then m.summary_from else m.seq end")

# A page of the model's view (chat.fetch_context: conversation, max_tokens, max_count, before_seq) as one row: the
# items' JSON array, ascending (one text that psycopg's JSON loader decodes in one call, where a row per item costs
# a call and a row's overhead each), how many they are, and the before_seq of the page before it (None when empty).
VIEW = sql.SQL(
    "select coalesce(pg_catalog.json_agg({item} order by m.seq), '[]'), pg_catalog.count(*),"
    " (pg_catalog.array_agg({before} order by m.seq))[1]"
    " from chat.fetch_context(%s, %s, %s, %s) m"
).format(item=ITEM, before=BEFORE)

# The latest rows of the model's view, without a budget, for a compaction: their items, ascending, their seq, and the
# id of the last one (the conversation's last message, which a replacement names to be refused when it is no longer).
SNAPSHOT = sql.SQL(
    "select coalesce(pg_catalog.json_agg({item} order by m.seq), '[]'),"
    " coalesce(pg_catalog.array_agg(m.seq order by m.seq), '{{}}'),"
    " (pg_catalog.array_agg(m.id order by m.seq desc))[1]"
    " from chat.fetch_context(%s, null, %s) m"
).format(item=ITEM)

POP = sql.SQL("select {item} from chat.pop_message(%s) m").format(item=ITEM)

# Whether a row is a turn, as the SDK's AdvancedSQLiteSession tells one: its item is a message of role "user" (a row
# written otherwise, of role user, is a plain user message); an mcp_approval_response, stored as the user's, is none.
TURN = sql.SQL("coalesce(m.role = 'user' and ({item}) ->> 'role' = 'user', false)").format(item=ITEM)

# The turns of the model's view before a message (before_seq; NULL: all of it), in one statement: the view read back
# from the newest in pages of chat.fetch_context (each page's oldest row says where the page before it ends; the page
# after the view's oldest is empty, and ends the recursion); of each turn, its seq, the message it follows, and whether
# it is a compaction summary's first row. Parameters: the conversation, before_seq, the conversation.
TURNS = sql.SQL(
    "with recursive view_rows (seq, parent_seq, turn, opens_summary, before, n) as ("
    " select m.seq, m.parent_seq, {turn}, {opens}, {before}, m.ordinality"
    " from chat.fetch_context(%s, null, {page}, %s) with ordinality m"
    " union all"
    " select m.seq, m.parent_seq, {turn}, {opens}, {before}, m.ordinality"
    " from view_rows p cross join lateral chat.fetch_context(%s, null, {page}, p.before)"
    " with ordinality m where p.n = 1)"
    " select coalesce(pg_catalog.array_agg(v.seq order by v.seq), '{{}}'),"
    " coalesce(pg_catalog.array_agg(v.parent_seq order by v.seq), '{{}}'),"
    " coalesce(pg_catalog.array_agg(v.opens_summary order by v.seq), '{{}}')"
    " from view_rows v where v.turn"
).format(turn=TURN, before=BEFORE, page=sql.Literal(PAGE),
         opens=sql.SQL("coalesce(m.summary_from is not null and m.parent_seq = m.summary_through, false)"))

# The tree of a conversation in one statement: every message of every branch (chat.fetch_log, in pages by seq, each
# full page's last row the next one's after_seq), as three arrays by seq (seq, parent_seq, whether it is a turn), and
# the head, read in the same snapshot. Parameters: the conversation, three times.
TREE = sql.SQL(
    "with recursive log (seq, parent_seq, turn, n) as ("
    " select m.seq, m.parent_seq, {turn}, m.ordinality"
    " from chat.fetch_log(%s, 0, {page}) with ordinality m"
    " union all"
    " select m.seq, m.parent_seq, {turn}, m.ordinality"
    " from log p cross join lateral chat.fetch_log(%s, p.seq, {page}) with ordinality m"
    " where p.n = {page})"
    " select coalesce(pg_catalog.array_agg(l.seq order by l.seq), '{{}}'),"
    " coalesce(pg_catalog.array_agg(l.parent_seq order by l.seq), '{{}}'),"
    " coalesce(pg_catalog.array_agg(l.turn order by l.seq), '{{}}'),"
    " (select c.head_seq from chat.get_conversation(%s) c)"
    " from log l"
).format(turn=TURN, page=sql.Literal(PAGE))

# A branch's first item, a new version of the user message it replaces (beside it, the head), and the rest after it.
EDIT = "select * from chat.edit_message(%s, %s, %s, %s, null)"
APPEND = "select * from chat.append_messages(%s, %s)"


class BranchPoint(NamedTuple):
    """A branch created and not yet written (``ChatStoreSession.branch_point``): from ``turn``, whose user message
    is ``seq``; the next ``add_items`` stores its first item as a new version of that message. ``parent_seq``: the
    message it follows (None for a conversation's first)."""

    turn: int
    seq: int
    parent_seq: int | None


class _Page(NamedTuple):
    """A page of the model's view: its items, ascending, how many they are, and the ``before_seq`` that reads the
    view before it (None when the page is empty; 1 or less when nothing is before it)."""

    items: list[Any]
    size: int
    before: int | None


class NoSessionUser(LookupError):
    """The session has no user to act for: none was given, and the run's context holds none."""

    def __init__(self) -> None:
        super().__init__(
            "ChatStoreSession has no user to act for: pass user=User(...) to ChatStoreSession, or run the agent "
            "with context=User(...) or a context object whose .user is a User (Runner.run(..., context=...))")


class ItemNotStorable(ValueError):
    """An item the database would refuse; nothing of its batch was stored."""

    def __init__(self, index: int, kind: str, reason: str) -> None:
        super().__init__(f"items[{index}] ({kind}): {reason}; nothing of the batch was stored")
        self.index = index
        self.kind = kind
        self.reason = reason


class TooManyItems(ValueError):
    """More items than one transaction stores (``add_items``, or a compaction's replacement); nothing was
    stored."""

    def __init__(self, count: int, operation: str = "add_items") -> None:
        advice = ": add them in batches" if operation == "add_items" else ""
        super().__init__(f"{operation} stores at most {MAX_BATCH} items at a time (one transaction), not {count}; "
                         f"nothing was stored{advice}")
        self.count = count


class BranchStartsWithUserMessage(ValueError):
    """A branch's first item is the new version of the user message it replaces, so it must be a user message;
    nothing was stored, and the branch point stays."""

    def __init__(self, point: BranchPoint, kind: str) -> None:
        super().__init__(f"the branch from turn {point.turn} starts with a new version of that turn's user message "
                         f"(message {point.seq}): the first item added must be a user message "
                         f"({{'role': 'user', 'content': ...}}), not {kind}; nothing was stored, the branch point "
                         f"stays")
        self.point = point


class NotNewestItem(RuntimeError):
    """``pop_item`` removes only the conversation's newest message, and the active branch ends at an older one;
    nothing was removed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class EmptyCompaction(ValueError):
    """A replacement of the whole history by no item: a summary is the rows that stand in for the history, and no
    row cannot. Nothing was written; the history is as it was."""

    def __init__(self) -> None:
        super().__init__("a compaction that leaves no item cannot replace the history: a summary needs at least one "
                         "item to stand in for it; nothing was written, the history is as it was")


class ChatStoreSession:
    """The history of one conversation as an Agents SDK session (see the module's docstring)."""

    def __init__(self, store: ChatStore, conversation_id: UUID | str, user: User | None = None, *,
                 session_settings: SessionSettings | Mapping[str, Any] | None = None,
                 max_tokens: int | None = None) -> None:
        if user is not None and not isinstance(user, User):
            raise TypeError(f"user must be an app.identity.User, not {type(user).__name__}")
        if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)):
            raise TypeError(f"max_tokens must be an int or None, not {type(max_tokens).__name__}")
        if max_tokens is not None and not 0 <= max_tokens <= MAX_TOKENS:
            raise ValueError(f"max_tokens must be from 0 to {MAX_TOKENS}, not {max_tokens}")
        self.store = store
        self.conversation_id = conversation_id if isinstance(conversation_id, UUID) else UUID(conversation_id)
        self.session_id = str(self.conversation_id)
        self.user = user
        self.session_settings: SessionSettings | None = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings())
        # the budget of get_items, in tokens (chat.messages.tokens); None: none
        self.max_tokens = max_tokens
        # a branch created by create_branch_from_turn and not yet written: kept by this object, as the SDK's
        # AdvancedSQLiteSession keeps its current branch (see create_branch_from_turn); None: the active path
        self.branch_point: BranchPoint | None = None

    def __repr__(self) -> str:
        return f"ChatStoreSession(conversation_id={self.session_id!r})"

    def _user(self, wrapper: RunContextWrapper[Any] | None) -> User:
        """The user to act for: the constructor's, else the run context's; else NoSessionUser."""
        if self.user is not None:
            return self.user
        context = getattr(wrapper, "context", None)
        if isinstance(context, User):
            return context
        candidate = getattr(context, "user", None)
        if isinstance(candidate, User):
            return candidate
        raise NoSessionUser()

    # reading

    async def get_items(self, limit: int | None = None, *,
                        wrapper: RunContextWrapper[Any] | None = None) -> list[TResponseInputItem]:
        """The model's view of the history, oldest first: the latest ``limit`` items (``None``:
        ``session_settings.limit``, and when that is unset too, everything; 0 or less: none); with ``max_tokens``,
        the newest of them that fit it, at most 1000.

        One call for a budget, for any ``limit`` up to 1000, and for a whole view of up to 1000 items: one
        transaction, one consistent snapshot. A longer one is read back from the newest in pages of at most 1000
        rows, each page its own transaction, so an item added, popped, cleared or compacted by someone else while
        it is read may show or not. Never duplicated nor out of order: each page is the view before the one read
        after it.
        """
        user = self._user(wrapper)
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        if limit is not None and limit <= 0:
            return []
        before = self.branch_point.seq if self.branch_point is not None else None
        if self.max_tokens is not None:
            return (await self._page(user, self.max_tokens, min(limit or PAGE, PAGE), before)).items
        return await self._read_view(user, limit, before)

    async def _read_view(self, user: User, limit: int | None,
                         before: int | None = None) -> list[TResponseInputItem]:
        """The latest ``limit`` items of the model's view (None: all of it), in pages back from the newest; with
        ``before``, of the view before that message."""
        pages: list[list[TResponseInputItem]] = []
        wanted = limit
        while True:
            count = PAGE if wanted is None else min(wanted, PAGE)
            page = await self._page(user, None, count, before)
            pages.append(page.items)
            if wanted is not None:
                wanted -= page.size
            # a short page is the view's oldest; a page that goes back to the first message is too
            if page.size < count or page.before is None or page.before <= 1 or wanted == 0:
                break
            before = page.before
        return [item for items in reversed(pages) for item in items]

    async def _page(self, user: User, max_tokens: int | None, count: int, before: int | None = None) -> _Page:
        (rows,) = await self.store.run(
            user, Statement(VIEW, [self.conversation_id, max_tokens, count, before]))
        return _Page(*rows[0])

    # writing

    async def add_items(self, items: list[TResponseInputItem], *,
                        wrapper: RunContextWrapper[Any] | None = None) -> None:
        """Stores the items after the history, all or none, in one transaction and one round trip.

        Every item is checked first: one the database would refuse raises ``ItemNotStorable`` naming it,
        and nothing is sent; so does a batch of more than ``MAX_BATCH`` (1000) items (``TooManyItems``).
        An empty list sends nothing.
        """
        user = self._user(wrapper)
        rows = _rows(items, "add_items")
        if rows and self.branch_point is not None and not _is_user_message(items[0]):
            raise BranchStartsWithUserMessage(self.branch_point, _kind(items[0]))
        if rows:
            await to_the_end(self._append(user, rows))

    async def _append(self, user: User, rows: list[dict[str, Any]]) -> list[AppendedMessage]:
        """Stores the rows of one ``add_items`` (one ``append_messages`` call) and returns them as stored; a
        subclass may keep them (``app.agent`` finds the run's final message so), or give a row its count of
        tokens (``row["tokens"]``, a whole number from 0; without it the database estimates it).

        With a branch point pending (``create_branch_from_turn``), the first row is a new version of the turn's
        user message (``chat.edit_message``, which takes no count: the database estimates it) and the rest follow
        it (``chat.append_messages``), two statements of one transaction and one round trip; the branch point is
        then written, and cleared."""
        point = self.branch_point
        if point is None:
            return await self.store.append_messages(user, self.conversation_id, rows)
        first, rest = rows[0], rows[1:]
        statements = [Statement(EDIT, [self.conversation_id, point.seq, first["content"], Jsonb(first["metadata"])],
                                model_row(AppendedMessage))]
        if rest:
            statements.append(Statement(APPEND, [self.conversation_id, Jsonb(rest)], model_row(AppendedMessage)))
        results = await self.store.run(user, *statements)
        if self.branch_point is point:
            self.branch_point = None
        return [row for result in results for row in result]

    async def pop_item(self, *, wrapper: RunContextWrapper[Any] | None = None) -> TResponseInputItem | None:
        """Removes the latest item and returns it; None when the history is empty. The latest item is the
        conversation's last message, a compaction's too: popping the summary gives the model back what it stood
        in for.

        Only the conversation's newest message can go (``chat.pop_message``: seq stays gapless, and the newest
        message is the only one nothing follows for sure). After a switch to an older branch, the active path ends
        at an older message: ``NotNewestItem`` says so, and nothing is removed, rather than removing from another
        branch than the one the model reads or cutting a message out of the middle of the log. The SDK pops only
        what its run added, which is the newest. With a branch point pending, its view's last item has newer
        messages after it: ``NotNewestItem`` too (its view empty, from turn 1: None)."""
        user = self._user(wrapper)
        point = self.branch_point
        if point is not None:
            if point.parent_seq is None:  # the branch's view is empty
                return None
            raise NotNewestItem(
                f"pop_item removes only the conversation's newest message: the branch from turn {point.turn} is "
                f"pending, nothing of it is stored yet, and its last item (message {point.parent_seq}) has newer "
                f"messages after it; nothing was removed. Add the branch's items first, or switch_to_branch")
        try:
            (popped,) = await to_the_end(self.store.run(user, Statement(POP, [self.conversation_id], scalar_row)))
        except psycopg.errors.ObjectNotInPrerequisiteState as error:
            raise NotNewestItem(_not_newest(error)) from error
        return popped[0] if popped else None

    async def clear_session(self, *, wrapper: RunContextWrapper[Any] | None = None) -> None:
        """Removes every item, for the model and for people (the SDK's protocol: an empty session); the
        conversation stays. Compaction never calls it on this session (see the hooks below)."""
        user = self._user(wrapper)
        await to_the_end(self.store.clear_conversation(user, self.conversation_id))
        self.branch_point = None

    # branches, in the spirit of the SDK's AdvancedSQLiteSession (see the module's docstring)

    async def create_branch_from_turn(self, turn_number: int, *,
                                      wrapper: RunContextWrapper[Any] | None = None) -> int:
        """A branch from turn ``turn_number`` (1-based: the n-th user message of ``get_items()``, as the SDK's
        ``AdvancedSQLiteSession`` numbers its turns) that holds what came before that turn; returns its id, the
        seq of the user message it replaces.

        Nothing is written yet: the branch point lives on this object (``branch_point``), as
        ``AdvancedSQLiteSession`` keeps its current branch on its own. Until it is written, ``get_items`` is the
        model's view before that message; the next ``add_items`` (a run's, whose first item is the new input)
        writes it: its first item, which must be a user message (``BranchStartsWithUserMessage`` otherwise, and
        nothing stored), becomes a new version of the turn's message (beside it: the same parent), the rest follow
        it, in one transaction; the conversation's head is then the branch's last item, and the branch the active
        path, for every session and for people. The old version and what followed it stay, a branch to switch
        back to. ``switch_to_branch`` and ``clear_session`` drop a pending branch point; another
        ``create_branch_from_turn`` replaces it (its turns are numbered in the pending branch's view).

        One call: the view's turns are read in one statement. ``ValueError`` naming ``turn_number`` when the view
        has no such turn, or when that turn's message is the first row of a compaction summary (a new version of
        it would bring back, for the model, the messages the summary stands in for); ``TypeError`` when it is not
        an int. The branch point holds for this object only: another session object (another request) sees the
        active path.
        """
        user = self._user(wrapper)
        if not isinstance(turn_number, int) or isinstance(turn_number, bool):
            raise TypeError(f"turn_number must be an int, not {type(turn_number).__name__}")
        if turn_number < 1:
            raise ValueError(f"turn_number must be 1 or more (turns are numbered from 1), not {turn_number}")
        point = self.branch_point
        (rows,) = await self.store.run(user, Statement(
            TURNS, [self.conversation_id, point.seq if point is not None else None, self.conversation_id]))
        seqs, parents, opens_summary = rows[0]
        if turn_number > len(seqs):
            raise ValueError(f"turn_number {turn_number} is no turn of this session: it has {len(seqs)} turn"
                             f"{'' if len(seqs) == 1 else 's'} (user messages)")
        index = turn_number - 1
        if opens_summary[index]:
            raise ValueError(f"turn_number {turn_number} cannot be branched from: its user message "
                             f"(message {seqs[index]}) opens a compaction summary, and a new version of it would "
                             f"bring back the messages the summary stands in for; branch from a later turn")
        self.branch_point = BranchPoint(turn_number, seqs[index], parents[index])
        return seqs[index]

    async def switch_to_branch(self, branch_id: int, *, wrapper: RunContextWrapper[Any] | None = None) -> None:
        """Makes the branch of message ``branch_id`` the active path (``chat.switch_branch``): the conversation's
        head becomes the newest leaf under that message, for every session and for people; a run then continues
        it. ``branch_id`` is any message of the conversation: a ``list_branches()`` entry's ``branch_id`` goes to
        that branch's leaf, and the id ``create_branch_from_turn`` returned goes back to the branch it left. A
        pending branch point is dropped. One call. ``ValueError`` naming ``branch_id`` when it is no message of the
        conversation (nothing changes), ``TypeError`` when it is not an int."""
        user = self._user(wrapper)
        if not isinstance(branch_id, int) or isinstance(branch_id, bool):
            raise TypeError(f"branch_id must be an int (a message's seq), not {type(branch_id).__name__}")
        if branch_id < 1:
            raise ValueError(f"branch_id must be a message's seq, 1 or more, not {branch_id}")
        try:
            await to_the_end(self.store.switch_branch(user, self.conversation_id, branch_id))
        except psycopg.errors.InvalidParameterValue as error:
            raise ValueError(f"branch_id {branch_id} is no message of this conversation; nothing changed") from error
        self.branch_point = None

    async def list_branches(self, *, wrapper: RunContextWrapper[Any] | None = None) -> list[dict[str, Any]]:
        """The conversation's branches, one per leaf of its tree, by ``branch_id``: dicts of

        - ``branch_id``: where it departs from another branch, the first message of its own (the nearest message
          on its path, from its leaf up, that has another version beside it; for a conversation never branched,
          its first message): ``switch_to_branch(branch_id)`` makes it the active path;
        - ``leaf_seq``: its last message;
        - ``item_count``: the messages on its path, from the first (people's count: with a compaction, the
          summary's rows and the messages it stands in for);
        - ``user_turns``: the user messages among them;
        - ``is_current``: whether it is the active path (the conversation's head). A pending branch point
          (``branch_point``) is this object's, not stored, and not listed.

        When the head is not a leaf (``pop_item`` removed a new version, and the head went back to the message it
        followed, which older versions follow), the active path is listed too, with ``branch_id`` None: no switch
        comes back to it, the next ``add_items`` goes on from it. An empty conversation has none.

        One call: the whole tree in one statement (``chat.fetch_log`` read in pages of 1000 within it), three
        numbers a message; its time grows with the conversation's messages, of every branch.
        """
        user = self._user(wrapper)
        (rows,) = await self.store.run(user, Statement(TREE, [self.conversation_id] * 3))
        seqs, parents, turns, head = rows[0]
        return _branches(seqs, parents, turns, head)

    # the SDK's compaction hooks (private to the SDK, pinned: see the module's docstring)

    async def _get_compaction_snapshot(
        self, limit: int, *, prune_prefix: Callable[[TResponseInputItem], bool] | None = None,
    ) -> _CompactionSnapshot:
        """The latest ``limit`` items of the model's view (no budget), read in one call with one more row, which
        tells whether they are the whole view (``complete``); and ``replace_suffix(start, output)``, which puts
        ``output`` in place of the items from ``start`` on, atomically, or refuses.

        ``replace_suffix`` is one ``chat.compact_messages``: ``output``'s items, built and checked as
        ``add_items`` builds them, are appended as a summary that stands in, for the model, for the messages
        from the snapshot's item ``start`` through its last; people keep every message. It names the snapshot's
        last message: when that is no longer the conversation's last (anything was added, popped, cleared or
        compacted since), nothing is written and it returns False, as when ``start`` leaves nothing to replace
        or ``output`` is empty (a summary of no row cannot stand in for anything; the SDK then keeps the history
        as it is). True when the summary was written.

        At most 1000 rows are read: for a ``limit`` of 1000 or more, the latest 1000, complete only when they are
        the whole view. It reads the active path: a pending branch point (``create_branch_from_turn``) is not
        stored yet, and stays valid after a compaction (its message keeps its place).

        ``prune_prefix`` (the SDK's encrypted session asks that the expired items before the suffix be deleted
        in the same transaction) is accepted and not acted on: nothing is ever deleted from a conversation,
        people keep its history, and the encrypted session hides expired items from the model when it reads
        them. Returning None instead would not be safe: the SDK would fall back to replacing the whole history
        through the encrypted session, whose type has no atomic replacement, that is ``clear_session()`` and
        ``add_items()``, which deletes the history people read.
        """
        del prune_prefix  # see the docstring: accepted, not acted on
        user = self._user(None)
        count = max(1, min(limit + 1, PAGE))
        (rows,) = await self.store.run(user, Statement(SNAPSHOT, [self.conversation_id, count]))
        items, seqs, last_id = rows[0]
        complete = len(items) < count
        kept = max(0, len(items) - max(limit, 0))
        items, seqs = items[kept:], seqs[kept:]

        async def replace_suffix(start: int, output: list[TResponseInputItem]) -> bool:
            if not 0 <= start < len(seqs) or not output:
                return False
            messages = _rows(output, "a compaction's replacement")
            written = await to_the_end(self.store.compact_messages(
                user, self.conversation_id, seqs[start], messages, through_id=last_id))
            return bool(written)

        return _CompactionSnapshot(items, complete, replace_suffix)

    async def _atomic_replace_items(self, items: list[TResponseInputItem]) -> bool:
        """Replaces the whole model's view with ``items`` in one transaction (the SDK's manual
        ``run_compaction``): one ``chat.compact_messages`` from the first message, a summary that stands in for
        every message before it; people keep them all. Not checked against a tail (as the SDK's own whole-history
        replacements are not): a message appended meanwhile is covered too. True.

        ``items`` empty raises ``EmptyCompaction`` and writes nothing: a summary is rows, and no row cannot stand
        in for the history; returning False would have the SDK fall back to ``clear_session()`` and
        ``add_items()``, deleting the history people read, which this session never lets a compaction do. The
        conversation empty is refused by the database (22023: nothing to stand in for)."""
        user = self._user(None)
        if not items:
            raise EmptyCompaction()
        messages = _rows(items, "a compaction's replacement")
        await to_the_end(self.store.compact_messages(user, self.conversation_id, 1, messages))
        return True


# branches

def _branches(seqs: Sequence[int], parents: Sequence[int | None], turns: Sequence[bool],
              head: int | None) -> list[dict[str, Any]]:
    """The branches of a tree given by seq (ascending) and parent_seq (a parent's seq is less than its children's),
    one per leaf; see ``ChatStoreSession.list_branches``."""
    children: dict[int | None, int] = {}
    for parent in parents:
        children[parent] = children.get(parent, 0) + 1
    depth: dict[int, int] = {}
    user_turns: dict[int, int] = {}
    departs: dict[int, int] = {}  # the nearest message from it up with another version beside it (else the first)
    for seq, parent, turn in zip(seqs, parents, turns, strict=True):
        depth[seq] = depth.get(parent, 0) + 1 if parent is not None else 1
        user_turns[seq] = (user_turns[parent] if parent is not None else 0) + bool(turn)
        departs[seq] = seq if parent is None or children[parent] > 1 else departs[parent]

    def branch(branch_id: int | None, leaf: int) -> dict[str, Any]:
        return {"branch_id": branch_id, "leaf_seq": leaf, "item_count": depth[leaf], "user_turns": user_turns[leaf],
                "is_current": leaf == head}

    branches = sorted((branch(departs[seq], seq) for seq in seqs if seq not in children),
                      key=lambda entry: entry["branch_id"])
    if head is not None and head in children:
        branches.append(branch(None, head))
    return branches


def _not_newest(error: psycopg.Error) -> str:
    """What a person reads when ``pop_item`` is refused because the head is not the newest message (55000)."""
    found = re.search(r"message (\d+), is not the conversation's newest message \((\d+)\)",
                      error.diag.message_primary or "")
    where = (f" (message {found[1]}; the newest is message {found[2]})" if found else "")
    return (f"pop_item removes only the conversation's newest message, and the active branch ends at an older "
            f"one{where}: nothing was removed. Another branch has messages added after it: switch_to_branch to "
            f"that one first, or add items to this branch, whose newest is then the conversation's")


def _is_user_message(item: Any) -> bool:
    """A user message, as the SDK's AdvancedSQLiteSession tells one (a turn): an item of role "user"."""
    return isinstance(item, Mapping) and item.get("role") == "user" and _role(item) == "user"


# items and rows

def _rows(items: Sequence[Any], operation: str) -> list[dict[str, Any]]:
    """The message rows of a batch of items (one transaction's worth), checked against the database's limits."""
    if len(items) > MAX_BATCH:
        raise TooManyItems(len(items), operation)
    return [_row(index, item) for index, item in enumerate(items)]


def _row(index: int, item: Any, tokens: int | None = None) -> dict[str, Any]:
    """The message row of one item, checked against the database's limits; with ``tokens``, the item's count
    (without, the database estimates it)."""
    kind = _kind(item)
    if not isinstance(item, Mapping):
        raise ItemNotStorable(index, kind, f"an item must be a JSON object (a dict), not {type(item).__name__}")
    metadata = {ITEM_KEY: item}
    try:
        storable_json(metadata)
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise ItemNotStorable(index, kind, f"not storable as JSON: {error}") from error
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_METADATA:
        raise ItemNotStorable(index, kind, f"its metadata would be {size} bytes as JSON text, more than the "
                                           f"{MAX_MESSAGE_METADATA} bytes a message's metadata may hold")
    row = {"role": _role(item), "content": _readable(item)[:MAX_CONTENT], "metadata": metadata}
    if tokens is not None:
        row["tokens"] = tokens
    return row


def _kind(item: Any) -> str:
    """What an item is, for roles and errors: its ``type``, or ``message`` for a role-and-content one."""
    if isinstance(item, Mapping):
        kind = item.get("type")
        if isinstance(kind, str) and kind:
            return kind
        if "role" in item:
            return "message"
        return "item"
    return type(item).__name__


def _role(item: Mapping[str, Any]) -> str:
    kind = _kind(item)
    if kind == "message":
        role = item.get("role")
        if role == "user":
            return "user"
        if role in ("system", "developer"):
            return "system"
        return "assistant"
    if kind.endswith("_output"):
        return "tool"
    if kind == "mcp_approval_response":
        return "user"
    return "assistant"


def _readable(item: Mapping[str, Any]) -> str:
    """A text a person can read in place of the item; never fails."""
    try:
        return _describe(item)
    except (AttributeError, KeyError, TypeError, ValueError):  # a shape this does not know: stored, named by kind
        return f"[{_kind(item)}]"


def _describe(item: Mapping[str, Any]) -> str:
    kind = _kind(item)
    if kind == "message":
        return _text(item.get("content"))
    if kind in ("function_call", "mcp_call", "custom_tool_call"):
        name = item.get("name") or "tool"
        if kind == "mcp_call" and item.get("server_label"):
            name = f"{item['server_label']}.{name}"
        arguments = item.get("input") if kind == "custom_tool_call" else item.get("arguments")
        return f"{name}({_text(arguments)})"
    if kind.endswith("_output"):
        return _text(item.get("output"))
    if kind in ("reasoning", "compaction"):
        summary = _text(item.get("summary")) or _text(item.get("content"))
        return summary or f"[{kind}]"
    if kind == "web_search_call":
        action = item.get("action") or {}
        detail = action.get("query") or action.get("url") or action.get("pattern")
        return f"web search: {_text(detail)}" if detail else "web search"
    if kind == "file_search_call":
        queries = ", ".join(str(query) for query in item.get("queries") or ())
        return f"file search: {queries}" if queries else "file search"
    if kind == "code_interpreter_call":
        return f"code interpreter: {item['code']}" if item.get("code") else "code interpreter"
    if kind in ("local_shell_call", "shell_call"):
        action = item.get("action") or {}
        command = action.get("command") or action.get("commands") or ""
        command = " ".join(command) if isinstance(command, list) else str(command)
        return f"shell: {command}" if command else "shell"
    if kind == "mcp_approval_request":
        return f"approval requested: {item.get('server_label', '')}.{item.get('name', '')}"
    if kind == "mcp_approval_response":
        return "approved" if item.get("approve") else "declined"
    return f"[{kind.replace('_', ' ')}]"


def _text(value: Any) -> str:
    """The text of a content value: a string, or the texts of its parts joined by new lines."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return "\n".join(text for part in value if (text := _part(part)))
    if isinstance(value, Mapping):
        return _part(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return str(part)
    for key in ("text", "refusal", "summary"):
        if isinstance(part.get(key), str):
            return part[key]
    kind = str(part.get("type") or "part")
    if kind in ("input_image", "output_image", "computer_screenshot"):
        return "[image]"
    if kind == "input_file":
        return f"[file {part['filename']}]" if part.get("filename") else "[file]"
    if kind == "input_audio":
        return "[audio]"
    return json.dumps(part, ensure_ascii=False, default=str)
