"""The audit scripts, run with psql as an auditor: integrity.sql passes on
sound data and exits non-zero naming each problem once the data is corrupted
(as only a superuser could); volume.sql and activity.sql report the figures
of the data; `make audit` (scripts/audit) runs them all and fails with the
integrity check.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from as_user import call
from audit_scripts import AUDIT, auditor_url, run_audit_script, run_integrity
from conftest import ROOT


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
    ("with m as (update chat.messages set role = 'assistant' where conversation_id = %(c)s and seq = 1"
     " returning user_id, conversation_id) insert into chat.turns (user_id, conversation_id, seq)"
     " select user_id, conversation_id, 1 from m", "turn_message"),
    ("insert into chat.turns (user_id, conversation_id, seq, reply_seq)"
     " select user_id, id, 1, 2 from chat.conversations where id = %(c)s", "turn_reply"),
    # the tree: a parent gone, a head gone, a running total or a stretch that lies
    ("delete from chat.messages where conversation_id = %(c)s and seq = 2", "parent"),
    ("delete from chat.messages where conversation_id = %(c)s and seq = 3", "head"),
    ("update chat.messages set tokens_before = 1 where conversation_id = %(c)s and seq = 1", "running_total"),
    ("update chat.messages set stretch_from = 2 where conversation_id = %(c)s and seq = 2", "running_total"),
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


def test_volume_reports_each_users_counts(pg_server, chat_db, chatted, user_a, user_b, app_conn):
    call(app_conn, user_a, "insert into chat.tasks (title) values ('a task')")
    result = run_audit_script(pg_server, chat_db, AUDIT / "volume.sql", "top=10")
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[0].strip(): [cell.strip() for cell in line.split("|")]
            for line in result.stdout.splitlines() if line.count("|") >= 7}
    # user_id | conversations | messages | content_chars | content_size | metadata_size | tasks | last_activity
    assert rows[str(user_a)][1:4] + rows[str(user_a)][6:7] == ["1", "3", str(len("onetwothree")), "1"]
    assert rows[str(user_b)][1:4] + rows[str(user_b)][6:7] == ["1", "3", str(len("onetwothree")), "0"]
    # users | conversations | messages | tasks | deleted_accounts | messages_on_disk
    totals = [line for line in result.stdout.splitlines() if line.count("|") == 5][-1]
    assert [cell.strip() for cell in totals.split("|")][:5] == ["2", "2", "6", "1", "0"]


def test_activity_reports_todays_messages_and_the_latest_conversations(pg_server, chat_db, chatted):
    result = run_audit_script(pg_server, chat_db, AUDIT / "activity.sql", "days=1")
    assert result.returncode == 0, result.stderr
    per_day = [line for line in result.stdout.splitlines() if line.count("|") == 6 and "day" not in line]
    # day | messages | from_users | from_assistant | system_or_tool | users | conversations
    assert [[cell.strip() for cell in line.split("|")][1:] for line in per_day] == [["6", "6", "0", "0", "2", "2"]]
    assert all(str(conversation) in result.stdout for conversation in chatted)


def make_audit(pg_server, dbname):
    env = {**os.environ, "AUDIT_DATABASE_URL": auditor_url(pg_server, dbname)}
    return subprocess.run([str(ROOT / "scripts" / "audit")], cwd=ROOT, env=env, capture_output=True, text=True)


def test_make_audit_passes_on_sound_data_and_fails_on_corrupted(pg_server, chat_db, db, chatted):
    sound = make_audit(pg_server, chat_db)
    assert sound.returncode == 0, sound.stdout + sound.stderr
    assert "integrity check passed" in sound.stdout and "chat volume per user" in sound.stdout
    assert "messages per day" in sound.stdout

    db.execute("update chat.conversations set message_count = 9 where id = %s", [chatted[0]])
    corrupted = make_audit(pg_server, chat_db)
    assert corrupted.returncode != 0
    assert "message_count" in corrupted.stdout and "chat volume per user" in corrupted.stdout
    assert "integrity check FAILED" in corrupted.stderr
