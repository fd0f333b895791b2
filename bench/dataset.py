"""The data set, generated inside PostgreSQL (set-based, as the superuser).

Users 1..N each have 100 conversations of 20 messages; user 1 also has one
conversation of 10,000 messages and user 2 one of 1,000, and each of them an
agent's session of as many items (written as ``ChatStoreSession`` writes
them: a readable content, and the item in the metadata), in which a user's
words, a tool call, its output and the assistant's reply follow each other. Content lengths
follow a log-normal spread (median about 200 characters, a long tail, capped
at 10,000), roles alternate user and assistant. Ids are derived from numbers,
so that pgbench and every peer can address the same user and conversation:
user u is ``user_uuid(u)``, its conversation c is ``conversation_uuid(u, c)``.
The set grows in place (``grow``), so that one run measures at several sizes.
"""

from __future__ import annotations

import uuid

import psycopg
from tqdm import tqdm

CONVERSATIONS_PER_USER = 100
MESSAGES_PER_CONVERSATION = 20
LONG = 10_000     # messages of the long conversation (user 1, conversation 0)
MEDIUM = 1_000    # messages of the medium one (user 2, conversation 0)
BATCH_USERS = 20

# Helpers in schema bench (the benchmark's own database only).
SCHEMA = r"""
create schema if not exists bench;

create or replace function bench.user_uuid(u int) returns uuid
  language sql immutable parallel safe
  return format('00000000-0000-4000-8000-%s', lpad(to_hex(u), 12, '0'))::uuid;

create or replace function bench.conversation_uuid(u int, c int) returns uuid
  language sql immutable parallel safe
  return format('%s-0000-4000-9000-%s', lpad(to_hex(u), 8, '0'), lpad(to_hex(c), 12, '0'))::uuid;

-- a log-normal length: median about 200 characters, capped at 10,000
create or replace function bench.content_length() returns int
  language sql volatile parallel safe
  return least(10000, greatest(1,
    exp(5.3 + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::int));

-- text that compresses about as badly as prose: hex digests, with spaces
create table if not exists bench.corpus as
  select string_agg(md5(g::text) || ' ', '') as text from generate_series(1, 400) g;

grant usage on schema bench to public;
grant execute on all functions in schema bench to public;
grant select on bench.corpus to public;
"""

MESSAGES = """
insert into chat.messages (conversation_id, user_id, seq, role, content, created_at)
select bench.conversation_uuid(u, c), bench.user_uuid(u), s,
       case when s %% 2 = 1 then 'user' else 'assistant' end,
       substr(corpus.text, 1 + (random() * 2000)::int, bench.content_length()),
       timestamptz '2026-01-01' + make_interval(days => c %% 300, secs => s * 30 + u)
  from generate_series(%(first)s::int, %(last)s::int) u,
       generate_series(%(c_first)s::int, %(c_last)s::int) c,
       generate_series(1, %(messages)s::int) s,
       bench.corpus
"""

# An agent's session: item s is a user's message, a function call, its output or the assistant's output
# message, in turn; the content is what ChatStoreSession makes readable of it.
AGENT_ITEMS = """
insert into chat.messages (conversation_id, user_id, seq, role, content, metadata, created_at)
select bench.conversation_uuid(%(user)s, %(c)s), bench.user_uuid(%(user)s), s,
       case s %% 4 when 1 then 'user' when 3 then 'tool' else 'assistant' end,
       case s %% 4 when 2 then 'add_task(' || (item ->> 'arguments') || ')'
                   when 3 then item ->> 'output' else t.text end,
       jsonb_build_object('agents_item', item),
       timestamptz '2026-01-01' + make_interval(secs => s * 30)
  from generate_series(1, %(items)s::int) s,
       bench.corpus,
       -- (s in it: a text of its own for each item, not one for all)
       lateral (select substr(corpus.text, 1 + (random() * 2000)::int + 0 * s, bench.content_length()) as text) t,
       lateral (select case s %% 4
         when 1 then jsonb_build_object('role', 'user', 'content', t.text)
         when 2 then jsonb_build_object('type', 'function_call', 'call_id', 'call_' || s, 'name', 'add_task',
                                        'arguments', jsonb_build_object('title', left(t.text, 40))::text)
         when 3 then jsonb_build_object('type', 'function_call_output', 'call_id', 'call_' || (s - 1),
                                        'output', jsonb_build_object('id', s, 'title', left(t.text, 40))::text)
         else jsonb_build_object('id', 'msg_' || s, 'type', 'message', 'role', 'assistant', 'status', 'completed',
                                 'content', jsonb_build_array(jsonb_build_object(
                                   'type', 'output_text', 'text', t.text, 'annotations', '[]'::jsonb)))
         end as item) i
"""

