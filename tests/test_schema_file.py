"""db/schema.sql, the deployed schema in one file to read, is never stale: it
is byte for byte what scripts/schema (the script `make schema` runs) dumps of
a fresh deploy of the plan on the suite's server, by an owner shaped like
Neon's; the suite's template, deployed by a superuser, dumps the same; and
the dump keeps every grant and leaves out what varies from dump to dump.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess

import pytest

from conftest import ROOT

SCHEMA_FILE = ROOT / "db" / "schema.sql"
SCRIPT = ROOT / "scripts" / "schema"
DIFF_LINES = 80


def run_schema_script(pg_server, *args: str) -> str:
    """What ``scripts/schema ARGS…`` prints, on the suite's server as its superuser."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=pg_server.host, PGPORT=str(pg_server.port), PGUSER=pg_server.user, PGDATABASE="postgres")
    if pg_server.password:
        env["PGPASSWORD"] = pg_server.password
    result = subprocess.run([SCRIPT, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"scripts/schema {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_is_the_file(dumped: str, what: str) -> None:
    expected = SCHEMA_FILE.read_text()
    if dumped != expected:
        diff = list(difflib.unified_diff(expected.splitlines(), dumped.splitlines(), "db/schema.sql", what,
                                         lineterm=""))
        shown = "\n".join(diff[:DIFF_LINES]) + ("\n…" if len(diff) > DIFF_LINES else "")
        pytest.fail(f"db/schema.sql differs from {what}: run `make schema` and commit db/schema.sql\n{shown}",
                    pytrace=False)


@pytest.fixture(scope="module")
def same_major(pg_server):
    """Skips when the server's major version is not the one db/schema.sql was dumped with: another major's
    pg_dump prints the same schema differently."""
    with pg_server.connect("postgres") as conn:
        server = int(conn.execute("show server_version_num").fetchone()[0]) // 10000
    found = re.search(r"as PostgreSQL (\d+)'s", SCHEMA_FILE.read_text().split("\n\n", 1)[0])
    assert found, "db/schema.sql's header names no PostgreSQL version: run `make schema`"
    if int(found[1]) != server:
        pytest.skip(f"db/schema.sql is PostgreSQL {found[1]}'s dump; this server is PostgreSQL {server}")


def test_the_file_is_what_a_fresh_deploy_dumps(pg_server, same_major):
    assert_is_the_file(run_schema_script(pg_server, "fresh"), "a fresh deploy by a Neon-shaped owner")


def test_a_superusers_deploy_dumps_the_same(pg_server, same_major, chat_db):
    """The suite deploys as a superuser, make run as a non-superuser owner that bypasses RLS: one schema."""
    assert_is_the_file(run_schema_script(pg_server, "dump", chat_db), "the suite's template, deployed by a superuser")


def test_the_file_keeps_the_grants_and_nothing_that_varies():
    text = SCHEMA_FILE.read_text()
    header, body = text.split("\n\n", 1)
    assert all(line.startswith("--") for line in header.splitlines())
    assert "make schema" in header and "never edit this" in header
    grants = re.findall(r"^GRANT .* TO (\w+);$", body, re.MULTILINE)
    assert {"chat_app", "chat_auditor", "chat_operator"} <= set(grants)
    assert re.search(r"^REVOKE ALL ON FUNCTION .* FROM PUBLIC;$", body, re.MULTILINE)
    for varying in (r"^\\(un)?restrict ", r"^-- Dumped (from|by) ", r"^SET ", r"OWNER TO ", r"^CREATE SCHEMA sqitch"):
        assert not re.search(varying, body, re.MULTILINE), varying
    assert "CREATE SCHEMA chat;" in body and body.endswith(";\n")
