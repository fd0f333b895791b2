"""db/audit/integrity.sql, run with psql as an auditor: silent success on
sound data, and a non-zero exit naming each problem once the data is
corrupted (as only a superuser could).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from acting import call

INTEGRITY = Path(__file__).resolve().parent.parent / "db" / "audit" / "integrity.sql"


def run_integrity(pg_server, dbname):
    psql = shutil.which("psql")
    assert psql, "psql is needed for the audit scripts"
    return subprocess.run(
        [psql, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(INTEGRITY),
         pg_server.conninfo(dbname, user="chat_test_auditor", password=pg_server.test_password)],
        capture_output=True, text=True,
    )


@pytest.fixture
def chatted(app_conn, user_a, user_b):
    """Two users with two conversations of three messages each."""
    conversations = []
    for user in (user_a, user_b):
        conversation = call(app_conn, user, "select id from chat.create_conversation()")[0][0]
        for content in ("one", "two", "three"):
            call(app_conn, user, "select chat.append_message(%s, 'user', %s)", [conversation, content])
        conversations.append(conversation)
    return conversations


def test_integrity_passes_on_sound_data(pg_server, chat_db, chatted):
    result = run_integrity(pg_server, chat_db)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "integrity check passed" in result.stdout


@pytest.mark.parametrize("corruption, problem", [
    ("delete from chat.messages where conversation_id = %(c)s and seq = 2", "seq_gap"),
    ("update chat.messages set seq = 7 where conversation_id = %(c)s and seq = 3", "seq_gap"),
    ("update chat.conversations set message_count = 5 where id = %(c)s", "message_count"),
    ("update chat.messages set user_id = %(other)s where conversation_id = %(c)s and seq = 1", "foreign_user"),
])
def test_integrity_fails_and_names_the_problem(pg_server, chat_db, db, chatted, user_b, corruption, problem):
    # replica mode skips the foreign keys' triggers: a corruption no role of
    # the product could make
    db.execute("set session_replication_role = replica")
    db.execute(corruption, {"c": chatted[0], "other": user_b})
    db.execute("set session_replication_role = origin")
    result = run_integrity(pg_server, chat_db)
    assert result.returncode != 0
    assert problem in result.stdout
    assert str(chatted[0]) in result.stdout
    assert str(chatted[1]) not in result.stdout
    assert "integrity check failed" in result.stderr
