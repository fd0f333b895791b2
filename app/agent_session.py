"""Agent session memory over the store: the OpenAI Agents SDK's ``Session`` protocol on ``chat.messages``.

``ChatStoreSession(store, conversation_id, user=None, *, session_settings=None)`` keeps an agent's
history in one conversation of one user, so that a stateless backend can run ``Runner.run(agent, …,
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

Rows written otherwise (through the HTTP API, or ``ChatStore.append_message``) carry no item; they come
back as plain messages ``{"role": role, "content": content}``, and a ``tool`` row, whose role is not one
a model takes as input and which has no call to answer, as ``{"role": "assistant", "content": …}``: the
text the assistant's side of the conversation produced, never promoted to ``system`` nor put in the
user's mouth.

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
batch of more than 1000 items, what one ``append_messages`` takes); a conversation that
is missing or someone else's raises the store's ``psycopg.errors.NoDataFound`` (P0002) from every method,
the same for both, so that existence does not leak; and whatever else the store raises, unchanged.

A mutation (``add_items``, ``pop_item``, ``clear_session``) that has been sent runs to its end even when
the caller is cancelled; the cancellation is raised once its outcome is known, so a cancelled call has
either done all of its work or none of it, never left it in flight.

The core store (``app.store``) imports without the SDK; only this module needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from agents.memory import SessionSettings
from agents.memory.session_settings import coerce_session_settings
from psycopg import sql
from psycopg.rows import scalar_row

from app.identity import User
from app.models import MAX_CONTENT, MAX_MESSAGE_METADATA, AppendedMessage, storable_json
from app.store import ChatStore
from app.transport import Statement, to_the_end

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.run_context import RunContextWrapper

__all__ = ["ITEM_KEY", "MAX_BATCH", "ChatStoreSession", "ItemNotStorable", "NoSessionUser", "TooManyItems"]

# The key of a message's metadata that holds the item.
ITEM_KEY = "agents_item"

# The most rows one read asks for (the SQL functions take 1..1000).
PAGE = 1000
# The most items one add_items stores: chat.append_messages takes 1..1000 messages.
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


def _page(rows: str) -> sql.Composed:
    """A page of items as one row: their JSON array, ascending (one text that psycopg's JSON loader decodes in
    one call, where a row per item costs a call and a row's overhead each), how many they are, the seq of the
    first and of the last. ``rows`` is the FROM clause, naming the messages ``m``."""
    return sql.SQL(
        "select coalesce(pg_catalog.json_agg({item} order by m.seq), '[]'), pg_catalog.count(*),"
        " pg_catalog.min(m.seq), pg_catalog.max(m.seq) from {rows}"
    ).format(item=ITEM, rows=sql.SQL(rows))


# The latest rows; the rows after a seq; the rows after a seq and before another.
LATEST = _page("chat.fetch_recent(%s, %s) m")
AFTER = _page("chat.fetch_messages(%s, %s, %s) m")
BETWEEN = _page("chat.fetch_messages(%s, %s, %s) m where m.seq < %s")
# How many rows the conversation has: with seq gapless, the seq of its last row.
COUNT = "select m.message_count from chat.get_conversation(%s) m"
POP = sql.SQL("select {item} from chat.pop_message(%s) m").format(item=ITEM)


class _Page(NamedTuple):
    """A page of the history: its items, ascending, how many they are, and the seq of the first and of the last
    (None when it is empty)."""

    items: list[Any]
    size: int
    first: int | None
    last: int | None


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
    """More items than one transaction of ``add_items`` stores; nothing was stored."""

    def __init__(self, count: int) -> None:
        super().__init__(f"add_items stores at most {MAX_BATCH} items at a time (one transaction), not {count}; "
                         "nothing was stored: add them in batches")
        self.count = count


class ChatStoreSession:
    """The history of one conversation as an Agents SDK session (see the module's docstring)."""

    def __init__(self, store: ChatStore, conversation_id: UUID | str, user: User | None = None, *,
                 session_settings: SessionSettings | Mapping[str, Any] | None = None) -> None:
        if user is not None and not isinstance(user, User):
            raise TypeError(f"user must be an app.identity.User, not {type(user).__name__}")
        self.store = store
        self.conversation_id = conversation_id if isinstance(conversation_id, UUID) else UUID(conversation_id)
        self.session_id = str(self.conversation_id)
        self.user = user
        self.session_settings: SessionSettings | None = (
            coerce_session_settings(session_settings) if session_settings is not None else SessionSettings())

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
        """The history, oldest first: the latest ``limit`` items (``None``: ``session_settings.limit``,
        and when that is unset too, everything; 0 or less: none).

        One call for any ``limit`` up to 1000, and for a whole history of up to 1000 items: one transaction, one
        consistent snapshot. A longer one is read in pages of at most 1000 rows, each page its own transaction,
        so an item added, popped or cleared by someone else while it is read may show or not. Never duplicated
        nor out of order: pages are stitched by ``seq``.
        """
        user = self._user(wrapper)
        if limit is None and self.session_settings is not None:
            limit = self.session_settings.limit
        if limit is not None and limit <= 0:
            return []
        return await (self._read_all(user) if limit is None else self._read_latest(user, limit))

    async def _read_all(self, user: User) -> list[TResponseInputItem]:
        # the first page and the count in one round trip: a history that fits one page takes one call
        rows, count = await self.store.run(user, Statement(AFTER, [self.conversation_id, 0, PAGE]),
                                           Statement(COUNT, [self.conversation_id], scalar_row))
        page = _Page(*rows[0])
        items = page.items
        while page.size == PAGE and count and page.last < count[0]:
            page = await self._page(user, AFTER, page.last, PAGE)
            items.extend(page.items)
        return items

    async def _read_latest(self, user: User, limit: int) -> list[TResponseInputItem]:
        tail = await self._page(user, LATEST, min(limit, PAGE))
        if limit <= PAGE or tail.size < PAGE:
            return tail.items
        # seq numbers the messages 1..n without a gap: the latest ``limit`` start after n - limit
        items: list[TResponseInputItem] = []
        after = max(0, tail.last - limit)
        while after < tail.first - 1:
            page = await self._page(user, BETWEEN, after, min(PAGE, tail.first - 1 - after), tail.first)
            items.extend(page.items)
            if not page.size:
                break
            after = page.last
        return (items + tail.items)[-limit:]

    async def _page(self, user: User, query: sql.Composed, *params: Any) -> _Page:
        (rows,) = await self.store.run(user, Statement(query, [self.conversation_id, *params]))
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
        if len(items) > MAX_BATCH:
            raise TooManyItems(len(items))
        rows = [_row(index, item) for index, item in enumerate(items)]
        if rows:
            await to_the_end(self._append(user, rows))

    async def _append(self, user: User, rows: list[dict[str, Any]]) -> list[AppendedMessage]:
        """Stores the rows of one ``add_items`` (one ``append_messages`` call) and returns them as stored; a
        subclass may keep them (``app.agent`` finds the run's final message so)."""
        return await self.store.append_messages(user, self.conversation_id, rows)

    async def pop_item(self, *, wrapper: RunContextWrapper[Any] | None = None) -> TResponseInputItem | None:
        """Removes the latest item and returns it; None when the history is empty."""
        user = self._user(wrapper)
        (popped,) = await to_the_end(self.store.run(user, Statement(POP, [self.conversation_id], scalar_row)))
        return popped[0] if popped else None

    async def clear_session(self, *, wrapper: RunContextWrapper[Any] | None = None) -> None:
        """Removes every item; the conversation stays."""
        user = self._user(wrapper)
        await to_the_end(self.store.clear_conversation(user, self.conversation_id))


# items and rows

def _row(index: int, item: Any) -> dict[str, Any]:
    """The message row of one item, checked against the database's limits."""
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
    return {"role": _role(item), "content": _readable(item)[:MAX_CONTENT], "metadata": metadata}


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
