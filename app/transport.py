"""How the store reaches the database: every operation one transaction on one pooled connection, sent in one
network round trip.

In a pipeline go ``set_config('app.user_id', …, true)`` and the statement timeout (``ACT_AS``), the check of
the user's token when there is one (``CHECK_TOKEN``), the user's provisioning when it is due (``PROVISION``),
then the operation's statements. PostgreSQL runs the statements up to the pipeline's Sync as one implicit
transaction, so the settings end with it; no session state is ever set. The reply is awaited for the
statement timeout and a grace at most (``NoReply``).

With a read replica (``app.replica``), the reads a caller marks with a ``Replica`` go there, and the same
round trip asks the replica whether it may answer them; when it may not, or cannot be reached, the primary
answers, and the log says why. Writes, and the reads a write depends on, stay on the primary, and the
round trip of a write asks for its position as well (``written_position``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg import AsyncCursor, sql
from psycopg.rows import BaseRowFactory, RowFactory, tuple_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from app.identity import User
from app.models import storable
from app.replica import POSITION, REPLICA_STATE, ReadReplica, Replica, ReplicaNotReady, written_position

logger = logging.getLogger("app.store")  # the store's log, of which this is a part

# The current user and the statement timeout, for this transaction only.
ACT_AS = "select set_config('app.user_id', %s, true), set_config('statement_timeout', %s, true)"

# A token issued before its account was deleted acts no more: checked by every
# operation of a token's user (28000 otherwise).
CHECK_TOKEN = "select chat.check_token(%s)"

# First use provisions the user (chat.provision_user): with the email when it
# is well formed and free, otherwise without it, so that provisioning never
# fails and never tells whose an address is; never for a token that predates
# a deletion of the account.
PROVISION = "select chat.provision_user(%(email)s, %(issued_at)s)"

_T = TypeVar("_T")


@dataclass(frozen=True)
class Statement:
    """One statement of an operation: its SQL, its parameters, and how its rows are built."""

    sql: str | sql.Composable
    params: Sequence[Any] | dict[str, Any]
    rows: RowFactory[Any] = tuple_row


def model_row(model: type[BaseModel]) -> BaseRowFactory:
    """Rows as pydantic models, built without validation: PostgreSQL has typed and checked them already."""

    def factory(cursor):
        names = [column.name for column in cursor.description or ()]
        construct = model.model_construct
        return lambda values: construct(**dict(zip(names, values, strict=True)))

    return factory


class NoReply(psycopg.OperationalError):
    """The database, or a pooler in front of it, sent no complete reply within the operation's deadline (its
    statement timeout and a grace): the connection is given up, and the pool replaces it."""


class PreparedStatementsFailed(Exception):
    """An attempt failed on a prepared statement; prepared statements are off now, and it may run again."""


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


class Transport:
    """The pools of one database, and the one way statements reach them, for any number of users: what
    ``app.store.ChatStore`` runs each of its calls through.

    A user is provisioned by the first operation run for them, and by every one that asks for it; the users
    seen are remembered (up to ``remember`` of them), so that later operations skip it.

    Prepared statements are the pool's choice (``prepare_threshold`` of its connections; off by default, see
    ``app.settings``). When the server refuses one, they are turned off on every connection used from then
    on, said once in the log, and the operation runs again: the failed attempt was one transaction that
    PostgreSQL rolled back whole, so nothing of it was stored.
    """

    def __init__(self, pool: AsyncConnectionPool, *, statement_timeout_ms: int = 5000, provision: bool = True,
                 remember: int = 100_000, reply_grace: float = 5.0, read_pool: AsyncConnectionPool | None = None,
                 read_max_lag: float = 5.0, read_wait: float = 1.0):
        self.pool = pool
        # A read replica, when there is one: its pool, how far behind the primary it may be (seconds) to answer,
        # and how long a read waits for one of its connections.
        self.read_replica = (ReadReplica(read_pool, max_lag=read_max_lag, wait=read_wait)
                             if read_pool is not None else None)
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

    @property
    def replica_in_recovery(self) -> bool | None:
        """What the read replica said of itself the last time it was asked: in recovery (a standby) or not."""
        return None if self.read_replica is None else self.read_replica.in_recovery

    async def run(self, user: User, *statements: Statement) -> list[list[Any]]:
        """Runs the caller's own statements over the API functions as ``user``, in one transaction and one round
        trip, and returns their rows in order: for a caller that reads only part of what a function returns, and
        builds no model of it (``app.agent_session`` reads its items so: ``select m.metadata -> 'agents_item'
        from chat.fetch_recent(%s, %s) m``)."""
        return await self._run(user, *statements)

    async def ping(self, timeout: float = 2.0) -> None:
        """Reaches the database within ``timeout`` seconds, or raises."""
        async with self.pool.connection(timeout=timeout) as conn:
            await conn.execute("select", prepare=False)

    async def _run(self, user: User | None, *statements: Statement, provision: bool | None = None) -> list[list[Any]]:
        """Runs the statements as ``user`` on the primary, in one transaction and one round trip; their rows, in
        order. With no user, ``app.user_id`` is empty (row security shows nothing) unless a statement sets it
        itself, as ``chat.read_events`` does for each user it reads.

        ``provision``: True always provisions, False never, None (the default) the first time only.
        """
        if user is None:
            provision = False
        elif provision is None:
            provision = self.provision and user.id not in self._provisioned
        try:
            return await self._exchange(user, statements, provision=provision)
        except PreparedStatementsFailed:
            # the attempt was rolled back whole; the next one prepares nothing
            return await self._exchange(user, statements, provision=provision)

    async def _read(self, user: User, statement: Statement, replica: Replica | None) -> list[Any]:
        """The rows of a read: from the read replica when ``replica`` allows it and the replica may answer,
        otherwise from the primary."""
        if replica is not None and self.read_replica is not None:
            try:
                (rows,) = await self._exchange(user, [statement], replica=replica)
            except ReplicaNotReady:
                pass  # a lag past the bound is in the log already
            except psycopg.errors.InvalidAuthorizationSpecification:
                raise  # the token refused (28000, an OperationalError): the primary has the tombstone too
            except (psycopg.OperationalError, PreparedStatementsFailed) as error:  # PoolTimeout, NoReply among them
                logger.warning("read replica unavailable (%s: %s): the primary answers", error.__class__.__name__,
                               error)
            else:
                self.reads["replica"] += 1
                return rows
            self.reads["primary"] += 1
        (rows,) = await self._run(user, statement)
        return rows

    async def _exchange(self, user: User | None, statements: Sequence[Statement], *, provision: bool = False,
                        replica: Replica | None = None) -> list[list[Any]]:
        """Runs ``statements`` as ``user`` in one transaction and one round trip, and returns their rows in order:
        on the primary, or on the read replica when ``replica`` is given.

        The pipeline opens with the user's settings (``ACT_AS``), the check of the user's token when they have
        ``issued_at`` (``CHECK_TOKEN``) and their provisioning when ``provision`` says so (``PROVISION``). On the
        replica, the replica's state comes next, and decides whether its answer stands (``ReplicaNotReady`` when
        not); on a primary with a replica beside it, the write's position closes the pipeline. No reply within
        the deadline raises ``NoReply``; a prepared statement the server refuses, ``PreparedStatementsFailed``.
        """
        if replica is None:
            pool, wait = self.pool, None
        else:
            pool, wait = self.read_replica.pool, self.read_replica.wait
        async with pool.connection(timeout=wait) as conn:
            if self.prepared_statements_failed:
                conn.prepare_threshold = None
            cursors: list[AsyncCursor] = []
            state: AsyncCursor | None = None
            position: AsyncCursor | None = None
            failure: psycopg.Error | None = None
            try:
                async with asyncio.timeout(self.reply_deadline):
                    async with conn.pipeline():
                        await conn.execute(ACT_AS, ["" if user is None else str(user.id),
                                                    str(self.statement_timeout_ms)])
                        if user is not None and user.issued_at is not None:
                            await conn.execute(CHECK_TOKEN, [user.issued_at])
                        if provision:
                            await conn.execute(PROVISION, {"email": _claimable(user.email),
                                                           "issued_at": user.issued_at})
                        if replica is not None:
                            state = await conn.execute(REPLICA_STATE, replica.state_params())
                        for statement in statements:
                            cursor = conn.cursor(row_factory=statement.rows)
                            await cursor.execute(statement.sql, statement.params)
                            cursors.append(cursor)
                        if replica is None and self.read_replica is not None:
                            position = await conn.execute(POSITION)
            except TimeoutError as error:
                # the pool discards the connection: it comes back in the middle of a query
                raise NoReply(f"no reply from the database within {self.reply_deadline:g} s") from error
            except psycopg.Error as error:
                if conn.prepare_threshold is not None and prepared_statement_failure(error):
                    self._turn_off_prepared_statements(error)
                    raise PreparedStatementsFailed from error
                if isinstance(error, psycopg.OperationalError):
                    # the primary's idle connections likely died too; the replica's cost no answer: the primary
                    # takes the reads they fail
                    if conn.broken and replica is None:
                        self._check_idle_connections()
                    raise
                if state is None:  # on the primary, or before the replica was asked its state
                    raise
                # on the replica, bad input or a conversation it has not yet: which, the replica's state says
                failure = error
            if state is not None:
                self.read_replica.check(*await state.fetchone())
                if failure is not None:
                    raise failure
            if provision:
                self._remember(user.id)
            if position is not None and (written := (await position.fetchone())[0]) is not None:
                written_position.set(int(written))
            return [await cursor.fetchall() for cursor in cursors]

    def _turn_off_prepared_statements(self, error: psycopg.Error) -> None:
        """Prepared statements off on every connection from now on, said once in the log."""
        pools = [self.pool] if self.read_replica is None else [self.pool, self.read_replica.pool]
        for pool in pools:
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

    def _forget(self, user_id: UUID) -> None:
        """The user is provisioned again by their next operation (their row was deleted)."""
        self._provisioned.pop(user_id, None)


def _claimable(email: object) -> str | None:
    """An email claim as text PostgreSQL can take, or None: provisioning never fails on it."""
    try:
        return storable(email) if isinstance(email, str) else None
    except ValueError:
        return None
