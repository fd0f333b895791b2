"""``python -m bench.rls [--users N] [--rounds R] [--calls C]``: what row-level security costs the reads, as
server time.

A call's latency through a client is mostly the round trip, which hides what the server spends; so each
measure here is one statement making ``--calls`` (200) calls of a read, timed by the server itself
(``EXPLAIN (ANALYZE, TIMING OFF)``'s execution time), as the runtime role (``bench_app``, granted
``chat_app``: the policies apply) and as a role with BYPASSRLS (``bench_bypass``: they do not). The two
run in interleaved rounds (which goes first alternates), so that the machine's drift over seconds falls on
both alike; the report gives the median of the rounds with their spread, and the ratio of the medians.

The reads: ``fetch_recent(50)`` and a ``fetch_messages`` page of 100 on the 10,000-message conversation,
``list_conversations(20)`` of its user. Each call's argument depends on the row of ``generate_series``
(``50 + 0 * g``), so that PostgreSQL runs the function once per row instead of once for the statement.

The server is the one the libpq variables name (PGUSER a superuser), as for ``python -m bench``:

    eval "$(scripts/pg-cluster start /tmp/chat-rls/pg)"   # durable (fsync on), as make bench
    .venv/bin/python -m bench.rls
    scripts/pg-cluster stop /tmp/chat-rls/pg
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys

import psycopg

from bench import dataset
from bench.workloads import execution_ms, median_and_spread, server_timed
from bench.__main__ import DATABASE, prepare_database, server

READS = {
    "fetch_recent(50) of 10,000": "chat.fetch_recent(%(conversation)s, 50 + 0 * g)",
    "fetch_messages(after 5,000, 100)": "chat.fetch_messages(%(conversation)s, 5000, 100 + 0 * g)",
    "list_conversations(20)": "chat.list_conversations(20 + 0 * g)",
}

SUBJECTS = {"RLS on (chat_app)": "bench_app", "RLS bypassed": "bench_bypass"}


def server_ms(conn: psycopg.Connection, call: str, calls: int, user, conversation) -> float:
    """The server's execution time of one statement making ``calls`` calls of ``call``, in milliseconds."""
    with conn.transaction():
        conn.execute("select set_config('app.user_id', %s, true)", [str(user)])
        plan = [row[0] for row in conn.execute(server_timed(call), {"calls": calls, "conversation": conversation})]
    return execution_ms(plan)


def run(users: int, rounds: int, calls: int) -> None:
    password = secrets.token_hex(12)
    prepare_database(password)
    with psycopg.connect(dbname=DATABASE, autocommit=True, **server()) as conn:
        dataset.grow(conn, users, progress=False)
        conn.execute("vacuum analyze")
    user, conversation = dataset.user_uuid(1), dataset.conversation_uuid(*dataset.LONG_CONVERSATION)
    s = server()
    connections = {subject: psycopg.connect(host=s["host"], port=s["port"], dbname=DATABASE, user=role,
                                            password=password, autocommit=True)
                   for subject, role in SUBJECTS.items()}
    seen: dict[tuple[str, str], list[float]] = {}
    try:
        for subject in connections.values():  # warm: plans cached, pages in memory
            for call in READS.values():
                server_ms(subject, call, calls, user, conversation)
        for n in range(rounds):
            order = list(SUBJECTS) if n % 2 == 0 else list(reversed(SUBJECTS))
            for read, call in READS.items():
                for subject in order:
                    seen.setdefault((read, subject), []).append(
                        server_ms(connections[subject], call, calls, user, conversation))
            print(f"bench.rls: round {n + 1} of {rounds}", file=sys.stderr)
    finally:
        for conn in connections.values():
            conn.close()

    on, off = SUBJECTS
    print(f"\nserver time (ms) of one statement of {calls} calls, medians of {rounds} interleaved rounds, [spread]\n")
    print(f"| read | {on} | {off} | ratio |")
    print("|---|---:|---:|---:|")
    for read in READS:
        x, y = seen[read, on], seen[read, off]
        print(f"| {read} | {median_and_spread(x)} | {median_and_spread(y)} "
              f"| {statistics.median(x) / statistics.median(y):.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rls", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="users of the data set (default 20)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--calls", type=int, default=200, help="calls per statement (default 200)")
    args = parser.parse_args(argv)
    run(args.users, args.rounds, args.calls)
    return 0


if __name__ == "__main__":
    sys.exit(main())
