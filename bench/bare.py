"""The floor of a Python client: the transactions ``app.store`` sends, sent by
psycopg alone.

The same pipeline as ``ChatStore`` (act as the user, call the function, one
Sync), over the same kind of pool (8 autocommit connections, nothing
prepared), but rows come back as plain tuples: no pydantic models, no JSON
decoding hook, no provisioning, no retry logic. Between pgbench (C, prepared
statements) and ``ours``, it says which part of the gap is the client
library and asyncio, and which part the store's own layer.
"""

from __future__ import annotations

from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from app.transport import ACT_AS

POOL_SIZE = 8
TIMEOUT_MS = "5000"


class BarePsycopg:
    name = "psycopg"

    def __init__(self, url: str):
        self.url = url
        self.pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(self.url, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False,
                                        kwargs={"autocommit": True, "prepare_threshold": None})
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def load(self) -> None:
        """This project's own tables: nothing to copy."""

    async def _call(self, user: UUID, sql: str, params: list) -> list[tuple]:
        async with self.pool.connection() as conn:
            async with conn.pipeline():
                await conn.execute(ACT_AS, [str(user), TIMEOUT_MS])
                cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    async def recent(self, user: UUID, conversation: UUID, n: int) -> int:
        return len(await self._call(user, "select * from chat.fetch_recent(%s, %s)", [conversation, n]))

    async def append(self, user: UUID, conversation: UUID, role: str, content: str) -> None:
        await self._call(user, "select * from chat.append_message(%s, %s, %s, '{}', null)",
                         [conversation, role, content])
