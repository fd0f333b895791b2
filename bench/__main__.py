"""``python -m bench [--scale S]``: the whole benchmark, in one run, on one server.

The server is the one the libpq variables name (PGUSER a superuser; ``make
bench`` starts a private one). The run creates database ``chat_bench``,
deploys the plan, grows the data set in three steps (1 %, 10 % and 100 % of
the users) measuring the scale curve at each, adds a conversation edited
200 times along its active path and fetch_recent as it was before the tree
(bench.branches), copies the final data set into the peers' own tables,
makes two small databases for the append at the plan and at @v0.8.0
(bench.earlier_plan) and one for the append followed by live updates
(bench.live_updates), then measures in interleaved rounds: each round runs
every workload of every subject once, the subjects in a rotated order, so
that the machine's drift over seconds falls on all alike. It writes the
results (JSON: medians of the rounds with their spread), BENCHMARKS.md and
the chart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg import sql

from bench import branches, dataset, earlier_plan, live_updates, pgbench, report, workloads
from bench.bare import BarePsycopg
from bench.ours import Ours, OursOnReplica

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "chat_bench"
FULL_USERS = 1000


def server() -> dict:
    return {"host": os.environ.get("PGHOST", "127.0.0.1"), "port": int(os.environ.get("PGPORT", "5432")),
            "user": os.environ.get("PGUSER", "postgres"), "password": os.environ.get("PGPASSWORD", "")}


def url(user: str, password: str, port: int | None = None) -> str:
    s = server()
    return f"postgresql://{user}:{password}@{s['host']}:{port or s['port']}/{DATABASE}"


def prepare_database(password: str) -> None:
    """A fresh database with the plan deployed, and the two login roles of the subjects."""
    s = server()
    with psycopg.connect(dbname="postgres", autocommit=True, **s) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(DATABASE)))
    env = {**os.environ, "PGPASSWORD": s["password"], "SQITCH_USER_CONFIG": os.devnull}
    subprocess.run(["sqitch", "--quiet", "deploy", f"db:pg://{s['user']}@{s['host']}:{s['port']}/{DATABASE}"],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    with psycopg.connect(dbname=DATABASE, autocommit=True, **s) as conn:
        for role, extra in (("bench_app", sql.SQL("")), ("bench_bypass", sql.SQL("bypassrls"))):
            exists = conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone()
            conn.execute(sql.SQL("{} role {} login {} password {}").format(
                sql.SQL("alter" if exists else "create"), sql.Identifier(role), extra, sql.Literal(password)))
            conn.execute(sql.SQL("grant chat_app to {}").format(sql.Identifier(role)))
        conn.execute("create extension if not exists pg_stat_statements")


def peers(admin_url: str) -> list:
    """The peers that can be imported here (their packages are in the bench dependency group)."""
    found = []
    try:
        from bench.peers.sqlmodel_design import SQLModelDesign
        found.append(SQLModelDesign(admin_url))
    except ImportError as error:
        print(f"bench: SQLModel design unavailable: {error}", file=sys.stderr)
    try:
        from bench.peers.langchain_history import LangchainHistory
        found.append(LangchainHistory(admin_url))
    except ImportError as error:
        print(f"bench: langchain-postgres unavailable: {error}", file=sys.stderr)
    try:
        from bench.peers.agents_sqlalchemy import AgentsSQLAlchemy
        found.append(AgentsSQLAlchemy(admin_url))
    except ImportError as error:
        print(f"bench: the Agents SDK's SQLAlchemySession unavailable: {error}", file=sys.stderr)
    return found


def workloads_of(subject, size: int, users: int, seconds: float, repeats: int) -> list:
    """The workloads ``subject`` can run, each a coroutine function returning one Result."""
    long_user, long_c = dataset.LONG_CONVERSATION
    medium_user, medium_c = dataset.MEDIUM_CONVERSATION
    long_args = (dataset.user_uuid(long_user), dataset.conversation_uuid(long_user, long_c))
    medium_args = (dataset.user_uuid(medium_user), dataset.conversation_uuid(medium_user, medium_c))
    some_user: UUID = dataset.user_uuid(3)
    slow = subject.name == "langchain-postgres"  # reads whole conversations: fewer repeats
    few = max(5, repeats // 10) if slow else repeats
    has = lambda method: hasattr(subject, method)  # noqa: E731
    found = []
    if has("recent"):
        found.append(lambda: workloads.latency(subject, "recent50", size, lambda: subject.recent(*long_args, 50),
                                               few))
    if has("page"):
        found.append(lambda: workloads.latency(subject, "page100", size,
                                               lambda: subject.page(*long_args, 5000, 100), few))
    if has("whole"):
        found.append(lambda: workloads.latency(subject, "whole1000", size, lambda: subject.whole(*medium_args),
                                               max(5, repeats // 4)))
    if has("conversations"):
        found.append(lambda: workloads.latency(subject, "list20", size,
                                               lambda: subject.conversations(some_user, 20), repeats))
    if has("turn"):
        found.append(lambda: workloads.latency(
            subject, "turn", size,
            lambda: subject.turn(some_user, dataset.conversation_uuid(3, 1), workloads.CONTENT),
            max(5, repeats // 4)))
    if has("append"):
        found.append(lambda: workloads.append_load(subject, size, users, seconds))
    if has("append_turn"):
        found.append(lambda: workloads.turn_items_load(subject, size, users, seconds, batch=True))
    if has("append_turn_singly"):
        found.append(lambda: workloads.turn_items_load(subject, size, users, seconds, batch=False))
    found += agent_workloads(subject, size, users, seconds, repeats).values()
    return found


def agent_workloads(subject, size: int, users: int, seconds: float, repeats: int) -> dict:
    """An agent's session, by workload: its latest 50 of 10,000 items, the whole of 1,000, and a turn's 4 items
    stored; and, where the session takes a token budget, the newest of the 10,000 items within CONTEXT_TOKENS."""
    if not hasattr(subject, "agent_items"):
        return {}
    long_session = (dataset.user_uuid(dataset.LONG_SESSION[0]), dataset.conversation_uuid(*dataset.LONG_SESSION))
    medium_session = (dataset.user_uuid(dataset.MEDIUM_SESSION[0]),
                      dataset.conversation_uuid(*dataset.MEDIUM_SESSION))
    found = {
        "agent_items50": lambda: workloads.latency(subject, "agent_items50", size,
                                                   lambda: subject.agent_items(*long_session, 50), repeats),
        "agent_items_all": lambda: workloads.latency(subject, "agent_items_all", size,
                                                     lambda: subject.agent_items(*medium_session, None),
                                                     max(5, repeats // 4)),
        "agent_turn4": lambda: workloads.agent_turn_load(subject, size, users, seconds),
    }
    if hasattr(subject, "agent_context"):
        found[workloads.BUDGETED_ITEMS] = lambda: workloads.latency(
            subject, workloads.BUDGETED_ITEMS, size,
            lambda: subject.agent_context(*long_session, workloads.CONTEXT_TOKENS), repeats)
    return found


async def count_context(ours: Ours) -> dict:
    """What CONTEXT_TOKENS hold, counted once: the messages of the 10,000-message conversation's context and the
    items of the 10,000-item session's (the same chat.fetch_context under both), with their tokens. The
    contents are log-normal (median about 200 characters, mean about 400: about 100 tokens a message by the
    database's estimate), so the budget holds more messages than a count of 50: the ratios per message say it."""
    counted = {"max_tokens": workloads.CONTEXT_TOKENS}
    for name, (user, c) in (("conversation", dataset.LONG_CONVERSATION), ("session", dataset.LONG_SESSION)):
        rows = await ours.context(dataset.user_uuid(user), dataset.conversation_uuid(user, c),
                                  workloads.CONTEXT_TOKENS)
        counted[name] = {"messages": len(rows), "tokens": sum(row.tokens for row in rows),
                         "over_budget": sum(row.over_budget for row in rows)}
    return counted


class PgbenchSubject:
    """pgbench, the server's own limit, as a subject of the rounds."""
    name = "pgbench"

    def __init__(self, conninfo: dict, users: int):
        self.conninfo = conninfo
        self.users = users

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def load(self) -> None: ...

    def workloads(self, size: int, seconds: float) -> list:
        def run(script: str, workload: str, clients: int):
            async def measure() -> workloads.Result:
                return await asyncio.to_thread(pgbench.run, script, name=self.name, workload=workload, size=size,
                                               conninfo=self.conninfo, seconds=seconds, clients=clients)
            return measure
        return [run(pgbench.append_script(self.users), "append", workloads.CLIENTS),
                run(pgbench.recent_script(), "recent50", 1)]


def replica_caught_up(primary: psycopg.Connection, replica_port: int, timeout: float = 600.0) -> None:
    """Waits until the standby has replayed all the primary has written (the data set, its vacuum). One commit
    that waits for its WAL flushes all before it, also on a server that commits without waiting."""
    with primary.transaction():
        primary.execute("set local synchronous_commit = on")
        primary.execute("select pg_current_xact_id()")
    (target,) = primary.execute("select pg_current_wal_flush_lsn()").fetchone()
    deadline = time.monotonic() + timeout
    with psycopg.connect(dbname=DATABASE, autocommit=True, **{**server(), "port": replica_port}) as conn:
        while not conn.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]).fetchone()[0]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the replica did not replay up to {target} in {timeout:g} s")
            time.sleep(0.1)