CONVERSATIONS = """
insert into chat.conversations (id, user_id, title, message_count, created_at, updated_at)
select bench.conversation_uuid(u, c), bench.user_uuid(u), 'conversation ' || c, %(messages)s,
       timestamptz '2026-01-01' + make_interval(days => c %% 300),
       timestamptz '2026-01-01' + make_interval(days => c %% 300, secs => %(messages)s * 30 + u)
  from generate_series(%(first)s::int, %(last)s::int) u,
       generate_series(%(c_first)s::int, %(c_last)s::int) c
"""


def user_uuid(u: int) -> uuid.UUID:
    return uuid.UUID(f"00000000-0000-4000-8000-{u:012x}")


def conversation_uuid(u: int, c: int) -> uuid.UUID:
    return uuid.UUID(f"{u:08x}-0000-4000-9000-{c:012x}")


LONG_CONVERSATION = (1, 0)
MEDIUM_CONVERSATION = (2, 0)
# the agents' sessions: 10,000 items (user 1) and 1,000 (user 2)
AGENT_SESSION = 1000
LONG_SESSION = (1, AGENT_SESSION)
MEDIUM_SESSION = (2, AGENT_SESSION)


def users_in(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from chat.users").fetchone()[0]


def messages_in(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from chat.messages").fetchone()[0]


def _add(conn, first: int, last: int, c_first: int, c_last: int, messages: int) -> None:
    params = dict(first=first, last=last, c_first=c_first, c_last=c_last, messages=messages)
    conn.execute(CONVERSATIONS, params)
    conn.execute(MESSAGES, params)


def grow(conn: psycopg.Connection, users: int, *, progress: bool = True) -> None:
    """Grows the data set to ``users`` users (the first call also makes the long conversations)."""
    conn.execute(SCHEMA)
    have = users_in(conn)
    if have == 0:
        conn.execute("insert into chat.users (id) select bench.user_uuid(u) from generate_series(1, 2) u")
        _add(conn, 1, 1, 0, 0, LONG)
        _add(conn, 2, 2, 0, 0, MEDIUM)
        for (user, c), items in ((LONG_SESSION, LONG), (MEDIUM_SESSION, MEDIUM)):
            conn.execute(CONVERSATIONS, dict(first=user, last=user, c_first=c, c_last=c, messages=items))
            conn.execute(AGENT_ITEMS, dict(user=user, c=c, items=items))
        have = 2
        conn.execute("insert into chat.users (id) select bench.user_uuid(u) from generate_series(3, %s::int) u",
                     [max(users, 2)])
        _add(conn, 1, 2, 1, CONVERSATIONS_PER_USER, MESSAGES_PER_CONVERSATION)
    else:
        conn.execute("insert into chat.users (id) select bench.user_uuid(u) from generate_series(%s::int, %s::int) u",
                     [have + 1, users])
    # users 1 and 2 are done; the others in batches, with a progress bar
    start = max(have + 1, 3)
    with tqdm(total=max(0, users - start + 1) * CONVERSATIONS_PER_USER * MESSAGES_PER_CONVERSATION,
              unit=" messages", unit_scale=True, disable=not progress, desc=f"data set to {users} users") as bar:
        for first in range(start, users + 1, BATCH_USERS):
            last = min(users, first + BATCH_USERS - 1)
            _add(conn, first, last, 1, CONVERSATIONS_PER_USER, MESSAGES_PER_CONVERSATION)
            bar.update((last - first + 1) * CONVERSATIONS_PER_USER * MESSAGES_PER_CONVERSATION)
    conn.execute("vacuum analyze chat.conversations")
    conn.execute("vacuum analyze chat.messages")
