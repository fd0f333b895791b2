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

import pytest

from bench import report, workloads
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
    for subject in subjects - {"pgbench", "psycopg", "ours-replica", "agents-sqlalchemy"}:
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
    assert {r["name"] for r in data["ratios"]} >= {"append_vs_sqlmodel", "append_vs_langchain", "append_vs_pgbench",
                                                   "recent50_vs_sqlmodel", "rls_server", "rls_cost", "scale",
                                                   "recent50_vs_pgbench", "recent50_vs_bare", "bare_vs_pgbench",
                                                   "replica_recent50", "replica_list20",
                                                   "turn_batch_vs_single", "get_items_vs_recent",
                                                   "turn4_vs_langchain", "agent_add_vs_sdk", "agent_items50_vs_sdk",
                                                   "agent_items_all_vs_sdk", "context_server",
                                                   "context_server_per_message", "agent_context_vs_items50",
                                                   "agent_context_per_item"}
    ratios = {r["name"]: r for r in data["ratios"]}
    assert (ratios["context_server"]["comparison"], ratios["context_server"]["target"]) == ("<=", 1.5)
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
    assert "| fetch_context(8,000 tokens) / fetch_recent(50) of 10,000 messages, server time" in text
    assert (tmp_path / "benchmarks.png").read_bytes().startswith(b"\x89PNG")
