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

Errors: ``NoSessionUser`` (no user), ``ItemNotStorable`` (an item over the limits), ``TooManyItems`` (a
batch of more than 1000 items, what one ``append_messages`` takes), ``EmptyCompaction`` (a whole-view
replacement by no item); a conversation that is missing or someone else's raises the store's
``psycopg.errors.NoDataFound`` (P0002) from every method, the same for both, so that existence does not
leak; and whatever else the store raises, unchanged.

A mutation (``add_items``, ``pop_item``, ``clear_session``, a compaction's replacement) that has been sent
runs to its end even when the caller is cancelled; the cancellation is raised once its outcome is known,
so a cancelled call has either done all of its work or none of it, never left it in flight.

The core store (``app.store``) imports without the SDK; only this module needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from agents.memory import SessionSettings
from agents.memory.session import _CompactionSnapshot
from agents.memory.session_settings import coerce_session_settings
from psycopg import sql
from psycopg.rows import scalar_row

from app.identity import User
from app.models import MAX_CONTENT, MAX_MESSAGE_METADATA, MAX_TOKENS, AppendedMessage, storable_json
from app.store import ChatStore
from app.transport import Statement, to_the_end

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.run_context import RunContextWrapper

__all__ = ["ITEM_KEY", "MAX_BATCH", "ChatStoreSession", "EmptyCompaction", "ItemNotStorable", "NoSessionUser",
           "TooManyItems"]

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
        if self.max_tokens is not None:
            return (await self._page(user, self.max_tokens, min(limit or PAGE, PAGE))).items
        return await self._read_view(user, limit)

    async def _read_view(self, user: User, limit: int | None) -> list[TResponseInputItem]:
        """The latest ``limit`` items of the model's view (None: all of it), in pages back from the newest."""
        pages: list[list[TResponseInputItem]] = []
        wanted = limit
        before: int | None = None
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
        if rows:
            await to_the_end(self._append(user, rows))

    async def _append(self, user: User, rows: list[dict[str, Any]]) -> list[AppendedMessage]:
        """Stores the rows of one ``add_items`` (one ``append_messages`` call) and returns them as stored; a
        subclass may keep them (``app.agent`` finds the run's final message so), or give a row its count of
        tokens (``row["tokens"]``, a whole number from 0; without it the database estimates it)."""
        return await self.store.append_messages(user, self.conversation_id, rows)

    async def pop_item(self, *, wrapper: RunContextWrapper[Any] | None = None) -> TResponseInputItem | None:
        """Removes the latest item and returns it; None when the history is empty. The latest item is the
        conversation's last message, a compaction's too: popping the summary gives the model back what it stood
        in for."""
        user = self._user(wrapper)
        (popped,) = await to_the_end(self.store.run(user, Statement(POP, [self.conversation_id], scalar_row)))
        return popped[0] if popped else None

    async def clear_session(self, *, wrapper: RunContextWrapper[Any] | None = None) -> None:
        """Removes every item, for the model and for people (the SDK's protocol: an empty session); the
        conversation stays. Compaction never calls it on this session (see the hooks below)."""
        user = self._user(wrapper)
        await to_the_end(self.store.clear_conversation(user, self.conversation_id))

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
        the whole view.

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
