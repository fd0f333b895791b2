"""Whether the stored conversations are whole, as the superuser sees them:
what every load and fault test checks once its traffic is over."""

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


def broken_conversations(db: psycopg.Connection) -> list[tuple]:
    return db.execute(BROKEN_CONVERSATIONS).fetchall()
