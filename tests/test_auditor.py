"""The auditor, as one logs in with psql: a login granted chat_auditor reads
every user's rows, needs no app.user_id to do so, and can change nothing.
"""

from __future__ import annotations

import uuid

import pytest
from psycopg import errors

from as_user import call

@pytest.fixture
def two_users_data(app_conn, user_a, user_b):
    """Each user with a task and a conversation of two messages: a chat turn and its reply."""
    conversations = {}
    for user in (user_a, user_b):
        call(app_conn, user, "insert into chat.tasks (title) values ('task')")
        conversation = call(app_conn, user, "select id from chat.create_conversation('c')")[0][0]
        call(app_conn, user, "select chat.begin_turn(%s, 'question')", [conversation])
        call(app_conn, user, "select chat.finish_turn(%s, 1, 'answer')", [conversation])
        conversations[user] = conversation
    return conversations


@pytest.mark.parametrize("table, owner", [
    ("users", "id"), ("tasks", "user_id"), ("conversations", "user_id"), ("messages", "user_id"),
    ("turns", "user_id"),
])
def test_the_auditor_reads_every_users_rows(auditor_conn, db, user_a, user_b, two_users_data, table, owner):
    everything = db.execute(f"select * from chat.{table} order by 1, 2").fetchall()
    assert call(auditor_conn, None, f"select * from chat.{table} order by 1, 2") == everything
    owners = {r[0] for r in call(auditor_conn, None, f"select distinct {owner} from chat.{table}")}
    assert owners == {user_a, user_b}


def test_the_auditor_sees_all_whatever_app_user_id_says(auditor_conn, user_a, two_users_data):
    assert call(auditor_conn, user_a, "select count(*) from chat.messages") == [(4,)]
    assert call(auditor_conn, "", "select count(*) from chat.messages") == [(4,)]


WRITES = [
    "insert into chat.users (id) values (%(new)s)",
    "update chat.users set display_name = 'x'",
    "delete from chat.users",
    "truncate chat.users cascade",
    "insert into chat.tasks (user_id, title) values (%(a)s, 'x')",
    "update chat.tasks set completed = true",
    "delete from chat.tasks",
    "truncate chat.tasks",
    "insert into chat.conversations (user_id) values (%(a)s)",
    "update chat.conversations set title = 'x'",
    "delete from chat.conversations",
    "truncate chat.conversations cascade",
    "insert into chat.messages (conversation_id, user_id, seq, role, content) values (%(c)s, %(a)s, 9, 'user', 'x')",
    "update chat.messages set content = 'x'",
    "delete from chat.messages",
    "truncate chat.messages",
    "select chat.create_conversation()",
    "select chat.rename_conversation(%(c)s, 'x')",
    "select chat.delete_conversation(%(c)s)",
    "select chat.append_message(%(c)s, 'user', 'x')",
    "insert into chat.turns (user_id, conversation_id, seq) values (%(a)s, %(c)s, 2)",
    "update chat.turns set running_until = null",
    "delete from chat.turns",
    "truncate chat.turns",
    "select chat.begin_turn(%(c)s, 'x')",
    "select chat.finish_turn(%(c)s, 1, 'x')",
    "select chat.fail_turn(%(c)s, 1, gen_random_uuid())",
    "create table chat.planted (id int)",
    "create function chat.planted() returns int language sql as 'select 1'",
    "alter table chat.messages disable row level security",
    "drop policy messages_audit on chat.messages",
]


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_by_the_auditor_is_refused(auditor_conn, snapshot, user_a, two_users_data, sql):
    before = snapshot()
    params = {"new": uuid.uuid4(), "a": user_a, "c": two_users_data[user_a]}
    with pytest.raises(errors.InsufficientPrivilege):
        call(auditor_conn, user_a, sql, params)
    assert snapshot() == before


def test_the_auditor_holds_no_write_privilege_at_all(auditor_conn):
    rows = call(auditor_conn, None, """
        select c.relname, p.privilege
          from pg_class c
         cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p (privilege)
         where c.relnamespace = 'chat'::regnamespace and c.relkind in ('r', 'v', 'm', 'p')
           and has_table_privilege(c.oid, p.privilege)""")
    assert rows == []
    assert call(auditor_conn, None, "select has_schema_privilege('chat', 'create')") == [(False,)]