async def run(scale: float, rounds: int, seconds: float, repeats: int, out: Path,
              replica_port: int | None = None) -> dict:
    password = secrets.token_hex(12)
    prepare_database(password)
    s = server()
    admin = url(s["user"], s["password"])
    ours = Ours(url("bench_app", password), "ours")
    bypass = Ours(url("bench_bypass", password), "ours-bypass-rls")
    bare = BarePsycopg(url("bench_app", password))
    pgbench_conn = {**s, "user": "bench_app", "password": password, "dbname": DATABASE}
    users = max(3, round(FULL_USERS * scale))
    results: list[workloads.Result] = []

    # the scale curve: the same fetch at 1 %, 10 % and 100 % of the data set
    long_args = (dataset.user_uuid(1), dataset.conversation_uuid(1, 0))
    with psycopg.connect(dbname=DATABASE, autocommit=True, **s) as conn:
        for step_users in sorted({max(3, users // 100), max(3, users // 10), users}):
            dataset.grow(conn, step_users)
            size = dataset.messages_in(conn)
            await ours.open()
            results.append(await workloads.latency(ours, "scale_recent50", size,
                                                    lambda: ours.recent(*long_args, 50), repeats))
            results.append(await workloads.latency(ours, "scale_page100", size,
                                                   lambda: ours.page(*long_args, 5000, 100), repeats))
            await ours.close()
        # the conversation an edit forked EDITS times along its active path, and fetch_recent as it was before it
        # read the path (bench.branches)
        branches.build_branched(conn)
        branches.install_before(conn)
        size = dataset.messages_in(conn)
        if replica_port:
            replica_caught_up(conn, replica_port)

    # every subject open and loaded, then measured in rounds: in each round every subject runs each of its
    # workloads once, the subjects in a rotated order, so that the machine's drift falls on all of them alike
    subjects = [ours, bypass, bare, *peers(admin)]
    if replica_port:
        subjects.insert(1, OursOnReplica(url("bench_app", password), url("bench_app", password, replica_port)))
    for subject in subjects:
        print(f"bench: loading {subject.name}", file=sys.stderr)
        await subject.open()
        await subject.load()
    # the single append at the plan as it is and at an earlier tag, each in a small database of its own
    print(f"bench: the plan, and the plan at {earlier_plan.TAG}, in databases of their own", file=sys.stderr)
    appends_since = earlier_plan.EarlierPlanAppends(pgbench_conn, earlier_plan.prepare(s, DATABASE))
    # the single append with 100 streams of live updates following its users, and with none, in another
    print("bench: live updates, in a database of its own", file=sys.stderr)
    followed = live_updates.LiveUpdateAppends(s, pgbench_conn, live_updates.prepare(s, DATABASE))
    # the peers' copies vacuumed and their pages written out now, so that the first round does not pay for it
    print("bench: vacuum and checkpoint", file=sys.stderr)
    with psycopg.connect(dbname=DATABASE, autocommit=True, **s) as conn:
        conn.execute("vacuum (analyze)")
        conn.execute("checkpoint")
    if replica_port:
        with psycopg.connect(dbname=DATABASE, autocommit=True, **s) as conn:
            replica_caught_up(conn, replica_port)
    pgbench_subject = PgbenchSubject(pgbench_conn, users)
    plans = [(subject.name, workloads_of(subject, size, users, seconds, repeats)) for subject in subjects]
    # the server's own time, statement by statement in turn: fetch_recent(50) as the runtime role and as the role
    # with BYPASSRLS (what RLS costs the server), and fetch_context(CONTEXT_TOKENS) as the runtime role (what a
    # budget costs against a count), and fetch_recent of as many messages as the budget holds (against a count of
    # the same rows)
    long_args = (dataset.user_uuid(dataset.LONG_CONVERSATION[0]), dataset.conversation_uuid(*dataset.LONG_CONVERSATION))
    context = await count_context(ours)
    budget, in_budget = workloads.CONTEXT_TOKENS, context["conversation"]["messages"]
    # and fetch_recent(50) now and before the tree (the same rows, checked here first), and now on the branched
    # conversation (across stretches, checked too; as many calls a statement as a probe says take 250 ms), in turn
    branched_args = branches.branched_args()
    with psycopg.connect(url("bench_app", password), autocommit=True) as conn:
        branches.check_before(conn, *long_args)
        branches.check_branched(conn)
    calls = branches.SERVER_CALLS
    branched_calls = branches.branched_calls(await ours.recent_server_ms(*branched_args, 50, calls=10))
    plans.append(("server", [lambda: workloads.server_times([
        workloads.ServerTimed(ours.name, "recent50_server", lambda: ours.recent_server_ms(*long_args, 50), 50),
        workloads.ServerTimed(bypass.name, "recent50_server", lambda: bypass.recent_server_ms(*long_args, 50), 50),
        workloads.ServerTimed(ours.name, workloads.BUDGETED_SERVER,
                              lambda: ours.context_server_ms(*long_args, budget), in_budget),
        workloads.ServerTimed(ours.name, workloads.RECENT_AS_BUDGETED_SERVER,
                              lambda: ours.recent_server_ms(*long_args, in_budget), in_budget),
    ], size), lambda: workloads.server_times([
        workloads.ServerTimed(ours.name, branches.TREE_SERVER,
                              lambda: ours.recent_server_ms(*long_args, 50, calls=calls), 50),
        workloads.ServerTimed(branches.BEFORE_SUBJECT, branches.TREE_SERVER,
                              lambda: ours.recent_server_ms(*long_args, 50, branches.BEFORE_RECENT, calls), 50),
        workloads.ServerTimed(ours.name, branches.BRANCHED_SERVER,
                              lambda: ours.recent_server_ms(*branched_args, 50, calls=branched_calls), 50),
    ], size)]))
    plans.append((pgbench_subject.name, pgbench_subject.workloads(size, seconds)))
    plans.append(("plan " + earlier_plan.TAG, appends_since.workloads(seconds)))
    plans.append(("live updates", followed.workloads(seconds)))
    try:
        for n in range(rounds):
            print(f"bench: round {n + 1} of {rounds}", file=sys.stderr)
            shift = n % len(plans)
            for name, found in plans[shift:] + plans[:shift]:
                for workload in found:
                    measured = await workload()
                    for result in measured if isinstance(measured, list) else [measured]:
                        result.round = n
                        results.append(result)
    finally:
        for subject in subjects:
            await subject.close()
        followed.stop_service()

    data = report.collect(results, scale=scale, rounds=rounds, seconds=seconds, repeats=repeats, server=s,
                          context=context)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the 1,000 users (default 1: 2 million messages)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of every subject (default 5)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run, per round")
    parser.add_argument("--repeats", type=int, default=100, help="calls per latency workload, per round")
    parser.add_argument("--replica-port", type=int, default=None,
                        help="the port of a streaming standby of the server (same host): its reads are measured "
                             "too (make bench starts one)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where results go")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write BENCHMARKS.md and the chart here (a directory)")
    args = parser.parse_args(argv)
    data = asyncio.run(run(args.scale, args.rounds, args.seconds, args.repeats, args.out, args.replica_port))
    report.print_targets(data)
    if args.report:
        report.write(data, args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
