"""The Python layer: typed async calls of the SQL functions of schema ``chat``.

Every operation is one transaction on one pooled connection, sent in one
network round trip: in a pipeline, ``set_config('app.user_id', …, true)``
(and the statement timeout), the user's provisioning when it is due, then the
call itself.
PostgreSQL runs the statements up to the pipeline's Sync as one implicit
transaction, so the settings end with it; no session state is ever set.

With a read replica (``read_pool``), the reads a caller marks with a
``Replica`` go there: in one round trip, the replica says whether it is
caught up (the caller's last write visible, its replay lag within bound) and
answers; when it is not, or cannot be reached, the primary answers, and the
log says why. Writes, and the reads a write depends on, stay on the primary.

The database decides everything: a conversation that is missing or someone
else's raises ``psycopg.errors.NoDataFound`` (P0002), a reused
``client_msg_id`` ``psycopg.errors.UniqueViolation`` (23505), bad input a
``psycopg.DataError`` or ``psycopg.IntegrityError`` (class 22/23).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import BaseRowFactory, RowFactory, dict_row, scalar_row, tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel

from app.identity import User
from app.models import AppendedMessage, Conversation, Message, Role, Task, storable

logger = logging.getLogger("app.store")


# The current user and the statement timeout, for this transaction only.
ACT_AS = "select set_config('app.user_id', %s, true), set_config('statement_timeout', %s, true)"

# The position of a write, for a read replica: the transaction's id (NULL when
# it wrote nothing). A replica has what that write stored once every
# transaction older than its snapshot's xmin is over, and this one with them.
POSITION = "select pg_current_xact_id_if_assigned()::text"

# What a replica tells before it answers: is it one, has it the caller's
# write, and how far behind the primary its replay is, in seconds (0 when it
# has replayed all it received).
REPLICA_STATE = """
select pg_is_in_recovery(),
       %(position)s::xid8 is null or %(position)s::xid8 < pg_snapshot_xmin(pg_current_snapshot()),
       case when pg_last_wal_receive_lsn() is distinct from pg_last_wal_replay_lsn()
            then coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0)
            else 0 end::float8
"""

# The position of the last write of this task's operations: the API returns it to the client (X-Chat-Position),
# which sends it back with the reads that must see that write.
written_position: ContextVar[int | None] = ContextVar("written_position", default=None)


@dataclass(frozen=True)
class Replica:
    """A read a replica may answer: once it has the write at ``position`` (a transaction id the API gave
    the client), or as it is when ``position`` is None, within the store's lag bound."""

    position: int | None = None


# A token issued before its account was deleted acts no more: checked by every
# operation of a token's user (28000 otherwise).
CHECK_TOKEN = "select chat.check_token(%s)"

# First use provisions the user (chat.provision_user): with the email when it
# is well formed and free, otherwise without it, so that provisioning never
# fails and never tells whose an address is; never for a token that predates
# a deletion of the account.
PROVISION = "select chat.provision_user(%(email)s, %(issued_at)s)"


def model_row(model: type[BaseModel]) -> BaseRowFactory:
    """Rows as pydantic models, built without validation: PostgreSQL has typed and checked them already."""

    def factory(cursor):
        names = [column.name for column in cursor.description or ()]
        construct = model.model_construct
        return lambda values: construct(**dict(zip(names, values, strict=True)))

    return factory


def prepared_statement_failure(error: psycopg.Error) -> bool:
    """Whether ``error`` is a server's refusal of a protocol-level prepared statement: one it does not
    have (26000), has already (42P05), or has with other parameters (08P01). That is what psycopg's
    prepared statements meet behind a transaction-mode pooler without prepared-statement support
    (PgBouncer before 1.21), where the next transaction may run on another server connection, or on one
    that another client prepared its own statements on; and, on any connection, once psycopg's record of
    them is out of step with the server's (psycopg 3.3 records a statement that a failed pipeline never
    prepared)."""
    if isinstance(error, psycopg.errors.InvalidSqlStatementName | psycopg.errors.DuplicatePreparedStatement):
        return True
    return isinstance(error, psycopg.errors.ProtocolViolation) and "prepared statement" in str(error)


