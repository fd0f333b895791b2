"""The benchmark works, at a tiny scale: every subject runs every workload in
every round and does the work (rows counted), every ratio is computed with the
spread of its rounds, the report is written. No timing is asserted here:
numbers come from `make bench`, never from tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psycopg
import pytest

from bench import branches, dataset, earlier_plan, live_updates, report, workloads
from conftest import ROOT


def test_the_benchmark_runs_at_a_tiny_scale(pg_server, standby, tmp_path):
    env = {**os.environ, "PGHOST": pg_server.host, "PGPORT": str(pg_server.port), "PGUSER": pg_server.user,
           "PGPASSWORD": pg_server.password or ""}
    result = subprocess.run([sys.executable, "-m", "bench", "--scale", "0.02", "--rounds", "2", "--seconds", "0.25",
                             "--repeats", "5", "--replica-port", str(standby.port),
                             "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "results.json").read_text())

    rows = {(r["subject"], r["workload"]): r for r in data["results"] if not r["workload"].startswith("scale_")}
    subjects = {subject for subject, _ in rows}
    assert {"ours", "ours-replica", "ours-bypass-rls", "psycopg", "pgbench", "sqlmodel",
            "langchain-postgres", "agents-sqlalchemy"} <= subjects
    assert {r["rounds"] for r in rows.values()} == {2}
    assert all(len(r["per_round"]) == 2 and r["p50_ms_spread"][0] <= r["p50_ms"] <= r["p50_ms_spread"][1]
               for r in rows.values())
    for subject in subjects - {"pgbench", "psycopg", "ours-replica", "agents-sqlalchemy", branches.BEFORE_SUBJECT,
                               earlier_plan.BEFORE, live_updates.FOLLOWED, live_updates.UNFOLLOWED}:
        assert rows[(subject, "recent50")]["rows"] == 50, subject
        assert rows[(subject, "page100")]["rows"] == 100, subject
        assert rows[(subject, "whole1000")]["rows"] == 1000, subject
        assert rows[(subject, "append")]["ops"] > 0, subject
    assert rows[("ours", "list20")]["rows"] == 20
    assert rows[("ours", "turn4_batch")]["ops"] > 0 and rows[("ours", "turn4_single")]["ops"] > 0
    assert rows[("langchain-postgres", "turn4_batch")]["ops"] > 0
    # an agent's session, here and in the Agents SDK's own SQLAlchemySession: the same items read
    for subject in ("ours", "agents-sqlalchemy"):
        assert rows[(subject, "agent_items50")]["rows"] == 50, subject
        assert rows[(subject, "agent_items_all")]["rows"] == 1000, subject
        assert rows[(subject, "agent_turn4")]["ops"] > 0 and rows[(subject, "agent_turn4")]["per_op"] == 4
    assert rows[("pgbench", "append")]["ops"] > 0 and rows[("pgbench", "recent50")]["ops"] > 0
    assert rows[("psycopg", "recent50")]["rows"] == 50 and rows[("psycopg", "append")]["ops"] > 0
    # the reads on the standby find what the primary has
    assert [rows[("ours-replica", w)]["rows"] for w in ("recent50", "page100", "whole1000", "list20")] == [
        50, 100, 1000, 20]
    # the server's own time per call, measured as both roles
    assert rows[("ours", "recent50_server")]["p50_ms"] > 0
    assert rows[("ours-bypass-rls", "recent50_server")]["p50_ms"] > 0
    # the model's context within the budget: counted once, in the conversation and the agent's session (each
    # message at most 10,000 characters, so within 8,000 tokens none is over the budget), its server time in the same
    # rounds as fetch_recent's, and ChatStoreSession's get_items within the budget reads what was counted
    context = data["context"]
    assert context["max_tokens"] == workloads.CONTEXT_TOKENS == 8000
    for counted in (context["conversation"], context["session"]):
        assert 1 < counted["messages"] <= 1000 and 0 < counted["tokens"] <= 8000, context
        assert counted["over_budget"] == 0, context
    assert rows[("ours", "context8000_server")]["p50_ms"] > 0
    assert rows[("ours", "context8000_server")]["rows"] == context["conversation"]["messages"]
    assert [r["round"] for r in rows[("ours", "context8000_server")]["per_round"]] == [
        r["round"] for r in rows[("ours", "recent50_server")]["per_round"]]
    for subject in ("ours", "ours-bypass-rls"):
        assert rows[(subject, "agent_context8000")]["rows"] == context["session"]["messages"], subject
    assert ("agents-sqlalchemy", "agent_context8000") not in rows
    # fetch_recent(50) as it is and as it was before the tree, and on the branched conversation: 50 rows each,
    # timed in the same rounds
    tree = [("ours", branches.TREE_SERVER), (branches.BEFORE_SUBJECT, branches.TREE_SERVER),
            ("ours", branches.BRANCHED_SERVER)]
    for key in tree:
        assert rows[key]["p50_ms"] > 0 and rows[key]["rows"] == 50, key
        assert [r["round"] for r in rows[key]["per_round"]] == [0, 1], key
    # the single append in the databases of the plan and of the plan at @v0.8.0, in the same rounds
    appends = [(subject, earlier_plan.WORKLOAD) for subject in (earlier_plan.NOW, earlier_plan.BEFORE)]
    for key in appends:
        assert rows[key]["ops"] > 0 and rows[key]["throughput"] > 0, key
        assert [r["round"] for r in rows[key]["per_round"]] == [0, 1], key
    names = earlier_plan.databases("chat_bench")
    for subject, (database, _) in names.items():
        with psycopg.connect(dbname=database, autocommit=True, **server_of(pg_server)) as conn:
            heads = conn.execute("select count(*) from information_schema.columns where table_schema = 'chat'"
                                 " and table_name = 'conversations' and column_name = 'head_seq'").fetchone()[0]
            assert heads == (subject == earlier_plan.NOW), subject
            assert conn.execute("select count(*) from chat.messages").fetchone()[0] >= rows[
                (subject, earlier_plan.WORKLOAD)]["ops"], subject
    # the single append followed by 100 streams of live updates and by none, in the same rounds (the run fails
    # unless every followed append reached its stream)
    for key in ((live_updates.FOLLOWED, live_updates.WORKLOAD), (live_updates.UNFOLLOWED, live_updates.WORKLOAD)):
        assert rows[key]["ops"] > 0 and rows[key]["throughput"] > 0, key
        assert [r["round"] for r in rows[key]["per_round"]] == [0, 1], key
    assert {r["name"] for r in data["ratios"]} >= {"append_vs_sqlmodel", "append_vs_langchain", "append_vs_pgbench",
                                                   "recent50_vs_sqlmodel", "rls_server", "rls_cost", "scale",
                                                   "recent50_vs_pgbench", "recent50_vs_bare", "bare_vs_pgbench",
                                                   "replica_recent50", "replica_list20",
                                                   "turn_batch_vs_single", "get_items_vs_recent",
                                                   "turn4_vs_langchain", "agent_add_vs_sdk", "agent_items50_vs_sdk",
                                                   "agent_items_all_vs_sdk", "context_server",
                                                   "context_server_per_message", "context_server_same_rows",
                                                   "agent_context_vs_items50",
                                                   "agent_context_per_item", "recent50_vs_before_tree",
                                                   "recent50_branched", "append_vs_earlier_plan", "live_append"}
    ratios = {r["name"]: r for r in data["ratios"]}
    assert (ratios["context_server"]["comparison"], ratios["context_server"]["target"]) == ("<=", 1.5)
    assert [(ratios[name]["comparison"], ratios[name]["target"]) for name in (
        "recent50_vs_before_tree", "recent50_branched", "append_vs_earlier_plan", "live_append")] == [
        ("<=", 1.1), ("<=", 1.5), (">=", 0.95), (">=", 0.9)]
    assert all(ratios[name]["met"] in (True, False) for name in (
        "recent50_vs_before_tree", "recent50_branched", "append_vs_earlier_plan"))
    # per message: the ratio of the medians times 50 / the messages the budget holds
    assert ratios["context_server_per_message"]["value"] == pytest.approx(
        rows[("ours", "context8000_server")]["p50_ms"] / rows[("ours", "recent50_server")]["p50_ms"]
        * 50 / context["conversation"]["messages"], abs=0.001)
    # a ratio of medians lies within the ratios of the rounds (the median is monotone)
    assert all(r["spread"][0] <= r["value"] <= r["spread"][1] for r in data["ratios"])
    assert "ratio" in result.stdout and "fetch_recent(50)" in result.stdout
    assert f"8,000 tokens hold the newest {context['conversation']['messages']:,} messages" in result.stdout

    report.write(data, tmp_path)
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert report.START in text and "| ours | append |" in text
    assert "| ours | context8000_server |" in text and "| ours | agent_context8000 |" in text
    assert "| ours | recent_as_budgeted_server |" in text
    assert "| fetch_context(8,000 tokens) / fetch_recent(50) of 10,000 messages, server time" in text
    assert "| ours@v0.9.0 | recent50_tree_server |" in text and "| ours | recent50_branched_server |" in text
    assert "| pgbench@v0.8.0 | plan_append |" in text and "| pgbench | plan_append |" in text
    assert "| fetch_recent(50) of 10,000, server time, 200 edits along the active path / no branch |" in text
    assert "| append throughput (pgbench, 8 clients), the plan / the plan at tag @v0.8.0 |" in text
    assert "| pgbench, 100 streams | live_append |" in text and "| pgbench, no stream | live_append |" in text
    assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")


def server_of(pg_server) -> dict:
    return {"host": pg_server.host, "port": pg_server.port, "user": pg_server.user, "password": pg_server.password}


def test_fetch_recent_before_the_tree_reads_the_same_rows_of_a_conversation_nobody_branches(db, connect_as):
    """The function the tree's reads are held to, installed from its file at @v0.9.0 under another name: the same
    rows as chat.fetch_recent on the long conversation, as the runtime role (the benchmark checks it before it
    times them); and the check fails where the two must differ, a conversation with edits."""
    dataset.grow(db, 3, progress=False)
    branches.install_before(db)
    app = connect_as("chat_test_app")
    user, conversation = dataset.user_uuid(1), dataset.conversation_uuid(*dataset.LONG_CONVERSATION)
    branches.check_before(app, user, conversation)
    assert [seq for (seq,) in branches.recent_rows(app, branches.BEFORE_RECENT, user, conversation, 50, "seq")] == list(
        range(dataset.LONG - 49, dataset.LONG + 1))
    assert db.execute("select p.prosecdef, p.proconfig from pg_proc p where p.oid = %s::regprocedure",
                      [f"{branches.BEFORE_RECENT}(uuid, integer)"]).fetchone() == (
        False, ["search_path=pg_catalog, pg_temp"])
    branches.build_branched(db, edits=3, stretch=10)
    with pytest.raises(RuntimeError, match="differ"):
        branches.check_before(app, *branches.branched_args())


def test_the_branched_conversation_crosses_a_stretch_an_edit(db, connect_as):
    """About 10,000 messages on its active path, which crosses EDITS + 1 stretches; every edited-away version
    stays beside its edit; fetch_recent(50) reads across the head's stretch and the one before it."""
    dataset.grow(db, 3, progress=False)
    branches.build_branched(db)
    app = connect_as("chat_test_app")
    user, conversation = branches.branched_args()
    stretches = branches.stretches(app, user, conversation)
    assert len(stretches) == branches.EDITS + 1
    assert stretches[-1][0] == 1 and all(first <= last for first, last in stretches)
    on_path = sum(last - first + 1 for first, last in stretches)
    assert 9_900 <= on_path <= 10_100
    (messages, forks), = db.execute(
        "select count(*), count(*) filter (where parent_seq is distinct from seq - 1 and seq > 1)"
        " from chat.messages where user_id = %s and conversation_id = %s", [user, conversation]).fetchall()
    assert (messages, forks) == (on_path + branches.EDITS, branches.EDITS)
    branches.check_branched(app)
    seqs = [seq for (seq,) in branches.recent_rows(app, "chat.fetch_recent", user, conversation, 50, "seq")]
    assert seqs[-1] == messages and len(seqs) == 50 and seqs[0] >= stretches[1][0]
    # its timed statements: 1,000 calls as the others' while that takes at most 250 ms, fewer (20 at least) after
    assert [branches.branched_calls(ms) for ms in (0.05, 0.25, 1.0, 14.0, 0.0)] == [1000, 1000, 250, 20, 1000]
