"""A read replica: which reads may go to it, where a write is, and whether the replica may answer.

A read a caller marks with a ``Replica`` may be answered by the replica: in the same round trip as the
read, the replica says whether it is a standby, whether it has the caller's write (the ``position`` the
API gave the client, ``X-Chat-Position``), and how far behind the primary its replay is. When it lacks
the write, or lags past the bound, the primary answers (``ReplicaNotReady``). Writes, and the reads a
write depends on, stay on the primary, and each write's position is kept in ``written_position``.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("app.store")  # the store's log, of which this is a part

# The position of the last write of this task's operations: the API returns it to the client (X-Chat-Position),
# which sends it back with the reads that must see that write.
written_position: ContextVar[int | None] = ContextVar("written_position", default=None)

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


@dataclass(frozen=True)
class Replica:
    """A read a replica may answer: once it has the write at ``position`` (a transaction id the API gave
    the client), or as it is when ``position`` is None, within the store's lag bound."""

    position: int | None = None

    def state_params(self) -> dict[str, str | None]:
        """The parameters of ``REPLICA_STATE``: the position as xid8 takes it, as text (there is no cast from
        bigint)."""
        return {"position": None if self.position is None else str(self.position)}


class ReplicaNotReady(Exception):
    """The replica lacks the caller's write, or lags past the bound: the primary answers instead."""


class ReadReplica:
    """A read replica's pool, how far behind the primary it may be (``max_lag``, seconds) and still answer, and
    how long a read waits for one of its connections (``wait``) before the primary answers it: a replica that is
    down must not hold reads for the pool's whole timeout."""

    def __init__(self, pool: AsyncConnectionPool, *, max_lag: float = 5.0, wait: float = 1.0):
        self.pool = pool
        self.max_lag = max_lag
        self.wait = wait
        # What the replica said of itself the last time it was asked: in recovery (a standby) or not.
        self.in_recovery: bool | None = None
        self._warned_not_standby = False

    def check(self, standby: bool, caught_up: bool, lag: float) -> None:
        """Takes the replica's answer to ``REPLICA_STATE``; ``ReplicaNotReady`` when it may not answer the read.
        A lag past the bound, and a replica that is no standby, are said in the log."""
        self.in_recovery = standby
        if not standby and not self._warned_not_standby:
            self._warned_not_standby = True
            logger.warning("the read replica is not in recovery: DATABASE_READ_URL names a primary")
        if not caught_up:
            raise ReplicaNotReady("the read replica lacks the caller's write")
        if lag > self.max_lag:
            logger.warning("read replica %.1f s behind (bound %g s): the primary answers", lag, self.max_lag)
            raise ReplicaNotReady(f"the read replica is {lag:.1f} s behind")
