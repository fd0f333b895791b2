"""The connection pool: one psycopg ``AsyncConnectionPool`` per process.

Connections are in autocommit mode: each operation of the store sends its
statements in one pipeline, which PostgreSQL runs as one implicit transaction
ending at the pipeline's Sync. Nothing is set on a session, so a connection
(or, behind a transaction-mode pooler, a server connection) carries nothing of
one user into the next transaction.

When no connection comes in time, the pool says why: the database
unreachable, or every connection in use.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from time import monotonic

from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.settings import Settings


def load_json(data: bytes | str):
    """json.loads of a JSON value as PostgreSQL sends it, with a shortcut for the empty object most metadata is.
    Decoded first: given bytes, json.loads guesses their encoding, which costs a fifth of a small document's
    parse (PostgreSQL sends UTF-8 to a client that asks for it, as psycopg does)."""
    if data in (b"{}", "{}"):
        return {}
    return json.loads(data.decode() if isinstance(data, bytes) else data)


async def configure(conn: AsyncConnection) -> None:
    set_json_loads(load_json, conn)


class DatabaseUnreachable(PoolTimeout):
    """No connection came in time, and the pool cannot make one: its latest attempt to connect failed (that
    attempt's error is the ``__cause__``), or an attempt is still waiting for the server."""


class PoolExhausted(PoolTimeout):
    """No connection came in time while the pool connects fine: every connection it may open is in use."""


class Pool(AsyncConnectionPool):
    """An ``AsyncConnectionPool`` whose ``PoolTimeout`` says why no connection came: ``DatabaseUnreachable`` or
    ``PoolExhausted``.

    The pool's own figures cannot tell: ``get_stats()`` counts the failed attempts to connect
    (``connections_errors``) but keeps neither their errors nor whether one succeeded since, and its
    ``pool_size`` counts the connections being made with those in use. So the pool watches its attempts
    itself, through its connection class, whose ``connect()`` makes every connection of the pool.
    """

    def __init__(self, *args, connection_class: type[AsyncConnection] = AsyncConnection, **kwargs):
        # The latest attempt's error, None once one succeeds; and when each attempt under way began.
        self.connect_error: Exception | None = None
        self._connecting: list[float] = []
        super().__init__(*args, connection_class=self._watched(connection_class), **kwargs)

    def _watched(self, base: type[AsyncConnection]) -> type[AsyncConnection]:
        attempt = self._attempt

        class WatchedConnection(base):
            @classmethod
            async def connect(cls, *args, **kwargs):
                with attempt():
                    return await super().connect(*args, **kwargs)

        return WatchedConnection

    @contextmanager
    def _attempt(self) -> Iterator[None]:
        began = monotonic()
        self._connecting.append(began)
        try:
            yield
        except Exception as error:
            self.connect_error = error
            raise
        else:
            self.connect_error = None
        finally:
            self._connecting.remove(began)

    async def getconn(self, timeout: float | None = None) -> AsyncConnection:
        try:
            return await super().getconn(timeout)
        except PoolTimeout as error:
            raise self._why(error)

    def _why(self, error: PoolTimeout) -> PoolTimeout:
        if (failure := self.connect_error) is not None:
            unreachable = DatabaseUnreachable(f"{error}; the latest attempt to connect failed: "
                                              f"{' '.join(str(failure).split())}")
            unreachable.__cause__ = failure
            return unreachable
        if self._connecting:
            # a server that takes no connection (a host that drops packets, a compute still waking up)
            return DatabaseUnreachable(f"{error}; an attempt to connect has had no answer for "
                                       f"{monotonic() - min(self._connecting):.2f} sec")
        return PoolExhausted(f"{error}; every connection is in use ({self.get_stats()['pool_size']} of at most "
                             f"{self.max_size})")


def create_pool(settings: Settings, url: str | None = None, name: str = "chat") -> Pool:
    """A closed pool (of ``DATABASE_URL`` unless ``url`` names another); the application's lifespan opens and
    closes it."""
    return Pool(
        url or settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs={"autocommit": True, "prepare_threshold": settings.prepare_threshold},
        configure=configure,
        name=name,
        open=False,
    )
