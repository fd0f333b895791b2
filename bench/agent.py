"""``python -m bench.agent [--users N] [--rounds R] [--seconds S] [--repeats K]``: what the agent
session's calls cost, on their own and quickly.

Two comparisons, each measured in interleaved rounds (which goes first alternates), so that the
machine's drift over seconds falls on both alike; the report gives the median of the rounds with
their spread:

- a 4-item agent turn (the user's words, a tool call, its output, the reply) written by 8 clients to
  random conversations: in one ``append_messages`` call, against one ``append_message`` per item;
  items per second;
- ``ChatStoreSession.get_items(50)`` on the 10,000-message conversation, against the plain
  ``fetch_recent(50)`` it reads through; median latency.

``make bench`` measures the same workloads (``turn4_batch``, ``turn4_single``, ``get_items50``) in
its one run beside everything else. The server is the one the libpq variables name (PGUSER a
superuser), as for ``python -m bench``; a private one for the run:

    eval "$(scripts/pg-cluster start /tmp/chat-agent/pg)"   # durable (fsync on), as make bench
    .venv/bin/python -m bench.agent
    scripts/pg-cluster stop /tmp/chat-agent/pg
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys

import psycopg

from bench import dataset, workloads
from bench.__main__ import prepare_database, server, url
from bench.ours import Ours


async def run(users: int, rounds: int, seconds: float, repeats: int) -> None:
    password = secrets.token_hex(12)
    prepare_database(password)
    with psycopg.connect(dbname="chat_bench", autocommit=True, **server()) as conn:
        dataset.grow(conn, users, progress=False)
    ours = Ours(url("bench_app", password), "ours")
    await ours.open()
    long_args = (dataset.user_uuid(1), dataset.conversation_uuid(1, 0))
    pairs = {
        "items/s of a 4-item turn, 8 clients": (
            ("append_messages", lambda: workloads.turn_items_load(ours, 0, users, seconds, batch=True)),
            ("append_message per item", lambda: workloads.turn_items_load(ours, 0, users, seconds, batch=False)),
            "throughput"),
        "latency (ms) of the latest 50 of 10,000": (
            ("get_items(50)", lambda: workloads.latency(ours, "get_items50", 0,
                                                        lambda: ours.session_items(*long_args, 50), repeats)),
            ("fetch_recent(50)", lambda: workloads.latency(ours, "recent50", 0,
                                                           lambda: ours.recent(*long_args, 50), repeats)),
            "median_ms"),
    }
    seen: dict[str, list[float]] = {}
    try:
        for n in range(rounds):
            for what, (first, second, measure) in pairs.items():
                for name, measured in (first, second) if n % 2 == 0 else (second, first):
                    result = await measured()
                    seen.setdefault(name, []).append(getattr(result, measure))
            print(f"bench.agent: round {n + 1} of {rounds}", file=sys.stderr)
    finally:
        await ours.close()

    print(f"\nmedians of {rounds} interleaved rounds ({seconds:g} s of load, {repeats} calls), [spread]\n")
    print("| measure | subject | median | other | median | ratio |")
    print("|---|---|---:|---|---:|---:|")
    for what, ((a, _), (b, _), _) in pairs.items():
        x, y = seen[a], seen[b]
        print(f"| {what} | {a} | {workloads.median_and_spread(x)} | {b} | {workloads.median_and_spread(y)} "
              f"| {statistics.median(x) / statistics.median(y):.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agent", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="users of the data set (default 20)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run (default 5)")
    parser.add_argument("--repeats", type=int, default=300, help="calls per latency run (default 300)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.users, args.rounds, args.seconds, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
