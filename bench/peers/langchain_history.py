"""langchain-postgres's ``PostgresChatMessageHistory``, used as its documentation shows.

One table made by ``acreate_tables`` (serial id, session_id, message jsonb,
created_at, an index on session_id), one history object per session (here a
conversation) on a psycopg async connection, ``aadd_messages`` to append and
``aget_messages`` to read. It has no users, no conversation list and no
limit on reads: the last 50 messages are the last 50 of all of them.
"""

from __future__ import annotations

from uuid import UUID

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_postgres import PostgresChatMessageHistory
from psycopg_pool import AsyncConnectionPool

TABLE = "message_store"
POOL_SIZE = 8
MESSAGE_TYPES = {"user": HumanMessage, "assistant": AIMessage, "system": SystemMessage, "tool": AIMessage}

# langchain's own message_to_dict shape, built on the server from the data set
COPY = """
insert into message_store (session_id, message, created_at)
select m.conversation_id,
       jsonb_build_object('type', m.type, 'data',
         jsonb_build_object('content', m.content, 'additional_kwargs', '{}'::jsonb,
                            'response_metadata', '{}'::jsonb, 'type', m.type, 'name', null, 'id', null)
         || case when m.type = 'ai'
                 then jsonb_build_object('tool_calls', '[]'::jsonb, 'invalid_tool_calls', '[]'::jsonb,
                                         'usage_metadata', null)
                 else '{}'::jsonb end),
       m.created_at
  from (select conversation_id, seq, content, created_at,
               case role when 'user' then 'human' when 'system' then 'system' else 'ai' end as type
          from chat.messages) m
 order by m.conversation_id, m.seq
"""


class LangchainHistory:
    name = "langchain-postgres"

    def __init__(self, admin_url: str):
        self.url = admin_url
        self.pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        self.pool = AsyncConnectionPool(self.url, min_size=POOL_SIZE, max_size=POOL_SIZE, open=False,
                                        kwargs={"autocommit": True})
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def load(self) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(f"drop table if exists {TABLE}")
            await PostgresChatMessageHistory.acreate_tables(conn, TABLE)
            await conn.execute(COPY)
            await conn.execute(f"analyze {TABLE}")

    async def _messages(self, conversation: UUID) -> list:
        async with self.pool.connection() as conn:
            return await PostgresChatMessageHistory(TABLE, str(conversation), async_connection=conn).aget_messages()

    async def append(self, user, conversation, role, content) -> None:
        async with self.pool.connection() as conn:
            history = PostgresChatMessageHistory(TABLE, str(conversation), async_connection=conn)
            await history.aadd_messages([MESSAGE_TYPES[role](content=content)])

    async def append_turn(self, user, conversation, items: list[dict]) -> None:
        """A turn's messages in one ``aadd_messages`` call, as an application adds the messages of a turn."""
        async with self.pool.connection() as conn:
            history = PostgresChatMessageHistory(TABLE, str(conversation), async_connection=conn)
            await history.aadd_messages([MESSAGE_TYPES[item["role"]](content=item["content"]) for item in items])

    async def recent(self, user, conversation, n) -> int:
        return len((await self._messages(conversation))[-n:])

    async def page(self, user, conversation, after, n) -> int:
        return len((await self._messages(conversation))[after:after + n])

    async def whole(self, user, conversation) -> int:
        return len(await self._messages(conversation))

    async def turn(self, user, conversation, content) -> None:
        await self.append(user, conversation, "user", content)
        (await self._messages(conversation))[-50:]
        await self.append(user, conversation, "assistant", "ok")
