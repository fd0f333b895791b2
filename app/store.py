"""The Python layer: typed async calls of the SQL functions of schema ``chat``.

Each call is one operation of ``app.transport``: one transaction on one pooled connection, in one network
round trip, acting as the user it is given. The reads that take ``replica`` may be answered by a read
replica (``app.replica``).

The database decides everything: a conversation that is missing or someone
else's raises ``psycopg.errors.NoDataFound`` (P0002), a reused
``client_msg_id`` ``psycopg.errors.UniqueViolation`` (23505), bad input a
``psycopg.DataError`` or ``psycopg.IntegrityError`` (class 22/23).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from psycopg import sql
from psycopg.rows import dict_row, scalar_row
from psycopg.types.json import Jsonb

from app.events import Event
from app.identity import User
from app.models import AppendedMessage, ContextMessage, Conversation, Message, Role, Task
from app.replica import Replica
from app.transport import Statement, Transport, model_row

# The fields of a task that update_task sets (chat_app may update these columns only).
TASK_FIELDS = frozenset({"title", "description", "completed"})


def positioned(call: str, positions: bool = True, only: str = "true") -> str:
    """A query of the rows of ``call`` (a function of messages), in its order, each with its place among its
    versions (``sibling_index`` of ``sibling_count``, read in the same statement), where ``only`` holds; without
    ``positions``, the rows alone."""
    if not positions:
        return f"select * from {call}"
    return (f"select m.*, p.sibling_index, p.sibling_count from {call} with ordinality m"
            " left join lateral chat_private.sibling_position(m.conversation_id, m.seq, m.parent_seq) p"
            f" on {only} order by m.ordinality")


@dataclass(frozen=True)
class TurnStart:
    """What ``chat.begin_turn`` decided about a user's message.

    ``run``: the turn is this caller's to answer, as ``attempt``, from ``history`` (the conversation's last
    messages, ascending); ``done``: a retry of a turn whose ``reply`` is stored; ``running``: a retry while
    another attempt answers, whose lease runs ``retry_after`` more.
    """

    state: Literal["run", "running", "done"]
    user_message: AppendedMessage
    attempt: UUID | None = None
    history: list[Message] = field(default_factory=list)
    reply: Message | None = None
    retry_after: timedelta | None = None

    @property
    def conversation_id(self) -> UUID:
        return self.user_message.conversation_id

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]]) -> TurnStart:
        """From the rows of ``chat.begin_turn``: the user message first, then the reply or the history."""
        def as_(model, row):  # built without validation, as model_row does: PostgreSQL has checked them
            return model.model_construct(**{name: row[name] for name in model.model_fields})

        first, rest = rows[0], rows[1:]
        return cls(state=first["state"], attempt=first["attempt"], retry_after=first["retry_after"],
                   user_message=as_(AppendedMessage, first),
                   history=[as_(Message, row) for row in rest if row["part"] == "history"],
                   reply=next((as_(Message, row) for row in rest if row["part"] == "reply"), None))


class ChatStore(Transport):
    """The SQL API of one database, for any number of users, over one pool (and a read replica's, when there is
    one): see ``app.transport`` for how each call reaches the database.

    A user is provisioned by the first call this store makes for them, and by every call that creates a
    conversation (so that a user deleted through another process comes back where it matters).
    """

    async def _one(self, user: User, statement: Statement, **kwargs) -> Any:
        (rows,) = await self._run(user, statement, **kwargs)
        return rows[0] if rows else None

    # users

    async def provision_user(self, user: User) -> None:
        """Makes the user's row if it is missing."""
        await self._run(user, provision=True)

    async def delete_user(self, user: User) -> bool:
        """Deletes the user and, by cascade, everything of theirs; True if there was a row."""
        self._forget(user.id)
        return await self._one(user, Statement("select chat.delete_user()", [], scalar_row), provision=False)

    # conversations

    async def create_conversation(self, user: User, title: str | None = None,
                                  metadata: dict[str, Any] | None = None) -> Conversation:
        return await self._one(user, Statement(
            "select * from chat.create_conversation(%s, %s)", [title, Jsonb(metadata or {})],
            model_row(Conversation)), provision=self.provision)

    async def list_conversations(self, user: User, limit: int = 20, before: tuple[datetime, UUID] | None = None,
                                 *, replica: Replica | None = None) -> list[Conversation]:
        """Newest activity first; ``before`` is the (updated_at, id) of the last row of the previous page."""
        activity, conversation_id = before or (None, None)
        return await self._read(user, Statement(
            "select * from chat.list_conversations(%s, %s, %s)", [limit, activity, conversation_id],
            model_row(Conversation)), replica)

    async def get_conversation(self, user: User, conversation_id: UUID, *,
                               replica: Replica | None = None) -> Conversation | None:
        rows = await self._read(user, Statement(
            "select * from chat.get_conversation(%s)", [conversation_id], model_row(Conversation)), replica)
        return rows[0] if rows else None

    async def rename_conversation(self, user: User, conversation_id: UUID, title: str | None) -> Conversation:
        return await self._one(user, Statement(
            "select * from chat.rename_conversation(%s, %s)", [conversation_id, title], model_row(Conversation)))

    async def delete_conversation(self, user: User, conversation_id: UUID) -> bool:
        return await self._one(user, Statement(
            "select chat.delete_conversation(%s)", [conversation_id], scalar_row))

    # messages

    async def append_message(self, user: User, conversation_id: UUID, role: Role, content: str,
                             metadata: dict[str, Any] | None = None,
                             client_msg_id: str | None = None, tokens: int | None = None, *,
                             positions: bool = False) -> AppendedMessage:
        """Appends a message; ``tokens`` is the writer's count of its tokens (None: the database estimates it);
        ``positions``: with its place among its versions."""
        return await self._one(user, Statement(
            positioned("chat.append_message(%s, %s, %s, %s, %s, %s)", positions),
            [conversation_id, role, content, Jsonb(metadata or {}), client_msg_id, tokens],
            model_row(AppendedMessage)))

    async def append_messages(self, user: User, conversation_id: UUID,
                              messages: Sequence[Mapping[str, Any]]) -> list[AppendedMessage]:
        """Appends ``messages`` (each ``{role, content, metadata?, client_msg_id?, tokens?}``) with consecutive seq,
        all or none, in one statement; one row per message, in order. An error names the message
        (``messages[3].content``), counted from 0."""
        (rows,) = await self._run(user, Statement(
            "select * from chat.append_messages(%s, %s)", [conversation_id, Jsonb(list(messages))],
            model_row(AppendedMessage)))
        return rows

    async def pop_message(self, user: User, conversation_id: UUID) -> Message | None:
        """Removes the conversation's last message and returns it; None when it has none."""
        return await self._one(user, Statement(
            "select * from chat.pop_message(%s)", [conversation_id], model_row(Message)))

    async def clear_conversation(self, user: User, conversation_id: UUID) -> int:
        """Removes every message of the conversation, which stays; how many there were."""
        return await self._one(user, Statement(
            "select chat.clear_conversation(%s)", [conversation_id], scalar_row))

    async def fetch_messages(self, user: User, conversation_id: UUID, after_seq: int = 0, limit: int = 100, *,
                             positions: bool = False, replica: Replica | None = None) -> list[Message]:
        """The active path after ``after_seq``, ascending; ``positions``: each with its place among its versions."""
        return await self._read(user, Statement(
            positioned("chat.fetch_messages(%s, %s, %s)", positions), [conversation_id, after_seq, limit],
            model_row(Message)), replica)

    async def fetch_recent(self, user: User, conversation_id: UUID, limit: int = 50, *,
                           positions: bool = False, replica: Replica | None = None) -> list[Message]:
        """The last ``limit`` messages of the active path, ascending; ``positions`` as ``fetch_messages``."""
        return await self._read(user, Statement(
            positioned("chat.fetch_recent(%s, %s)", positions), [conversation_id, limit],
            model_row(Message)), replica)

    async def fetch_log(self, user: User, conversation_id: UUID, after_seq: int = 0, limit: int = 100, *,
                        replica: Replica | None = None) -> list[Message]:
        """Every message of every branch after ``after_seq``, by seq: the raw log, for auditors and for clients
        that draw the tree."""
        return await self._read(user, Statement(
            "select * from chat.fetch_log(%s, %s, %s)", [conversation_id, after_seq, limit],
            model_row(Message)), replica)

    # branches

    async def edit_message(self, user: User, conversation_id: UUID, seq: int, content: str,
                           metadata: dict[str, Any] | None = None,
                           client_msg_id: str | None = None) -> AppendedMessage:
        """A new version of message ``seq``, beside it (the same parent and role), which becomes the head; the old
        version stays. Idempotent on ``client_msg_id``; with its place among its versions."""
        return await self._one(user, Statement(
            positioned("chat.edit_message(%s, %s, %s, %s, %s)"),
            [conversation_id, seq, content, Jsonb(metadata or {}), client_msg_id], model_row(AppendedMessage)))

    async def switch_branch(self, user: User, conversation_id: UUID, seq: int) -> Conversation:
        """The head becomes the newest leaf under message ``seq``: its branch is the active path."""
        return await self._one(user, Statement(
            "select * from chat.switch_branch(%s, %s)", [conversation_id, seq], model_row(Conversation)))

    async def fetch_siblings(self, user: User, conversation_id: UUID, seq: int, *,
                             replica: Replica | None = None) -> list[Message]:
        """The versions of message ``seq``'s position, oldest first, each with its place among them."""
        rows = await self._read(user, Statement(
            "select * from chat.fetch_siblings(%s, %s)", [conversation_id, seq], model_row(Message)), replica)
        for index, row in enumerate(rows, 1):
            row.sibling_index, row.sibling_count = index, len(rows)
        return rows

    async def fetch_context(self, user: User, conversation_id: UUID, max_tokens: int | None, limit: int = 1000,
                            before_seq: int | None = None, *,
                            replica: Replica | None = None) -> list[ContextMessage]:
        """The model's context: the newest messages of the model's view (a summary stands in for what it covers)
        whose tokens fit ``max_tokens``, at most ``limit``, ascending; never starting with a tool output whose call
        is left out; the newest always there (``over_budget`` when it does not fit). ``max_tokens`` None: the
        latest ``limit`` of the view, no cut rule; ``before_seq``: the view before that message."""
        return await self._read(user, Statement(
            "select * from chat.fetch_context(%s, %s, %s, %s)", [conversation_id, max_tokens, limit, before_seq],
            model_row(ContextMessage)), replica)

    async def compact_messages(self, user: User, conversation_id: UUID, from_seq: int,
                               messages: Sequence[Mapping[str, Any]],
                               through_id: UUID | None = None) -> list[Message]:
        """Writes a summary: ``messages`` (each ``{role, content, metadata?, tokens?}``) appended after the last
        message, standing in for the messages from ``from_seq`` on in the model's view; every message stays for
        people. With ``through_id`` (the last message when the caller read it), nothing is written, and [] is
        returned, when that is no longer the last."""
        (rows,) = await self._run(user, Statement(
            "select * from chat.compact_messages(%s, %s, %s, %s)",
            [conversation_id, from_seq, Jsonb(list(messages)), through_id], model_row(Message)))
        return rows

    async def search_messages(self, user: User, query: str, limit: int = 20, *, positions: bool = False,
                              replica: Replica | None = None) -> list[Message]:
        """The user's messages matching ``query`` (web-search syntax), best match first; ``positions``: each with
        its place among its versions."""
        return await self._read(user, Statement(
            positioned("chat.search_messages(%s, %s)", positions), [query, limit], model_row(Message)),
            replica)

    # the user's data

    async def export_user_data(self, user: User, *, replica: Replica | None = None) -> dict[str, Any]:
        """Everything stored for the user, as one JSON document."""
        (document,) = await self._read(user, Statement("select chat.export_user_data()", [], scalar_row), replica)
        return document

    # the chat turn (app.chat)

    async def begin_turn(self, user: User, conversation_id: UUID | None, content: str | None,
                         client_msg_id: str | None = None, history: int = 50,
                         lease: timedelta = timedelta(seconds=150), *, tokens: int | None = None,
                         history_tokens: int | None = None, edit_of: int | None = None,
                         regenerate_of: int | None = None) -> TurnStart:
        """Stores the user's message (in a new conversation, titled by it, when none is given; ``tokens`` its
        count; with ``edit_of``, as a new version of that user message) and claims its turn, in one transaction
        and one round trip: ``run`` with the history (the model's view as ``fetch_context`` reads it, from the
        turn's message: at most ``history`` messages, within ``history_tokens`` when given), ``done`` with the
        stored reply (a retry of a finished turn), or ``running`` (a retry while another attempt answers, for up
        to ``lease``). With ``regenerate_of`` (an assistant message; ``content`` None), the user message it
        answered is the turn's, answered again. The message and the reply come with their places among their
        versions."""
        (rows,) = await self._run(user, Statement(
            positioned("chat.begin_turn(%s, %s, %s, %s, %s, %s, %s, %s, %s)", only="m.part <> 'history'"),
            [conversation_id, content, client_msg_id, history, lease, tokens, history_tokens, edit_of,
             regenerate_of], dict_row),
            provision=self.provision if conversation_id is None else None)
        return TurnStart.from_rows(rows)

    async def finish_turn(self, user: User, conversation_id: UUID, seq: int, content: str,
                          metadata: dict[str, Any] | None = None, tokens: int | None = None) -> AppendedMessage:
        """Stores the reply to the turn of the user message ``seq`` (``tokens`` its count, when the responder
        knows it); when the turn has one already, that one, replayed."""
        return await self._one(user, Statement(
            positioned("chat.finish_turn(%s, %s, %s, %s, %s)"),
            [conversation_id, seq, content, Jsonb(metadata or {}), tokens], model_row(AppendedMessage)))

    async def settle_turn(self, user: User, conversation_id: UUID, seq: int, reply_seq: int) -> AppendedMessage:
        """Makes the stored assistant message ``reply_seq`` the reply to the turn of the user message ``seq``."""
        return await self._one(user, Statement(
            positioned("chat.settle_turn(%s, %s, %s)"), [conversation_id, seq, reply_seq],
            model_row(AppendedMessage)))

    async def fail_turn(self, user: User, conversation_id: UUID, seq: int, attempt: UUID) -> bool:
        """Releases ``attempt``'s claim on the turn, so that a retry runs it again; whether it held it."""
        return await self._one(user, Statement(
            "select chat.fail_turn(%s, %s, %s)", [conversation_id, seq, attempt], scalar_row))

    # live updates (app.events)

    async def open_event_stream(self, user: User, after_id: int | None = None, limit: int = 1000) -> list[Event]:
        """Opens or renews the user's stream of live updates (``chat.open_event_stream``): the events after
        ``after_id``, or one ``ready`` or ``resync`` event where the stream starts."""
        (rows,) = await self._run(user, Statement("select * from chat.open_event_stream(%s, %s)", [after_id, limit],
                                                  lambda cursor: lambda values: Event(*values)))
        return rows

    async def read_events(self, positions: Mapping[UUID, int], limit: int = 1000) -> dict[UUID, list[Event]]:
        """The events after each user's position, oldest first, by user (``chat.read_events``: each user's read as
        that user, all in one call, which acts for no user itself); none for a user whose position is before the
        current run of their log."""
        (rows,) = await self._run(None, Statement("select * from chat.read_events(%s::uuid[], %s::bigint[], %s)",
                                                  [list(positions), list(positions.values()), limit]))
        events: dict[UUID, list[Event]] = {}
        for user_id, *event in rows:
            events.setdefault(user_id, []).append(Event(*event))
        return events

    # the todo app's tasks: no SQL functions, plain statements under row-level security, each filtered by the
    # current user as well (as the functions are), so that a caller that bypasses RLS still sees only theirs

    async def list_tasks(self, user: User, completed: bool | None = None, limit: int = 100) -> list[Task]:
        """The user's tasks, oldest first; only the completed (or the open) ones when ``completed`` says so."""
        (rows,) = await self._run(user, Statement(
            "select * from chat.tasks t where t.user_id = chat_private.current_user_id()"
            " and (%(completed)s::boolean is null or t.completed = %(completed)s)"
            " order by t.created_at, t.id limit %(limit)s",
            {"completed": completed, "limit": limit}, model_row(Task)))
        return rows

    async def add_task(self, user: User, title: str, description: str | None = None) -> Task:
        return await self._one(user, Statement(
            "insert into chat.tasks (user_id, title, description) values (chat_private.current_user_id(), %s, %s)"
            " returning *", [title, description], model_row(Task)), provision=self.provision)

    async def update_task(self, user: User, task_id: UUID, **changes: Any) -> Task | None:
        """Sets the given fields (``title``, ``description``, ``completed``) of the user's task; None when there
        is no such task of theirs."""
        unknown = set(changes) - TASK_FIELDS
        if unknown or not changes:
            raise TypeError(f"update_task changes some of {sorted(TASK_FIELDS)}, not {sorted(unknown) or 'none'}")
        assignments = sql.SQL(", ").join(sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name))
                                         for name in changes)
        return await self._one(user, Statement(
            sql.SQL("update chat.tasks t set {} where t.user_id = chat_private.current_user_id() and t.id = %(id)s"
                    " returning *").format(assignments), {**changes, "id": task_id}, model_row(Task)))

    async def delete_task(self, user: User, task_id: UUID) -> bool:
        """Deletes the user's task; False when there is no such task of theirs."""
        return bool(await self._one(user, Statement(
            "delete from chat.tasks t where t.user_id = chat_private.current_user_id() and t.id = %s returning true",
            [task_id], scalar_row)))
