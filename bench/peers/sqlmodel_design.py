"""The seeds' design: SQLModel models on SQLAlchemy asyncio, as its documentation
(and FastAPI's) would have it.

Two tables made by ``SQLModel.metadata.create_all``, uuid keys, an index on
each ``Field(index=True)``; no row-level security: the owner is checked in
application code (get the conversation, compare its ``user_id``) before each
read or write. Messages are ordered by ``created_at`` (the seeds had no
``seq``), pages use offset and limit, one ``AsyncSession`` per operation.
"""

from __future__ import annotations

import datetime
import uuid

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Field, SQLModel, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

POOL_SIZE = 8


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Conversation(SQLModel, table=True):
    __table_args__ = {"schema": "seeds"}

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(index=True)
    title: str | None = None
    created_at: datetime.datetime = Field(default_factory=utcnow)
    updated_at: datetime.datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    __table_args__ = {"schema": "seeds"}

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="seeds.conversation.id", index=True)
    user_id: uuid.UUID = Field(index=True)
    role: str
    content: str
    created_at: datetime.datetime = Field(default_factory=utcnow)


class ConversationNotFound(LookupError):
    """The conversation is missing or not the user's (the application's own 404)."""


class SQLModelDesign:
    name = "sqlmodel"

    def __init__(self, admin_url: str):
        self.url = admin_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        self.engine: AsyncEngine | None = None

    async def open(self) -> None:
        self.engine = create_async_engine(self.url, pool_size=POOL_SIZE)

    async def close(self) -> None:
        await self.engine.dispose()

    async def load(self) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("drop schema if exists seeds cascade"))
            await conn.execute(text("create schema seeds"))
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.execute(text(
                "insert into seeds.conversation (id, user_id, title, created_at, updated_at) "
                "select id, user_id, title, created_at, updated_at from chat.conversations"))
            await conn.execute(text(
                "insert into seeds.message (id, conversation_id, user_id, role, content, created_at) "
                "select id, conversation_id, user_id, role, content, created_at from chat.messages"))
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("analyze seeds.conversation"))
            await conn.execute(text("analyze seeds.message"))

    @staticmethod
    async def _owned(session: AsyncSession, user: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None or conversation.user_id != user:
            raise ConversationNotFound(conversation_id)
        return conversation

    async def _append(self, session: AsyncSession, user, conversation_id, role: str, content: str) -> None:
        conversation = await self._owned(session, user, conversation_id)
        session.add(Message(conversation_id=conversation_id, user_id=user, role=role, content=content))
        conversation.updated_at = utcnow()
        session.add(conversation)
        await session.commit()

    async def append(self, user, conversation, role, content) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            await self._append(session, user, conversation, role, content)

    async def _recent(self, session: AsyncSession, user, conversation_id, n: int) -> list[Message]:
        await self._owned(session, user, conversation_id)
        rows = await session.exec(select(Message).where(Message.conversation_id == conversation_id)
                                  .order_by(Message.created_at.desc()).limit(n))
        return list(reversed(rows.all()))

    async def recent(self, user, conversation, n) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            return len(await self._recent(session, user, conversation, n))

    async def page(self, user, conversation, after, n) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            await self._owned(session, user, conversation)
            rows = await session.exec(select(Message).where(Message.conversation_id == conversation)
                                      .order_by(Message.created_at).offset(after).limit(n))
            return len(rows.all())

    async def whole(self, user, conversation) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            await self._owned(session, user, conversation)
            rows = await session.exec(select(Message).where(Message.conversation_id == conversation)
                                      .order_by(Message.created_at))
            return len(rows.all())

    async def conversations(self, user, n) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            rows = await session.exec(select(Conversation).where(Conversation.user_id == user)
                                      .order_by(Conversation.updated_at.desc()).limit(n))
            return len(rows.all())

    async def turn(self, user, conversation, content) -> None:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            await self._append(session, user, conversation, "user", content)
            await self._recent(session, user, conversation, 50)
            await self._append(session, user, conversation, "assistant", "ok")
