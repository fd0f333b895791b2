"""``python -m bench.prepared [--users N] [--rounds R] [--repeats K]``: what
psycopg's prepared statements are worth to this project's calls.

The same ``ChatStore`` calls over two pools of one server, one preparing
statements after five executions (psycopg's default, ``PREPARE_THRESHOLD=5``),
one never preparing (``PREPARE_THRESHOLD=none``, the service's default). The
two are measured in interleaved rounds (which goes first alternates), so that
the machine's drift over seconds falls on both alike; each round's median
latency is kept, and the report gives the median of the rounds with their
spread, and the ratio unprepared / prepared.

The server is the one the libpq variables name (PGUSER a superuser), as for
``python -m bench``; a private one for the run:

    eval "$(scripts/pg-cluster start /tmp/chat-prepared/pg --throwaway)"
    .venv/bin/python -m bench.prepared
    scripts/pg-cluster stop /tmp/chat-prepared/pg
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


async def one_round(subject: Ours, users: int, repeats: int) -> dict[str, float]:
    long_args = (dataset.user_uuid(1), dataset.conversation_uuid(1, 0))
    some_user = dataset.user_uuid(3)
    calls = {
        "recent50": lambda: subject.recent(*long_args, 50),
        "page100": lambda: subject.page(*long_args, 5000, 100),
        "list20": lambda: subject.conversations(some_user, 20),
        "append": lambda: subject.append(some_user, dataset.conversation_uuid(3, 2), "user", workloads.CONTENT),
        "turn": lambda: subject.turn(some_user, dataset.conversation_uuid(3, 1), workloads.CONTENT),
    }
    medians = {}
    for name, call in calls.items():
        result = await workloads.latency(subject, name, 0, call, repeats, warmup=10)
        medians[name] = result.median_ms
    return medians


async def run(users: int, rounds: int, repeats: int) -> None:
    password = secrets.token_hex(12)
    prepare_database(password)
    with psycopg.connect(dbname="chat_bench", autocommit=True, **server()) as conn:
        dataset.grow(conn, users, progress=False)
    subjects = [Ours(url("bench_app", password), "prepared (threshold 5)", prepare_threshold=5),
                Ours(url("bench_app", password), "unprepared (none)", prepare_threshold=None)]
    for subject in subjects:
        await subject.open()
    seen: dict[str, dict[str, list[float]]] = {s.name: {} for s in subjects}
    try:
        for n in range(rounds):
            for subject in subjects if n % 2 == 0 else reversed(subjects):
                for workload, median in (await one_round(subject, users, repeats)).items():
                    seen[subject.name].setdefault(workload, []).append(median)
            print(f"bench.prepared: round {n + 1} of {rounds}", file=sys.stderr)
    finally:
        for subject in subjects:
            await subject.close()

    prepared, unprepared = (seen[s.name] for s in subjects)
    print(f"\nmedian latency (ms) of {rounds} interleaved rounds of {repeats} calls, [spread of the round medians]\n")
    print("| workload | prepared (threshold 5) | unprepared (none) | unprepared / prepared |")
    print("|---|---:|---:|---:|")
    for workload in prepared:
        a, b = prepared[workload], unprepared[workload]
        print(f"| {workload} | {workloads.median_and_spread(a, 3)} | {workloads.median_and_spread(b, 3)} "
              f"| {statistics.median(b) / statistics.median(a):.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.prepared", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="users of the data set (default 20)")
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument("--repeats", type=int, default=300, help="calls per workload per round (default 300)")
    args = parser.parse_args(argv)
    asyncio.run(run(args.users, args.rounds, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
