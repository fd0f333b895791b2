"""The connection pool: one psycopg ``AsyncConnectionPool`` per process.

Connections are in autocommit mode: each operation of the store sends its
statements in one pipeline, which PostgreSQL runs as one implicit transaction
ending at the pipeline's Sync. Nothing is set on a session, so a connection
(or, behind a transaction-mode pooler, a server connection) carries nothing of
one user into the next transaction.
"""

from __future__ import annotations

import json

from psycopg import AsyncConnection
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

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


def create_pool(settings: Settings, url: str | None = None, name: str = "chat") -> AsyncConnectionPool:
    """A closed pool (of ``DATABASE_URL`` unless ``url`` names another); the application's lifespan opens and
    closes it."""
    return AsyncConnectionPool(
        url or settings.database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout,
        kwargs={"autocommit": True, "prepare_threshold": settings.prepare_threshold},
        configure=configure,
        name=name,
        open=False,
    )
