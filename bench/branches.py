"""What the tree of messages costs a read: ``fetch_recent(50)`` against the function as it was before it read
the active path, and on a conversation whose path an edit has forked 200 times.

The function before the tree (its body at tag @v0.9.0, which read the newest messages by seq) is installed
beside the current one, as ``bench_before.fetch_recent`` in a schema of the benchmark's own database, so that
both are timed by the same server in the same rounds: on a conversation nobody branches the two must return
the same rows, and the current one must cost no more than 1.1 times the other (the price of asking for the
head's stretch). A conversation edited along its way is read stretch by stretch; the branched conversation
here (user 1's, of about 10,000 messages) is built the way people make one, by the writers themselves:
STRETCH messages appended, the last one edited, EDITS times, then half a stretch, so that its active path
crosses EDITS + 1 stretches, the versions edited away stay beside it, and its newest 50 messages lie across the
head's stretch and the one before it.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import psycopg

from bench.dataset import CONVERSATIONS, conversation_uuid, user_uuid

ROOT = Path(__file__).resolve().parent.parent
BEFORE_SOURCE = ROOT / "db" / "deploy" / "fetch_recent@v0.9.0.sql"
BEFORE_SCHEMA = "bench_before"
BEFORE_RECENT = f"{BEFORE_SCHEMA}.fetch_recent"

# the workloads: fetch_recent(50) now and before on the long conversation, now on the branched one; and the
# subject of the one before (ours, with the function before the tree)
TREE_SERVER = "recent50_tree_server"
BRANCHED_SERVER = "recent50_branched_server"
BEFORE_SUBJECT = "ours@v0.9.0"
# calls per timed statement: recent50_server's 1,000 for the two on the long conversation; on the branched one
# as many while a statement of them takes at most BRANCHED_STATEMENT_MS, fewer (not under 20) when each call takes
# longer, so that a read gone slow (a plan that scans the whole conversation) still ends a round in seconds
SERVER_CALLS = 1000
BRANCHED_STATEMENT_MS = 250.0

BRANCHED_CONVERSATION = (1, 2000)  # user 1's, beside the long conversation (0) and the agent's session (1000)
EDITS = 200
STRETCH = 50

# STRETCH (or n) messages after the head, in one append_messages: roles alternating, contents as the data set's
APPEND = """
select count(*)
  from chat.append_messages(%(conversation)s, (
         select jsonb_agg(jsonb_build_object(
                  'role', case when i %% 2 = 0 then 'user' else 'assistant' end,
                  'content', substr(corpus.text, 1 + (random() * 2000)::int + 0 * i, bench.content_length()))
                  order by i)
           from generate_series(0, %(n)s::int - 1) i, bench.corpus))
"""

# a new version of the head: beside it, and the head from now on
EDIT = """
select e.seq
  from chat.conversations c, bench.corpus,
       lateral chat.edit_message(c.id, c.head_seq,
                                 substr(corpus.text, 1 + (random() * 2000)::int, bench.content_length())) e
 where c.user_id = %(user)s and c.id = %(conversation)s
"""


def branched_args() -> tuple[UUID, UUID]:
    """(user, conversation) of the branched conversation."""
    return user_uuid(BRANCHED_CONVERSATION[0]), conversation_uuid(*BRANCHED_CONVERSATION)


def branched_calls(call_ms: float) -> int:
    """Calls a timed statement of the branched read makes, from one call's server time (a probe's)."""
    return max(20, min(SERVER_CALLS, int(BRANCHED_STATEMENT_MS / max(call_ms, 1e-3))))


def install_before(conn: psycopg.Connection) -> None:
    """``bench_before.fetch_recent``: the body of fetch_recent at @v0.9.0 (by seq, before the tree), under
    another name, executable by the runtime role. Its labels (``fetch_recent.max_count``) name the function,
    not its schema, so only the name it is created under changes."""
    source = BEFORE_SOURCE.read_text()
    if source.count("chat.fetch_recent(") != 1:
        raise RuntimeError(f"{BEFORE_SOURCE.name}: expected one chat.fetch_recent( to rename")
    conn.execute(f"create schema if not exists {BEFORE_SCHEMA}")
    conn.execute(f"grant usage on schema {BEFORE_SCHEMA} to chat_app")
    conn.execute(source.replace("chat.fetch_recent(", f"{BEFORE_RECENT}("))
    conn.execute(f"grant execute on function {BEFORE_RECENT}(uuid, integer) to chat_app")


def build_branched(conn: psycopg.Connection, edits: int = EDITS, stretch: int = STRETCH) -> None:
    """The branched conversation, written as its user by chat.append_messages and chat.edit_message (so that
    parents, stretches and the head are what the writers make of them), in one transaction."""
    user, conversation = branched_args()
    params = {"user": user, "conversation": conversation, "n": stretch}
    with conn.transaction():
        conn.execute(CONVERSATIONS, dict(first=BRANCHED_CONVERSATION[0], last=BRANCHED_CONVERSATION[0],
                                         c_first=BRANCHED_CONVERSATION[1], c_last=BRANCHED_CONVERSATION[1],
                                         messages=0))
        conn.execute("select set_config('app.user_id', %s, true)", [str(user)])
        for _ in range(edits):
            conn.execute(APPEND, params)
            conn.execute(EDIT, params)
        conn.execute(APPEND, {**params, "n": max(1, stretch // 2)})


def stretches(conn: psycopg.Connection, user: UUID, conversation: UUID) -> list[tuple[int, int]]:
    """The (from, to) seq ranges of the conversation's active path, newest first, as its readers find them."""
    with conn.transaction():
        conn.execute("select set_config('app.user_id', %s, true)", [str(user)])
        return conn.execute("select r.from_seq, r.to_seq from chat.conversations c,"
                            " lateral chat_private.path_ranges(c.id, c.head_seq) r"
                            " where c.user_id = %s and c.id = %s", [user, conversation]).fetchall()


def recent_rows(conn: psycopg.Connection, function: str, user: UUID, conversation: UUID, n: int = 50,
                columns: str = "*") -> list[tuple]:
    """What ``function(conversation, n)`` returns to ``user`` on ``conn`` (the runtime role's, for RLS)."""
    with conn.transaction():
        conn.execute("select set_config('app.user_id', %s, true)", [str(user)])
        return conn.execute(f"select {columns} from {function}(%s, %s)", [conversation, n]).fetchall()


def check_before(conn: psycopg.Connection, user: UUID, conversation: UUID, n: int = 50) -> None:
    """The function before the tree returns the same rows as the current one on a conversation nobody
    branches: a ratio of their times compares the same work. Raises when it does not."""
    now, before = (recent_rows(conn, function, user, conversation, n)
                   for function in ("chat.fetch_recent", BEFORE_RECENT))
    if len(now) != n or now != before:
        seqs = [[seq for (seq,) in recent_rows(conn, function, user, conversation, n, "seq")]
                for function in ("chat.fetch_recent", BEFORE_RECENT)]
        raise RuntimeError(f"chat.fetch_recent and {BEFORE_RECENT} differ on {conversation}: seqs {seqs}")


def check_branched(conn: psycopg.Connection, n: int = 50) -> None:
    """fetch_recent(n) of the branched conversation reads n messages of its active path across at least two
    stretches (else the workload would time the branch-free read again). Raises when it does not."""
    seqs = [seq for (seq,) in recent_rows(conn, "chat.fetch_recent", *branched_args(), n, "seq")]
    if len(seqs) != n or seqs == list(range(seqs[0], seqs[0] + n)):
        raise RuntimeError(f"fetch_recent({n}) of the branched conversation is not across stretches: {seqs}")
