"""What is stored, as the superuser sees it: the reads tests check their
calls against, whether the stored conversations are whole (what every load
and fault test checks once its traffic is over), and a query on any database
of the test server."""

from __future__ import annotations

import psycopg

# Conversations whose messages are not numbered 1..n or whose count is not n.
BROKEN_CONVERSATIONS = """
select c.id, c.message_count, count(m.id) as messages, min(m.seq) as first_seq, max(m.seq) as last_seq
  from chat.conversations c
  left join chat.messages m on m.user_id = c.user_id and m.conversation_id = c.id
 group by c.id, c.message_count
having c.message_count <> count(m.id)
    or coalesce(max(m.seq), 0) <> count(m.id)
    or coalesce(min(m.seq), 1) <> 1
"""

# Every field of a message a client sends, as stored_messages reads them.
MESSAGE_FIELDS = "seq, role, content, metadata, client_msg_id"


def broken_conversations(db: psycopg.Connection) -> list[tuple]:
    return db.execute(BROKEN_CONVERSATIONS).fetchall()


def stored_messages(db: psycopg.Connection, conversation, columns: str = "seq, role, content") -> list[tuple]:
    """The conversation's messages, oldest first, each a tuple of ``columns`` (a select list)."""
    return db.execute(f"select {columns} from chat.messages where conversation_id = %s order by seq",
                      [conversation]).fetchall()


def counts(db: psycopg.Connection, conversation) -> tuple[int, int]:
    """(message_count, the number of stored messages) of a conversation."""
    return db.execute("select c.message_count, (select count(*) from chat.messages m where m.conversation_id = c.id)"
                      " from chat.conversations c where c.id = %s", [conversation]).fetchone()


def head_of(db: psycopg.Connection, conversation) -> int | None:
    """The conversation's head (head_seq): the last message of its active path, None when it is empty."""
    return db.execute("select head_seq from chat.conversations where id = %s", [conversation]).fetchone()[0]


def conversations_of(db: psycopg.Connection, user) -> int:
    return db.execute("select count(*) from chat.conversations where user_id = %s", [user]).fetchone()[0]


def stored_user(db: psycopg.Connection, user):
    """The user's row as (email,), or None when not provisioned."""
    return db.execute("select email from chat.users where id = %s", [user]).fetchone()


def query(pg_server, dbname, sql, params=(), **kwargs) -> list[tuple]:
    """The rows of one statement on the database ``dbname``, as the superuser (or as ``kwargs`` say: user=…)."""
    with psycopg.connect(pg_server.conninfo(dbname, **kwargs), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


# Every table's rows of user A in conftest's world (users A and B, each with a task, a conversation, messages
# and a turn), by the key that finds them: what B must never see or touch.
ROWS_OF_A = [
    ("users", "id = %(a)s"),
    ("tasks", "user_id = %(a)s or id = %(task)s"),
    ("conversations", "user_id = %(a)s or id = %(conversation)s"),
    ("messages", "user_id = %(a)s or conversation_id = %(conversation)s"),
    ("turns", "user_id = %(a)s or conversation_id = %(conversation)s"),
]