# The fields of a task that update_task sets (chat_app may update these columns only).
TASK_FIELDS = frozenset({"title", "description", "completed"})

_T = TypeVar("_T")


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


async def to_the_end(operation: Awaitable[_T]) -> _T:
    """Runs ``operation`` (a store call that writes) to its end even if the caller is cancelled meanwhile; the
    cancellation is raised after, once the outcome is known (and the operation's own error is then not
    raised). A cancelled caller has had all of the write done, or none of it, never left it in flight."""
    task = asyncio.ensure_future(operation)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as error:
            cancelled = cancelled or error
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # seen: an error of the finished operation is not reported as never retrieved
        raise cancelled
    return task.result()


class NoReply(psycopg.OperationalError):
    """The database, or a pooler in front of it, sent no complete reply within the operation's deadline (its
    statement timeout and a grace): the connection is given up, and the pool replaces it."""


class PreparedStatementsFailed(Exception):
    """An attempt failed on a prepared statement; prepared statements are off now, and it may run again."""


@dataclass(frozen=True)
class Statement:
    """One statement of an operation: its SQL, its parameters, and how its rows are built."""

    sql: str | sql.Composable
    params: Sequence[Any] | dict[str, Any]
    rows: RowFactory[Any] = tuple_row


class ChatStore:
    """The SQL API of one database, for any number of users, over one pool.

    A user is provisioned by the first call this store makes for them, and by
    every call that creates a conversation (so that a user deleted through
    another process comes back where it matters); the users it has seen are
    remembered (up to ``remember`` of them), so that later calls skip it.

    Prepared statements are the pool's choice (``prepare_threshold`` of its
    connections; off by default, see ``app.settings``). When the server
    refuses one, the store turns them off on every connection it uses from
    then on, says so once in the log, and runs the operation again: the
    failed attempt was one transaction that PostgreSQL rolled back whole, so
    nothing of it was stored.
    """

    def __init__(self, pool: AsyncConnectionPool, *, statement_timeout_ms: int = 5000, provision: bool = True,
                 remember: int = 100_000, reply_grace: float = 5.0, read_pool: AsyncConnectionPool | None = None,
                 read_max_lag: float = 5.0, read_wait: float = 1.0):
        self.pool = pool
        # A read replica, when there is one, and how far behind the primary it may be (seconds) to answer.
        self.read_pool = read_pool
        self.read_max_lag = read_max_lag
        # How long a read waits for a replica's connection before the primary answers it: a replica that is
        # down must not hold reads for the pool's whole timeout.
        self.read_wait = read_wait
        # What the replica said of itself the last time it was asked: in recovery (a standby) or not.
        self.replica_in_recovery: bool | None = None
        # Who answered the reads that could go to the replica: "replica" or "primary".
        self.reads: Counter[str] = Counter()
        self.statement_timeout_ms = statement_timeout_ms
        # The server answers within the statement timeout, cancelling what runs longer; a reply later than
        # that and a grace for the network will not come (a process that froze, a pooler that lost track of
        # the connection), and waiting for it would hold the request and its connection for ever.
        self.reply_deadline = statement_timeout_ms / 1000 + reply_grace if statement_timeout_ms > 0 else None
        self.provision = provision
        self.remember = remember
        self._provisioned: OrderedDict[UUID, None] = OrderedDict()
        self._checking: asyncio.Task | None = None
        self.prepared_statements_failed = False
        self._warned_not_standby = False

    async def _run(self, user: User, *statements: Statement, provision: bool | None = None) -> list[list[Any]]:
        """Run the statements as ``user`` in one transaction and one round trip; their rows, in order.

        ``provision``: True always provisions, False never, None (the default) the first time only.
        """
        if provision is None:
            provision = self.provision and user.id not in self._provisioned
        try:
            return await self._attempt(user, statements, provision)
        except PreparedStatementsFailed:
            # the attempt was rolled back whole; the next one prepares nothing
            return await self._attempt(user, statements, provision)

    async def _attempt(self, user: User, statements: Sequence[Statement], provision: bool) -> list[list[Any]]:
        async with self.pool.connection() as conn:
            if self.prepared_statements_failed:
                conn.prepare_threshold = None
            cursors = []
            try:
                async with asyncio.timeout(self.reply_deadline):
                    async with conn.pipeline():
                        await conn.execute(ACT_AS, [str(user.id), str(self.statement_timeout_ms)])
                        if user.issued_at is not None:
                            await conn.execute(CHECK_TOKEN, [user.issued_at])
                        if provision:
                            await conn.execute(PROVISION, {"email": _claimable(user.email),
                                                           "issued_at": user.issued_at})
                        for statement in statements:
                            cursor = conn.cursor(row_factory=statement.rows)
                            await cursor.execute(statement.sql, statement.params)
                            cursors.append(cursor)
                        if self.read_pool is not None:
                            position = await conn.execute(POSITION)
            except TimeoutError as error:
                # the pool discards the connection: it comes back in the middle of a query
                raise NoReply(f"no reply from the database within {self.reply_deadline:g} s") from error
            except psycopg.Error as error:
                if conn.prepare_threshold is not None and prepared_statement_failure(error):
                    self._turn_off_prepared_statements(error)
                    raise PreparedStatementsFailed from error
                if isinstance(error, psycopg.OperationalError) and conn.broken:
                    self._check_idle_connections()
                raise
            if provision:
                self._remember(user.id)
            if self.read_pool is not None and (written := (await position.fetchone())[0]) is not None:
                written_position.set(int(written))
            return [await cursor.fetchall() for cursor in cursors]

    async def _read(self, user: User, statement: Statement, replica: Replica | None) -> list[Any]:
        """The rows of a read: from the replica when ``replica`` allows it and the replica is caught up, otherwise
        from the primary."""
        if replica is None or self.read_pool is None:
            (rows,) = await self._run(user, statement)
            return rows
        try:
            async with self.read_pool.connection(timeout=self.read_wait) as conn:
                if self.prepared_statements_failed:
                    conn.prepare_threshold = None
                failure: psycopg.Error | None = None
                try:
                    async with asyncio.timeout(self.reply_deadline):
                        async with conn.pipeline():
                            await conn.execute(ACT_AS, [str(user.id), str(self.statement_timeout_ms)])
                            if user.issued_at is not None:
                                await conn.execute(CHECK_TOKEN, [user.issued_at])
                            state = await conn.execute(REPLICA_STATE, {"position": _text(replica.position)})
                            cursor = conn.cursor(row_factory=statement.rows)
                            await cursor.execute(statement.sql, statement.params)
                except psycopg.OperationalError:
                    raise
                except psycopg.Error as error:
                    if conn.prepare_threshold is not None and prepared_statement_failure(error):
                        self._turn_off_prepared_statements(error)
                        raise PreparedStatementsFailed from error
                    # bad input, or a conversation the replica has not yet: which, the replica's state says
                    failure = error
                standby, caught_up, lag = await state.fetchone()
                self.replica_in_recovery = standby
                if not standby and not self._warned_not_standby:
                    self._warned_not_standby = True
                    logger.warning("the read replica is not in recovery: DATABASE_READ_URL names a primary")
                if caught_up and lag <= self.read_max_lag:
                    if failure is not None:
                        raise failure
                    self.reads["replica"] += 1
                    return await cursor.fetchall()
                if caught_up:
                    logger.warning("read replica %.1f s behind (bound %g s): the primary answers", lag,
                                   self.read_max_lag)
        except (psycopg.OperationalError, PoolTimeout, TimeoutError, PreparedStatementsFailed) as error:
            logger.warning("read replica unavailable (%s: %s): the primary answers", error.__class__.__name__,
                           error)
        self.reads["primary"] += 1
        (rows,) = await self._run(user, statement)
        return rows

    def _turn_off_prepared_statements(self, error: psycopg.Error) -> None:
        """Prepared statements off on every connection from now on, said once in the log."""
        for pool in (self.pool, self.read_pool):
            if pool is not None:
                pool.kwargs["prepare_threshold"] = None
        if not self.prepared_statements_failed:
            self.prepared_statements_failed = True
            logger.warning(
                "prepared statements failed (SQLSTATE %s: %s); they are off in this process from now on. "
                "Behind a transaction-mode pooler without prepared-statement support (PgBouncer before 1.21) "
                "set PREPARE_THRESHOLD=none, the default.", error.sqlstate, error.diag.message_primary or error)

    def _check_idle_connections(self) -> None:
        """A connection was found dead: the pool's idle ones likely are too, killed by the same
        event (a server restart, a pooler or a compute that went away). Have the pool test them
        now, in the background, so that the next callers are not handed them one by one."""
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self.pool.check())

    def _remember(self, user_id: UUID) -> None:
        self._provisioned[user_id] = None
        self._provisioned.move_to_end(user_id)
        while len(self._provisioned) > self.remember:
            self._provisioned.popitem(last=False)

    async def run(self, user: User, *statements: Statement) -> list[list[Any]]:
        """Runs the caller's own statements over the API functions as ``user``, in one transaction and one round
        trip, and returns their rows in order: for a caller that reads only part of what a function returns, and
        builds no model of it (``app.agent_session`` reads its items so: ``select m.metadata -> 'agents_item'
        from chat.fetch_recent(%s, %s) m``)."""
        return await self._run(user, *statements)

    async def _one(self, user: User, statement: Statement, **kwargs) -> Any:
        (rows,) = await self._run(user, statement, **kwargs)
        return rows[0] if rows else None

    # users

    async def provision_user(self, user: User) -> None:
        """Makes the user's row if it is missing."""
        await self._run(user, provision=True)

    async def delete_user(self, user: User) -> bool:
        """Deletes the user and, by cascade, everything of theirs; True if there was a row."""
        self._provisioned.pop(user.id, None)
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
                             client_msg_id: str | None = None) -> AppendedMessage:
        return await self._one(user, _append(conversation_id, role, content, metadata, client_msg_id))

    async def append_messages(self, user: User, conversation_id: UUID,
                              messages: Sequence[Mapping[str, Any]]) -> list[AppendedMessage]:
        """Appends ``messages`` (each ``{role, content, metadata?, client_msg_id?}``) with consecutive seq,
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
                             replica: Replica | None = None) -> list[Message]:
        return await self._read(user, Statement(
            "select * from chat.fetch_messages(%s, %s, %s)", [conversation_id, after_seq, limit],
            model_row(Message)), replica)

    async def fetch_recent(self, user: User, conversation_id: UUID, limit: int = 50, *,
                           replica: Replica | None = None) -> list[Message]:
        return await self._read(user, _recent(conversation_id, limit), replica)

    async def search_messages(self, user: User, query: str, limit: int = 20, *,
                              replica: Replica | None = None) -> list[Message]:
        """The user's messages matching ``query`` (web-search syntax), best match first."""
        return await self._read(user, Statement(
            "select * from chat.search_messages(%s, %s)", [query, limit], model_row(Message)), replica)

    # the user's data

    async def export_user_data(self, user: User, *, replica: Replica | None = None) -> dict[str, Any]:
        """Everything stored for the user, as one JSON document."""
        (document,) = await self._read(user, Statement("select chat.export_user_data()", [], scalar_row), replica)
        return document

    # the chat turn (app.chat)

    async def begin_turn(self, user: User, conversation_id: UUID | None, content: str,
                         client_msg_id: str | None = None, history: int = 50,
                         lease: timedelta = timedelta(seconds=150)) -> TurnStart:
        """Stores the user's message (in a new conversation, titled by it, when none is given) and claims its
        turn, in one transaction and one round trip: ``run`` with the last ``history`` messages, ``done`` with
        the stored reply (a retry of a finished turn), or ``running`` (a retry while another attempt answers,
        for up to ``lease``)."""
        (rows,) = await self._run(user, Statement(
            "select * from chat.begin_turn(%s, %s, %s, %s, %s)",
            [conversation_id, content, client_msg_id, history, lease], dict_row),
            provision=self.provision if conversation_id is None else None)
        return TurnStart.from_rows(rows)

    async def finish_turn(self, user: User, conversation_id: UUID, seq: int, content: str,
                          metadata: dict[str, Any] | None = None) -> AppendedMessage:
        """Stores the reply to the turn of the user message ``seq``; when the turn has one already, that one,
        replayed."""
        return await self._one(user, Statement(
            "select * from chat.finish_turn(%s, %s, %s, %s)", [conversation_id, seq, content, Jsonb(metadata or {})],
            model_row(AppendedMessage)))

    async def settle_turn(self, user: User, conversation_id: UUID, seq: int, reply_seq: int) -> AppendedMessage:
        """Makes the stored assistant message ``reply_seq`` the reply to the turn of the user message ``seq``."""
        return await self._one(user, Statement(
            "select * from chat.settle_turn(%s, %s, %s)", [conversation_id, seq, reply_seq],
            model_row(AppendedMessage)))

    async def fail_turn(self, user: User, conversation_id: UUID, seq: int, attempt: UUID) -> bool:
        """Releases ``attempt``'s claim on the turn, so that a retry runs it again; whether it held it."""
        return await self._one(user, Statement(
            "select chat.fail_turn(%s, %s, %s)", [conversation_id, seq, attempt], scalar_row))

    # the todo app's tasks: no SQL functions, plain statements under row-level security, each filtered by the
    # current user as well (as the functions are), so that a caller that bypasses RLS still sees only theirs

    async def list_tasks(self, user: User, completed: bool | None = None, limit: int = 100) -> list[Task]:
        """The user's tasks, oldest first; only the completed (or the open) ones when ``completed`` says so."""
        (rows,) = await self._run(user, Statement(
            "select * from chat.tasks t where t.user_id = chat.current_user_id()"
            " and (%(completed)s::boolean is null or t.completed = %(completed)s)"
            " order by t.created_at, t.id limit %(limit)s",
            {"completed": completed, "limit": limit}, model_row(Task)))
        return rows

    async def add_task(self, user: User, title: str, description: str | None = None) -> Task:
        return await self._one(user, Statement(
            "insert into chat.tasks (user_id, title, description) values (chat.current_user_id(), %s, %s)"
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
            sql.SQL("update chat.tasks t set {} where t.user_id = chat.current_user_id() and t.id = %(id)s"
                    " returning *").format(assignments), {**changes, "id": task_id}, model_row(Task)))

    async def delete_task(self, user: User, task_id: UUID) -> bool:
        """Deletes the user's task; False when there is no such task of theirs."""
        return bool(await self._one(user, Statement(
            "delete from chat.tasks t where t.user_id = chat.current_user_id() and t.id = %s returning true",
            [task_id], scalar_row)))

    async def ping(self, timeout: float = 2.0) -> None:
        """Reaches the database within ``timeout`` seconds, or raises."""
        async with self.pool.connection(timeout=timeout) as conn:
            await conn.execute("select", prepare=False)


def _claimable(email: object) -> str | None:
    """An email claim as text PostgreSQL can take, or None: provisioning never fails on it."""
    try:
        return storable(email) if isinstance(email, str) else None
    except ValueError:
        return None


def _append(conversation_id, role, content, metadata=None, client_msg_id=None) -> Statement:
    return Statement("select * from chat.append_message(%s, %s, %s, %s, %s)",
                     [conversation_id, role, content, Jsonb(metadata or {}), client_msg_id],
                     model_row(AppendedMessage))


def _recent(conversation_id, limit) -> Statement:
    return Statement("select * from chat.fetch_recent(%s, %s)", [conversation_id, limit], model_row(Message))


def _text(position: int | None) -> str | None:
    """A position as xid8 takes it: as text (there is no cast from bigint)."""
    return None if position is None else str(position)
