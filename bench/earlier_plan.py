"""What the plan's changes since an earlier tag cost a single append, in the benchmark's own run and server.

As bench/plan_cost.sh measures it, but within the rounds of ``make bench``: two small databases beside the
benchmark's, one with the plan deployed as it is and one with the plan up to TAG (@v0.8.0, before the tree of
messages: no parent to find, no head to move), seeded alike with USERS users of CONVERSATIONS conversations each
(empty), so that the two differ by the plan only, not by the 2 million messages of the run's data set in their
indexes. Each call of the workload runs pgbench against the one and then the other (which goes first alternates
from one call to the next), with CLIENTS clients as the runtime role, each transaction the user set for the
transaction and ``chat.append_message`` in one pipeline, as the Python layer sends it, to a random conversation
of a random user: many conversations, so that the clients queue on the server and not on one conversation's
lock. The roles are the cluster's, so the login the run made works in both.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from bench import pgbench
from bench.dataset import CONVERSATIONS, SCHEMA
from bench.workloads import CLIENTS, Result

ROOT = Path(__file__).resolve().parent.parent
TAG = "@v0.8.0"
USERS = 100
CONVERSATIONS_PER_USER = 10
WORKLOAD = "plan_append"
NOW, BEFORE = "pgbench", f"pgbench{TAG}"


def databases(run_database: str) -> dict[str, tuple[str, str | None]]:
    """By subject: the database's name and the plan change or tag it is deployed up to (None: the whole plan)."""
    return {NOW: (f"{run_database}_plan", None),
            BEFORE: (f"{run_database}_{TAG.removeprefix('@').replace('.', '_')}", TAG)}


def deploy(server: dict, database: str, to: str | None) -> None:
    """A fresh database with the plan deployed (up to ``to`` when given)."""
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    env = {**os.environ, "PGPASSWORD": server["password"], "SQITCH_USER_CONFIG": os.devnull}
    subprocess.run(["sqitch", "--quiet", "deploy", *(["--to", to] if to else []),
                    f"db:pg://{server['user']}@{server['host']}:{server['port']}/{database}"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def seed(conn: psycopg.Connection) -> None:
    """The benchmark's id helpers (schema bench), and USERS users with CONVERSATIONS_PER_USER empty conversations
    each: what the appends go to."""
    conn.execute(SCHEMA)
    conn.execute("insert into chat.users (id) select bench.user_uuid(u) from generate_series(1, %s::int) u",
                 [USERS])
    conn.execute(CONVERSATIONS, dict(first=1, last=USERS, c_first=1, c_last=CONVERSATIONS_PER_USER, messages=0))
    conn.execute("vacuum analyze")


def prepare(server: dict, run_database: str) -> dict[str, str]:
    """Both databases deployed and seeded; by subject, the database's name."""
    found = {}
    for subject, (database, to) in databases(run_database).items():
        deploy(server, database, to)
        with psycopg.connect(dbname=database, autocommit=True, **server) as conn:
            seed(conn)
        found[subject] = database
    return found


class EarlierPlanAppends:
    """The single append, the plan as it is against the plan at TAG, as one workload of the rounds."""

    def __init__(self, conninfo: dict, names: dict[str, str]):
        self.conninfo = conninfo  # the runtime login, as pgbench.run takes it
        self.names = names        # by subject, the database's name
        self.calls = 0

    async def measure(self, seconds: float) -> list[Result]:
        """One pgbench run of ``seconds`` in each database, the first of them alternating from call to call. The
        results' size is the messages the databases held when seeded (none), not the run's data set's."""
        order = list(self.names) if self.calls % 2 == 0 else list(reversed(self.names))
        self.calls += 1
        script = pgbench.append_script(USERS, first_user=1, conversations=CONVERSATIONS_PER_USER)
        return [await asyncio.to_thread(pgbench.run, script, name=subject, workload=WORKLOAD, size=0,
                                        conninfo={**self.conninfo, "dbname": self.names[subject]},
                                        seconds=seconds, clients=CLIENTS)
                for subject in order]

    def workloads(self, seconds: float) -> list:
        return [lambda: self.measure(seconds)]
