"""``python -m bench.agent [--users N] [--rounds R] [--seconds S] [--repeats K]``: what an agent's memory
costs here against what its users would pick instead, on their own and quickly.

The same data set as ``make bench`` (fewer users), on the server the libpq variables name (PGUSER a
superuser, as for ``python -m bench``). Each pair is measured in interleaved rounds (which goes first
alternates), so that the machine's drift over seconds falls on both alike; the report gives the median of the
rounds with their spread, and their ratio:

- ``ChatStoreSession`` against the Agents SDK's own ``SQLAlchemySession`` (asyncpg) on the same server:
  ``get_items(50)`` of a 10,000-item session and ``get_items()`` of a 1,000-item one (median latency), and
  ``add_items`` of a 4-item turn by 8 clients to random sessions (items per second);
- a 4-message turn in one ``append_messages`` call against langchain-postgres's ``aadd_messages`` of the same
  four, and a single ``append_message`` against its ``aadd_messages`` of one (items per second, 8 clients).

``make bench`` measures the same workloads in its one run beside everything else. A private server for it:

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
from bench.__main__ import agent_workloads, prepare_database, server, url
from bench.ours import Ours
from bench.peers.agents_sqlalchemy import AgentsSQLAlchemy
from bench.peers.langchain_history import LangchainHistory

# (what, its measure, the workload's name)
PAIRS = [
    ("get_items(50) of 10,000 items, ms", "median_ms", "agent_items50"),
    ("get_items() of 1,000 items, ms", "median_ms", "agent_items_all"),
    ("add_items of a 4-item turn, items/s", "throughput", "agent_turn4"),
    ("a 4-message turn in one call, items/s", "throughput", "turn4_batch"),
    ("a single append, items/s", "throughput", "append"),
]


async def run(users: int, rounds: int, seconds: float, repeats: int) -> None:
    password = secrets.token_hex(12)
    prepare_database(password)
    with psycopg.connect(dbname="chat_bench", autocommit=True, **server()) as conn:
        dataset.grow(conn, users, progress=False)
    admin = url(server()["user"], server()["password"])
    ours, sdk, langchain = Ours(url("bench_app", password), "ours"), AgentsSQLAlchemy(admin), LangchainHistory(admin)
    for subject in (ours, sdk, langchain):
        await subject.open()
        await subject.load()
    with psycopg.connect(dbname="chat_bench", autocommit=True, **server()) as conn:
        conn.execute("vacuum (analyze)")
        conn.execute("checkpoint")

    def measures(subject) -> dict:
        found = agent_workloads(subject, 0, users, seconds, repeats)
        if hasattr(subject, "append_turn"):
            found["turn4_batch"] = lambda: workloads.turn_items_load(subject, 0, users, seconds, batch=True)
        found["append"] = lambda: workloads.append_load(subject, 0, users, seconds)
        return found

    pairs = [(what, measure, workload, ours, sdk if workload.startswith("agent") else langchain)
             for what, measure, workload in PAIRS]
    of = {subject.name: measures(subject) for subject in (ours, sdk, langchain)}
    seen: dict[tuple[str, str], list[float]] = {}
    try:
        for n in range(rounds):
            for _, measure, workload, a, b in pairs:
                for subject in (a, b) if n % 2 == 0 else (b, a):
                    result = await of[subject.name][workload]()
                    seen.setdefault((subject.name, workload), []).append(getattr(result, measure))
            print(f"bench.agent: round {n + 1} of {rounds}", file=sys.stderr)
    finally:
        for subject in (ours, sdk, langchain):
            await subject.close()

    print(f"\nmedians of {rounds} interleaved rounds ({seconds:g} s of load, {repeats} calls), [spread]\n")
    print("| measure | ours | median | peer | median | ratio |")
    print("|---|---|---:|---|---:|---:|")
    for what, _, workload, a, b in pairs:
        x, y = seen[(a.name, workload)], seen[(b.name, workload)]
        print(f"| {what} | {a.name} | {workloads.median_and_spread(x)} | {b.name} | "
              f"{workloads.median_and_spread(y)} | {statistics.median(x) / statistics.median(y):.2f} |")


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
