"""What no peer offers, as the SQL API: full-text search over one's own
messages, the export of everything stored for a user, and the operators'
purge of inactive conversations. Run as the roles that would call them: the
runtime role for search and export, a login granted chat_operator for the
purge (and the runtime role and the auditor refused it).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import errors

from as_user import acting_as, call
from conftest import ROOT

# search


@pytest.fixture
def said(app_conn, user_a, user_b):
    """A and B each with a conversation of a few messages; A's words are A's own."""
    conversations = {}
    for user, lines in [(user_a, ["the moon is bright tonight", "bright bright bright idea", "nothing here",
                                  "zanzibar unicorn", "Привет мир", "deadline tomorrow: bright"]),
                        (user_b, ["a bright morning", "no moon for B", "another line"])]:
        conversation = call(app_conn, user, "select id from chat.create_conversation()")[0][0]
        for line in lines:
            call(app_conn, user, "select chat.append_message(%s, 'user', %s)", [conversation, line])
        conversations[user] = conversation
    return conversations


def search(app_conn, user, query, max_count=20) -> list[str]:
    return [row[0] for row in call(app_conn, user, "select content from chat.search_messages(%s, %s)",
                                   [query, max_count])]


def test_search_finds_only_the_current_users_messages(app_conn, world, said, user_a, user_b):
    assert search(app_conn, user_b, "bright") == ["a bright morning"]
    assert search(app_conn, user_b, "zanzibar unicorn") == []
    assert search(app_conn, user_b, "moon") == ["no moon for B"]
    assert "reply to A" not in search(app_conn, user_b, "reply")


def test_search_ranks_the_best_match_first_then_the_newest(app_conn, said, user_a):
    found = search(app_conn, user_a, "bright")
    assert found[0] == "bright bright bright idea"
    assert set(found) == {"the moon is bright tonight", "bright bright bright idea", "deadline tomorrow: bright"}
    assert search(app_conn, user_a, "bright", max_count=1) == ["bright bright bright idea"]


@pytest.mark.parametrize(("query", "expected"), [
    ('"bright tonight"', ["the moon is bright tonight"]),
    ("moon or zanzibar", None),
    ("bright -moon", None),
    ("ПРИВЕТ", ["Привет мир"]),
    ('"unbalanced', []),
    ("(((", []),
    ("a & | ! <-> :*", []),
    ("'; drop table chat.messages; --", []),
])
def test_search_takes_any_text_a_person_types(app_conn, said, user_a, query, expected):
    found = search(app_conn, user_a, query)
    if expected is not None:
        assert found == expected
    elif "or" in query:
        assert set(found) == {"the moon is bright tonight", "zanzibar unicorn"}
    else:
        assert "the moon is bright tonight" not in found and "bright bright bright idea" in found


@pytest.mark.parametrize(("query", "max_count", "sqlstate", "column"), [
    ("", 20, "22023", "query"), ("   ", 20, "22023", "query"), (None, 20, "22023", "query"),
    ("x" * 1001, 20, "22001", "query"), ("moon", 0, "22023", "max_count"), ("moon", 1001, "22023", "max_count"),
])
def test_search_refuses_bad_input_naming_it(app_conn, said, user_a, query, max_count, sqlstate, column):
    with pytest.raises(psycopg.Error) as raised:
        call(app_conn, user_a, "select chat.search_messages(%s, %s)", [query, max_count])
    assert (raised.value.sqlstate, raised.value.diag.column_name) == (sqlstate, column)


@pytest.mark.parametrize("user", [None, ""], ids=["unset", "empty"])
@pytest.mark.parametrize("statement", ["select chat.search_messages('moon')", "select chat.export_user_data()"])
def test_search_and_export_refuse_to_act_for_nobody(app_conn, said, user, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, user, statement)


# export

def test_export_holds_everything_of_the_user_and_nothing_else(app_conn, db, world):
    call(app_conn, world.a, "update chat.users set display_name = 'A' where id = %s", [world.a])
    (exported,) = call(app_conn, world.a, "select chat.export_user_data()")[0]
    assert set(exported) == {"exported_at", "user", "tasks", "conversations"}
    assert exported["user"]["id"] == str(world.a) and exported["user"]["email"] == "a@example.com"
    assert exported["user"]["display_name"] == "A"
    assert [task["id"] for task in exported["tasks"]] == [str(world.task)]
    assert set(exported["tasks"][0]) == {"id", "title", "description", "completed", "created_at", "updated_at"}
    (conversation,) = exported["conversations"]
    assert set(conversation) == {"id", "title", "metadata", "message_count", "created_at", "updated_at", "head_seq",
                                 "previous_head_seq", "messages"}
    assert (conversation["id"], conversation["title"], conversation["message_count"]) == \
        (str(world.conversation), "A's secret", 2)
    assert [(m["seq"], m["role"], m["content"]) for m in conversation["messages"]] == \
        [(1, "user", "A's first words"), (2, "assistant", "reply to A")]
    assert set(conversation["messages"][0]) == {"id", "conversation_id", "seq", "role", "content", "metadata",
                                                 "client_msg_id", "created_at", "tokens_given", "tokens",
                                                 "summary_from", "summary_through", "tokens_before",
                                                     "parent_seq", "stretch_from"}
    # and not a trace of B
    assert str(world.b) not in json.dumps(exported) and str(world.b_conversation) not in json.dumps(exported)

    (of_b,) = call(app_conn, world.b, "select chat.export_user_data()")[0]
    assert [c["id"] for c in of_b["conversations"]] == [str(world.b_conversation)]
    assert of_b["tasks"] == [] and str(world.a) not in json.dumps(of_b)


def test_export_of_a_user_with_nothing_yet(app_conn, make_user):
    newcomer = make_user()
    (exported,) = call(app_conn, newcomer, "select chat.export_user_data()")[0]
    assert (exported["tasks"], exported["conversations"], exported["user"]["id"]) == ([], [], str(newcomer))


# purge, for operators

@pytest.fixture
def aged(db, world):
    """Five more conversations of A and three of B, all inactive for a year; A's and B's first ones fresh."""
    for user, count in [(world.a, 5), (world.b, 3)]:
        db.execute("insert into chat.conversations (user_id, updated_at) select %s, now() - interval '1 year'"
                   " from generate_series(1, %s)", [user, count])
    stale = db.execute("select id from chat.conversations where updated_at < now() - interval '1 day'").fetchall()
    db.execute("update chat.conversations set updated_at = now() - interval '400 days' where id = %s",
               [world.conversation])
    return {row[0] for row in stale} | {world.conversation}


def test_purge_deletes_inactive_conversations_of_every_user_in_batches(operator, db, world, aged):
    messages_before = db.execute("select count(*) from chat.messages").fetchone()[0]
    batches = []
    while True:
        deleted = operator.execute("select chat.purge_inactive('30 days', 4)").fetchone()[0]
        batches.append(deleted)
        if deleted == 0:
            break
    assert batches == [4, 4, 1, 0]
    left = {row[0] for row in db.execute("select id from chat.conversations").fetchall()}
    assert left == {world.b_conversation}
    # A's purged conversation took its two messages with it; nothing else of messages moved
    assert db.execute("select count(*) from chat.messages").fetchone()[0] == messages_before - 2


def test_purge_keeps_what_is_active(operator, db, world, aged):
    assert operator.execute("select chat.purge_inactive('2 years')").fetchone() == (0,)
    assert db.execute("select count(*) from chat.conversations").fetchone() == (len(aged) + 1,)


def test_purge_keeps_a_conversation_that_an_append_revives_meanwhile(operator, app_conn, db, world, aged):
    """The purge waits for the append's lock on the row, sees the conversation active again, and keeps it."""
    with ThreadPoolExecutor(1) as pool:
        with acting_as(app_conn, world.a):
            app_conn.execute("select chat.append_message(%s, 'user', 'still here')", [world.conversation])
            purge = pool.submit(lambda: operator.execute("select chat.purge_inactive('30 days')").fetchone()[0])
            while not db.execute("select exists (select from pg_stat_activity where wait_event_type = 'Lock'"
                                 " and datname = current_database() and query like '%purge_inactive%')").fetchone()[0]:
                assert not purge.done(), purge.result()
                time.sleep(0.01)
        assert purge.result(timeout=30) == len(aged) - 1
    kept = db.execute("select message_count from chat.conversations where id = %s", [world.conversation])
    assert kept.fetchone() == (3,)


