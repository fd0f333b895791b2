"""Acting as one user of the chat, the way the backend does.

The current user is the transaction-local setting ``app.user_id``: each block
runs in its own transaction that sets it with ``set_config(…, true)`` first,
so that nothing outlives the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.types.json import Jsonb


@contextmanager
def acting_as(conn: psycopg.Connection, user_id: uuid.UUID | str | None) -> Iterator[psycopg.Connection]:
    """Run the block in one transaction on ``conn`` as ``user_id`` (None: unset)."""
    with conn.transaction():
        if user_id is not None:
            conn.execute("select set_config('app.user_id', %s, true)", [str(user_id)])
        yield conn


def call(conn: psycopg.Connection, user_id, sql: str, params=()) -> list[tuple]:
    """Run one statement as ``user_id`` in its own transaction and return its rows."""
    with acting_as(conn, user_id):
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def append_message(conn: psycopg.Connection, user_id, conversation, role="user", content="hi", metadata=None,
                   client_msg_id=None, returning: str = "*"):
    """``chat.append_message`` as ``user_id``: the row it answers, as ``returning`` (a select list). ``metadata``
    goes as jsonb ({} when None); JSON text or a Jsonb already made goes as it is."""
    if not isinstance(metadata, str | Jsonb):
        metadata = Jsonb(metadata if metadata is not None else {})
    return call(conn, user_id, f"select {returning} from chat.append_message(%s, %s, %s, %s, %s)",
                [conversation, role, content, metadata, client_msg_id])[0]


def seed_messages(conn: psycopg.Connection, user_id, conversation, count: int) -> None:
    """Appends ``count`` messages ('message 1', 'message 2', …; user and assistant in turn) as ``user_id``."""
    with acting_as(conn, user_id):
        conn.execute("select chat.append_message(%s, case when g %% 2 = 1 then 'user' else 'assistant' end,"
                     " 'message ' || g) from generate_series(1, %s) g", [conversation, count])
