"""This project, measured the way a backend uses it: ``app.store.ChatStore``
over one psycopg pool, logged in as a role granted chat_app (RLS on), or as
a role with BYPASSRLS (the same calls, to show what isolation costs).
"""

from __future__ import annotations

from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from app.database import configure
from app.identity import User
from app.models import ContextMessage
from app.replica import Replica
from app.store import ChatStore
from bench.workloads import execution_ms, server_timed

POOL_SIZE = 8


class Ours:
    def __init__(self, url: str, name: str = "ours", *, prepare_threshold: int | None = None):
        self.name = name
        self.url = url
        self.prepare_threshold = prepare_threshold
        self.pool: AsyncConnectionPool | None = None
        self.store: ChatStore | None = None

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(self.url, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False,
                                        kwargs={"autocommit": True, "prepare_threshold": self.prepare_threshold},
                                        configure=configure)
        await self.pool.open(wait=True)
        self.store = ChatStore(self.pool)

    async def close(self) -> None:
        await self.pool.close()

    async def load(self) -> None:
        """The data set is generated in this project's own tables: nothing to copy."""

    async def append(self, user: UUID, conversation: UUID, role: str, content: str) -> None:
        await self.store.append_message(User(user), conversation, role, content)

    async def recent(self, user: UUID, conversation: UUID, n: int) -> int:
        return len(await self.store.fetch_recent(User(user), conversation, n))

    async def recent_server_ms(self, user: UUID, conversation: UUID, n: int,
                               function: str = "chat.fetch_recent", calls: int = 1000) -> float:
        """The server's own time of one ``fetch_recent(n)``, without the round trip, from a statement of ``calls``
        calls; ``function``, another function of the same arguments in its place (``bench.branches.BEFORE_RECENT``,
        the one before the tree)."""
        return await self._server_ms(user, f"{function}(%(conversation)s, %(n)s + 0 * g)",
                                     {"conversation": conversation, "n": n}, calls)

    async def context_server_ms(self, user: UUID, conversation: UUID, max_tokens: int) -> float:
        """The server's own time of one ``fetch_context(max_tokens)`` (the model's context within a budget), without
        the round trip."""
        return await self._server_ms(user, "chat.fetch_context(%(conversation)s, %(max_tokens)s + 0 * g)",
                                     {"conversation": conversation, "max_tokens": max_tokens})

    async def _server_ms(self, user: UUID, call: str, params: dict, calls: int = 1000) -> float:
        """One statement of ``calls`` calls of ``call`` as ``user`` (RLS as the subject's role has it), timed by the
        server, divided by ``calls``."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("select set_config('app.user_id', %s, true)", [str(user)])
            cursor = await conn.execute(server_timed(call), {**params, "calls": calls})
            return execution_ms([row[0] for row in await cursor.fetchall()]) / calls

    async def context(self, user: UUID, conversation: UUID, max_tokens: int) -> list[ContextMessage]:
        """The model's context within ``max_tokens``, as ``ChatStore.fetch_context`` returns it (to count it)."""
        return await self.store.fetch_context(User(user), conversation, max_tokens)

    async def page(self, user: UUID, conversation: UUID, after: int, n: int) -> int:
        return len(await self.store.fetch_messages(User(user), conversation, after, n))

    async def whole(self, user: UUID, conversation: UUID) -> int:
        return len(await self.store.fetch_messages(User(user), conversation, 0, 1000))

    async def conversations(self, user: UUID, n: int) -> int:
        return len(await self.store.list_conversations(User(user), n))

    async def append_turn(self, user: UUID, conversation: UUID, items: list[dict]) -> None:
        """A turn's items in one call (append_messages): one transaction, one round trip."""
        await self.store.append_messages(User(user), conversation, items)

    async def append_turn_singly(self, user: UUID, conversation: UUID, items: list[dict]) -> None:
        """The same items with one append_message each: a transaction and a round trip per item."""
        for item in items:
            await self.store.append_message(User(user), conversation, item["role"], item["content"],
                                            item.get("metadata"))

    async def agent_items(self, user: UUID, conversation: UUID, n: int | None) -> int:
        """The agent's memory as the Agents SDK reads it: ChatStoreSession.get_items(n)."""
        from app.agent_session import ChatStoreSession

        return len(await ChatStoreSession(self.store, conversation, User(user)).get_items(n))

    async def agent_context(self, user: UUID, conversation: UUID, max_tokens: int) -> int:
        """The agent's memory within a token budget, as a run reads it: ``ChatStoreSession(…,
        max_tokens=…).get_items()``, one call of chat.fetch_context with the budget."""
        from app.agent_session import ChatStoreSession

        return len(await ChatStoreSession(self.store, conversation, User(user), max_tokens=max_tokens).get_items())

    async def agent_add(self, user: UUID, conversation: UUID, items: list[dict]) -> None:
        """An agent's turn stored as the Agents SDK stores it: ChatStoreSession.add_items(items)."""
        from app.agent_session import ChatStoreSession

        await ChatStoreSession(self.store, conversation, User(user)).add_items(items)

    async def turn(self, user: UUID, conversation: UUID, content: str) -> None:
        start = await self.store.begin_turn(User(user), conversation, content, history=50)
        await self.store.finish_turn(User(user), conversation, start.user_message.seq, "ok")


class OursOnReplica:
    """The reads of ``ours`` with a read replica (``DATABASE_READ_URL``): the same ChatStore, its reads marked
    ``Replica()`` so that the standby answers them, as the HTTP API's reads are."""

    def __init__(self, url: str, read_url: str, name: str = "ours-replica"):
        self.name = name
        self.url = url
        self.read_url = read_url
        self.pools: list[AsyncConnectionPool] = []
        self.store: ChatStore | None = None

    async def open(self) -> None:
        self.pools = [AsyncConnectionPool(url, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False,
                                          kwargs={"autocommit": True, "prepare_threshold": None},
                                          configure=configure) for url in (self.url, self.read_url)]
        for pool in self.pools:
            await pool.open(wait=True)
        self.store = ChatStore(self.pools[0], read_pool=self.pools[1])

    async def close(self) -> None:
        for pool in self.pools:
            await pool.close()

    async def load(self) -> None:
        """The standby replays this project's own tables: nothing to copy."""

    async def recent(self, user: UUID, conversation: UUID, n: int) -> int:
        return len(await self.store.fetch_recent(User(user), conversation, n, replica=Replica()))

    async def page(self, user: UUID, conversation: UUID, after: int, n: int) -> int:
        return len(await self.store.fetch_messages(User(user), conversation, after, n, replica=Replica()))

    async def whole(self, user: UUID, conversation: UUID) -> int:
        return len(await self.store.fetch_messages(User(user), conversation, 0, 1000, replica=Replica()))

    async def conversations(self, user: UUID, n: int) -> int:
        return len(await self.store.list_conversations(User(user), n, replica=Replica()))