def test_the_operator_reads_no_message(operator):
    with pytest.raises(errors.InsufficientPrivilege):
        operator.execute("select count(*) from chat.messages")


@pytest.mark.parametrize("login", ["app_conn", "auditor_conn"])
def test_purge_is_refused_to_the_runtime_role_and_the_auditor(request, world, aged, unchanged, login):
    conn = request.getfixturevalue(login)
    with pytest.raises(errors.InsufficientPrivilege):
        with acting_as(conn, world.a):
            conn.execute("select chat.purge_inactive('1 day')")


@pytest.mark.parametrize(("older_than", "batch_size", "column"), [
    ("0", 10, "older_than"), ("-1 day", 10, "older_than"), (None, 10, "older_than"),
    ("1 day", 0, "batch_size"), ("1 day", 100001, "batch_size"), ("1 day", None, "batch_size"),
])
def test_purge_refuses_bad_input_naming_it(operator, aged, older_than, batch_size, column):
    with pytest.raises(psycopg.Error) as raised:
        operator.execute("select chat.purge_inactive(%s::interval, %s)", [older_than, batch_size])
    assert (raised.value.sqlstate, raised.value.diag.column_name) == ("22023", column)


def test_make_purge_deletes_batch_after_batch_until_none_is_left(operator_url, db, world, aged):
    env = {**os.environ, "PURGE_DATABASE_URL": operator_url, "OLDER_THAN": "30 days", "BATCH_SIZE": "3"}
    result = subprocess.run([str(ROOT / "scripts" / "purge")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "purge: 9 conversations inactive for more than 30 days deleted" in result.stdout
    assert result.stderr.count("more (") == 3  # batches of 3, 3 and 3
    assert {row[0] for row in db.execute("select id from chat.conversations").fetchall()} == {world.b_conversation}
