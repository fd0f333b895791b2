"""The Agents SDK's own ``SQLAlchemySession``, on the same PostgreSQL: the session memory a user of the SDK
would pick instead of ``ChatStoreSession``.

Used as its documentation shows: an asyncpg engine (``postgresql+asyncpg://``, a pool of 8 as the other
subjects have), ``create_tables=True`` (tables ``agent_sessions`` and ``agent_messages``, the items as JSON
text, an index on the session and the time), one session object per conversation, kept for the run as a
long-lived application keeps them, so that SQLAlchemy's statement cache serves it. No users, no row-level
security. Its sessions are the data set's conversations; its items those of the agents' sessions, copied.
"""

from __future__ import annotations

from uuid import UUID

from agents.extensions.memory import SQLAlchemySession
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

POOL_SIZE = 8

# the sessions (every conversation), then the items of the agents' sessions, as the SDK serialises them
COPY = [
    "insert into agent_sessions (session_id) select id::text from chat.conversations",
    """
    insert into agent_messages (session_id, message_data, created_at)
    select m.conversation_id::text, (m.metadata -> 'agents_item')::text, m.created_at
      from chat.messages m
     where m.metadata ? 'agents_item'
     order by m.conversation_id, m.seq
    """,
]


class AgentsSQLAlchemy:
    name = "agents-sqlalchemy"

    def __init__(self, admin_url: str):
        self.url = admin_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        self.engine: AsyncEngine | None = None
        self.sessions: dict[UUID, SQLAlchemySession] = {}

    async def open(self) -> None:
        self.engine = create_async_engine(self.url, pool_size=POOL_SIZE, max_overflow=0)

    async def close(self) -> None:
        await self.engine.dispose()

    def session(self, conversation: UUID) -> SQLAlchemySession:
        if conversation not in self.sessions:
            self.sessions[conversation] = SQLAlchemySession(str(conversation), engine=self.engine,
                                                            create_tables=True)
        return self.sessions[conversation]

    async def load(self) -> None:
        async with self.engine.begin() as conn:
            await conn.exec_driver_sql("drop table if exists agent_messages, agent_sessions")
        await self.session(UUID(int=0)).get_items(1)  # create_tables=True: its first call makes the tables
        async with self.engine.begin() as conn:
            for statement in COPY:
                await conn.exec_driver_sql(statement)
            await conn.exec_driver_sql("analyze agent_sessions")
            await conn.exec_driver_sql("analyze agent_messages")

    async def agent_items(self, user: UUID, conversation: UUID, n: int | None) -> int:
        return len(await self.session(conversation).get_items(n))

    async def agent_add(self, user: UUID, conversation: UUID, items: list[dict]) -> None:
        await self.session(conversation).add_items(items)
