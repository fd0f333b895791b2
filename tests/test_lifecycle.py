"""The Sqitch plan's life: deploy, verify, revert and deploy again on an empty
database; deploy as an owner shaped like Neon's (no superuser, CREATEROLE,
BYPASSRLS); verify scripts that fail when their object is missing or wrong.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from as_user import call
from conftest import ROOT, run_sqitch, sqitch_env

ROLES_SQL = """
select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls
  from pg_roles where rolname in ('chat_app', 'chat_auditor') order by rolname
"""


def schema_dump(pg_server, dbname) -> str:
    """The chat schema as pg_dump sees it: tables, functions, policies, grants, comments."""
    if query(pg_server, dbname, "select count(*) from pg_namespace where nspname = 'chat'") == [(0,)]:
        return ""
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to compare schemas"
    result = subprocess.run(
        [pg_dump, "--schema-only", "--schema=chat", "--no-owner", pg_server.conninfo(dbname)],
        capture_output=True, text=True, check=True,
    )
    # pg_dump brackets its output with \restrict/\unrestrict and a random key
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def query(pg_server, dbname, sql, params=(), **kwargs):
    with psycopg.connect(pg_server.conninfo(dbname, **kwargs), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def test_deploy_verify_revert_deploy_leaves_an_identical_schema(pg_server, sqitch, empty_db):
    sqitch("deploy", dbname=empty_db)
    sqitch("verify", dbname=empty_db)
    first = schema_dump(pg_server, empty_db)
    roles = query(pg_server, empty_db, ROLES_SQL)

    sqitch("revert", "-y", dbname=empty_db)
    assert query(pg_server, empty_db, "select count(*) from pg_namespace where nspname = 'chat'") == [(0,)]
    assert query(pg_server, empty_db, "select count(*) from sqitch.changes where project = 'chat'") == [(0,)]
    # other databases of this cluster (the suite's template) still use the roles: kept
    assert query(pg_server, empty_db, ROLES_SQL) == roles

    sqitch("deploy", dbname=empty_db)
    sqitch("verify", dbname=empty_db)
    assert schema_dump(pg_server, empty_db) == first
    assert query(pg_server, empty_db, ROLES_SQL) == roles
    assert "create table chat.messages" in first.lower()


def test_a_database_deployed_before_the_tag_upgrades_to_the_reworked_plan(pg_server, sqitch, empty_db, tmp_path):
    """A database deployed with the plan as it was released (ending at purge_inactive, no tag yet) takes the
    rest with a plain sqitch deploy, and ends as a fresh deploy does; and goes back with revert --to @v0.1.0."""
    released = tmp_path / "released"
    shutil.copytree(ROOT / "db", released / "db")
    shutil.copy(ROOT / "sqitch.conf", released)
    # the changes reworked since, as they were released: a script's earliest tagged copy
    for tag in ("@v0.4.0", "@v0.3.0", "@v0.2.0", "@v0.1.0"):
        for script in (ROOT / "db").glob(f"*/*{tag}.sql"):
            shutil.copy(script, released / "db" / script.parent.name / script.name.replace(tag, ""))
    plan = (ROOT / "sqitch.plan").read_text().splitlines()
    (released / "sqitch.plan").write_text("\n".join(plan[:plan.index(next(
        line for line in plan if line.startswith("@v0.1.0")))]) + "\n")
    target = f"db:pg://{pg_server.user}@{pg_server.host}:{pg_server.port}/{empty_db}"
    result = subprocess.run([shutil.which("sqitch"), "deploy", target], cwd=released,
                            env=sqitch_env(pg_server.password), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    released_schema = schema_dump(pg_server, empty_db)

    sqitch("deploy", dbname=empty_db)
    sqitch("verify", dbname=empty_db)
    assert query(pg_server, empty_db, "select tag from sqitch.tags order by tag") == [
        ("@v0.1.0",), ("@v0.2.0",), ("@v0.3.0",), ("@v0.4.0",)]
    upgraded = schema_dump(pg_server, empty_db)
    sqitch("revert", "-y", "--to", "@v0.1.0", dbname=empty_db)
    assert schema_dump(pg_server, empty_db) == released_schema
    sqitch("revert", "-y", dbname=empty_db)
    sqitch("deploy", dbname=empty_db)
    assert schema_dump(pg_server, empty_db) == upgraded


# Every row a database holds, as JSON, in a stable order: what an upgrade and its revert must keep.
ROWS = """
select t, pg_catalog.jsonb_agg(r order by r::text)
  from (select 'users' as t, to_jsonb(x) as r from chat.users x
        union all select 'conversations', to_jsonb(x) from chat.conversations x
        union all select 'messages', to_jsonb(x) from chat.messages x
        union all select 'turns', to_jsonb(x) from chat.turns x
        union all select 'tasks', to_jsonb(x) from chat.tasks x) rows
 group by t order by t
"""

RELEASED_WRITES = """
select set_config('app.user_id', %(user)s, true);
select chat.provision_user('reader@example.com');
select chat.create_conversation('Groceries', '{"pinned": true}');
insert into chat.tasks (user_id, title, description) values (chat.current_user_id(), 'milk', 'two litres');
select chat.append_message(c.id, 'user', 'Add milk, please.', '{}', 'k-1') from chat.conversations c;
select chat.append_messages(c.id, %(items)s) from chat.conversations c;
select chat.begin_turn(c.id, 'And eggs?', 'k-2') from chat.conversations c;
"""


def test_a_database_with_data_at_the_last_tag_upgrades_keeping_every_row(pg_server, sqitch, empty_db):
    """Rows written by the plan as tagged @v0.4.0 (users, a conversation, messages with and without keys and an
    agent item's metadata, a turn, a task) pass the upgrade's checks, come out unchanged, and the API works on
    them; revert --to @v0.4.0 keeps them too."""
    sqitch("deploy", "--to", "@v0.4.0", dbname=empty_db)
    user = str(uuid.uuid4())
    items = Jsonb([
        {"role": "assistant", "content": 'add_task({"title": "eggs"})',
         "metadata": {"agents_item": {"type": "function_call", "call_id": "c1", "name": "add_task",
                                      "arguments": '{"title": "eggs"}'}}},
        {"role": "tool", "content": "ok", "metadata": {"agents_item": {"type": "function_call_output",
                                                                         "call_id": "c1", "output": "ok"}}},
    ])
    with psycopg.connect(pg_server.conninfo(empty_db)) as conn:
        for statement in RELEASED_WRITES.strip().split(";\n"):
            conn.execute(statement, {"user": user, "items": items})
    before = query(pg_server, empty_db, ROWS)
    assert [(table, len(rows)) for table, rows in before] == [
        ("conversations", 1), ("messages", 4), ("tasks", 1), ("turns", 1), ("users", 1)]

    sqitch("deploy", dbname=empty_db)
    sqitch("verify", dbname=empty_db)
    assert query(pg_server, empty_db, ROWS) == before
    with psycopg.connect(pg_server.conninfo(empty_db), autocommit=True) as conn:
        conn.execute("select set_config('app.user_id', %s, false)", [user])
        (conversation,) = conn.execute("select id from chat.conversations").fetchone()
        replayed = conn.execute("select seq, replayed from chat.append_message(%s, 'user', 'Add milk, please.',"
                                " '{}', 'k-1')", [conversation]).fetchone()
        appended = conn.execute("select seq, replayed from chat.append_messages(%s, %s)",
                                [conversation, items]).fetchall()
        assert (replayed, appended) == ((1, True), [(5, False), (6, False)])
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update chat.tasks set title = ''")

    sqitch("revert", "-y", "--to", "@v0.4.0", dbname=empty_db)
    after_revert = query(pg_server, empty_db, ROWS)
    assert [(table, len(rows)) for table, rows in after_revert] == [
        ("conversations", 1), ("messages", 6), ("tasks", 1), ("turns", 1), ("users", 1)]


def test_the_roles_are_what_the_spec_says(pg_server, chat_db):
    rows = query(pg_server, chat_db, ROLES_SQL)
    assert [r[0] for r in rows] == ["chat_app", "chat_auditor"]
    for _name, superuser, _inherit, createrole, createdb, login, bypassrls in rows:
        assert not (superuser or createrole or createdb or login or bypassrls)


def test_every_table_has_rls_enabled_and_forced(pg_server, chat_db):
    rows = query(pg_server, chat_db, """
        select c.relname, c.relrowsecurity, c.relforcerowsecurity
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'chat' and c.relkind = 'r' order by 1""")
    assert rows == [(name, True, True)
                    for name in ("conversations", "deleted_users", "messages", "tasks", "turns", "users")]


def test_every_table_has_one_policy_per_command_for_the_runtime_role(pg_server, chat_db):
    rows = query(pg_server, chat_db, """
        select tablename, cmd, count(*) from pg_policies
         where schemaname = 'chat' and 'chat_app' = any(roles) group by 1, 2 order by 1, 2""")
    expected = [(table, cmd, 1) for table in ("conversations", "deleted_users", "messages", "tasks", "turns", "users")
                for cmd in ("DELETE", "INSERT", "SELECT", "UPDATE")]
    assert rows == expected


def test_every_function_pins_search_path_and_nothing_is_executable_by_public(pg_server, chat_db):
    """A function with a SQL-standard body (``return …``, ``begin atomic … end``) is bound to its objects when
    it is created, so no search_path is needed (nor wanted: it would keep it from being inlined); every other
    function pins one."""
    rows = query(pg_server, chat_db, """
        select p.oid::regprocedure::text, p.proconfig, p.prosqlbody is not null, p.prosecdef,
               has_function_privilege('public', p.oid, 'execute')
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'chat' order by 1""")
    assert len(rows) >= 12
    for signature, config, bound_at_creation, security_definer, public_execute in rows:
        assert config == (None if bound_at_creation else ["search_path=pg_catalog, pg_temp"]), signature
        assert not (bound_at_creation and security_definer), signature
        assert security_definer == (signature in OWNER_RIGHTS_FUNCTIONS), signature
        assert not public_execute, signature


# The functions that run with their owner's rights: search's word lookup,
# which row security would keep off the word index (see its deploy script).
OWNER_RIGHTS_FUNCTIONS = {"chat.search_message_hits(tsquery,integer)",
                          # and the operators' purge, so that chat_operator needs no privilege on any table
                          "chat.purge_inactive(interval,integer)", "chat.purge_deleted_users(interval)",
                          # and the two that remove messages, which chat_app may not delete itself
                          "chat.pop_message(uuid)", "chat.clear_conversation(uuid)"}


# Neon's shape: the deploying role owns everything but is no superuser; it has
# CREATEROLE and, like every role made in Neon's console, BYPASSRLS.

@pytest.fixture
def neon_owner(pg_server, db):
    name = f"chat_test_owner_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    dbname = f"{name}_db"
    db.execute(f"create role {name} login password '{password}' createrole createdb bypassrls")
    db.execute(f"create database {dbname} owner {name}")
    yield dbname, name, password
    db.execute(f"drop database {dbname} with (force)")
    db.execute(f"drop role {name}")


def test_deploy_verify_revert_as_a_neon_shaped_owner(pg_server, sqitch, neon_owner):
    dbname, owner, password = neon_owner
    assert query(pg_server, dbname, "select rolsuper from pg_roles where rolname = current_user",
                 user=owner, password=password) == [(False,)]
    sqitch("deploy", dbname=dbname, user=owner, password=password)
    sqitch("verify", dbname=dbname, user=owner, password=password)
    assert query(pg_server, dbname,
                 "select distinct pg_get_userbyid(relowner) from pg_class where relnamespace = 'chat'::regnamespace",
                 user=owner, password=password) == [(owner,)]
    sqitch("revert", "-y", dbname=dbname, user=owner, password=password)
    assert query(pg_server, dbname, "select count(*) from pg_namespace where nspname = 'chat'",
                 user=owner, password=password) == [(0,)]
    sqitch("deploy", dbname=dbname, user=owner, password=password)


def test_functions_stay_scoped_to_the_current_user_when_the_caller_bypasses_rls(pg_server, sqitch, neon_owner):
    """The owner bypasses every policy; the API must still answer for app.user_id only."""
    dbname, owner, password = neon_owner
    sqitch("deploy", dbname=dbname, user=owner, password=password)
    a, b = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_server.conninfo(dbname, user=owner, password=password), autocommit=True) as conn:
        conn.execute("insert into chat.users (id) values (%s), (%s)", [a, b])
        conversation = call(conn, a, "select id from chat.create_conversation('a''s')")[0][0]
        call(conn, a, "select chat.begin_turn(%s, 'secret', 'k-1')", [conversation])  # a chat turn, running
        # the owner itself sees everything: RLS is not what protects here
        assert conn.execute("select count(*) from chat.messages").fetchone() == (1,)

        assert call(conn, b, "select * from chat.list_conversations()") == []
        assert call(conn, b, "select * from chat.get_conversation(%s)", [conversation]) == []
        assert call(conn, b, "select chat.delete_conversation(%s)", [conversation]) == [(False,)]
        for sql in ("select chat.fetch_recent(%s)", "select chat.fetch_messages(%s)",
                    "select chat.rename_conversation(%s, 'x')", "select chat.append_message(%s, 'user', 'x')",
                    "select chat.begin_turn(%s, 'secret', 'k-1')", "select chat.lock_turn(%s, 1)",
                    "select chat.finish_turn(%s, 1, 'x')", "select chat.fail_turn(%s, 1, gen_random_uuid())"):
            with pytest.raises(psycopg.errors.NoDataFound):
                call(conn, b, sql, [conversation])
        assert call(conn, b, "select * from chat.search_messages('secret')") == []
        assert call(conn, b, "select * from chat.search_message_hits('secret', 10)") == []
        assert [row[0] for row in call(conn, a, "select content from chat.search_messages('secret')")] == ["secret"]
        assert len(call(conn, a, "select * from chat.search_message_hits('secret', 10)")) == 1
        assert call(conn, b, "select chat.export_user_data() -> 'conversations'") == [([],)]
        for sql in ("select chat.list_conversations()", "select chat.search_message_hits('secret', 10)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                call(conn, None, sql)
        assert conn.execute("select title, message_count from chat.conversations").fetchall() == [("a's", 1)]
        assert conn.execute("select seq, running_until > now(), reply_seq from chat.turns").fetchall() == [
            (1, True, None)]


def test_an_owner_that_does_not_bypass_rls_gets_a_search_with_the_callers_rights(pg_server, sqitch, plain_owner):
    """Self-hosted, the owner may be a plain role: FORCE applies to it and no policy is its, so the word
    lookup runs as the caller there, and finds the same."""
    name, password = plain_owner
    sqitch("deploy", dbname=name, user=name, password=password)
    assert query(pg_server, name, "select prosecdef from pg_proc where proname = 'search_message_hits'") == [
        (False,)]
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        conn.execute(f"grant chat_app to {name}")
    a, b = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_server.conninfo(name, user=name, password=password), autocommit=True) as conn:
        conn.execute("set role chat_app")
        for user in (a, b):
            call(conn, user, "insert into chat.users (id) values (chat.current_user_id())")
        conversation = call(conn, a, "select id from chat.create_conversation()")[0][0]
        call(conn, a, "select chat.append_message(%s, 'user', 'plain words')", [conversation])
        assert [r[0] for r in call(conn, a, "select content from chat.search_messages('words')")] == [
            "plain words"]
        assert call(conn, b, "select * from chat.search_messages('words')") == []


def test_an_owner_that_does_not_bypass_rls_still_purges_for_an_operator_with_no_privilege(pg_server, sqitch, db,
                                                                                        plain_owner):
    """The purge runs with its owner's rights; a plain owner gets the two policies it needs for that, for itself
    alone: the operator still holds no privilege on any table."""
    name, password = plain_owner
    operator = f"{name}_operator"
    try:
        sqitch("deploy", dbname=name, user=name, password=password)
        sqitch("verify", dbname=name, user=name, password=password)
        assert query(pg_server, name, "select policyname, roles::text[] from pg_policies"
                                      " where policyname like '%%purge%%' order by 1") == [
            ("conversations_owner_purge_delete", [name]), ("conversations_owner_purge_select", [name]),
            ("deleted_users_owner_purge_delete", [name]), ("deleted_users_owner_purge_select", [name])]
        with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
            conn.execute(f"create role {operator} login password '{password}' in role chat_operator")
            a, b = uuid.uuid4(), uuid.uuid4()
            conn.execute("insert into chat.users (id) values (%s), (%s)", [a, b])
            conn.execute("insert into chat.conversations (user_id, updated_at) values (%s, now() - interval '2 years'),"
                         " (%s, now() - interval '2 years'), (%s, now())", [a, b, b])
            conn.execute("insert into chat.deleted_users (user_id, deleted_at) values (%s, now() - interval '2 days'),"
                         " (%s, now())", [uuid.uuid4(), uuid.uuid4()])
        with psycopg.connect(pg_server.conninfo(name, user=operator, password=password), autocommit=True) as conn:
            assert conn.execute("select chat.purge_inactive('1 year')").fetchone() == (2,)
            assert conn.execute("select chat.purge_deleted_users('1 day')").fetchone() == (1,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("select count(*) from chat.conversations")
        assert query(pg_server, name, "select count(*) from chat.conversations") == [(1,)]
        assert query(pg_server, name, "select count(*) from chat.deleted_users") == [(1,)]
        sqitch("revert", "-y", "--to", "@v0.1.0", dbname=name, user=name, password=password)
        assert query(pg_server, name, "select count(*) from pg_policies where policyname like '%%owner_purge%%'") == [
            (0,)]
    finally:
        db.execute(f"drop role if exists {operator}")


# verify scripts fail when their object is missing or wrong

SABOTAGE = [
    ("alter table chat.tasks no force row level security", "tasks"),
    ("alter table chat.users disable row level security", "users"),
    ("drop policy messages_select on chat.messages", "messages_rls"),
    ("drop policy conversations_audit on chat.conversations", "conversations_rls"),
    ("drop index chat.conversations_user_activity_idx", "conversations"),
    ("drop index chat.messages_client_msg_id_key", "messages"),
    ("grant update on chat.messages to chat_app", "messages"),
    ("drop function chat.fetch_recent(uuid, integer)", "fetch_recent"),
    ("drop index chat.messages_search_idx", "messages_search_index"),
    ("grant execute on function chat.search_message_hits(tsquery, integer) to public", "search_messages"),
    ("revoke execute on function chat.purge_inactive(interval, integer) from chat_operator", "purge_inactive"),
    ("drop function chat.export_user_data()", "export_user_data"),
    ("grant execute on function chat.append_message(uuid, text, text, jsonb, text) to public", "append_message"),
    ("revoke execute on function chat.list_conversations(integer, timestamptz, uuid) from chat_app",
     "list_conversations"),
    ("revoke usage on schema chat from chat_auditor", "chat_schema"),
    ("alter domain chat.message_metadata drop constraint messages_metadata_valid", "message_metadata_limit"),
    ("alter domain chat.message_metadata drop constraint messages_metadata_depth", "message_metadata_limit"),
    ("alter table chat.messages add constraint messages_metadata_size check (octet_length(metadata::text) < 2000000)",
     "message_metadata_limit"),
    ("grant execute on function chat.check_message(text, text, jsonb, text, text) to public", "check_message"),
    ("drop function chat.append_messages(uuid, jsonb)", "append_messages"),
    ("drop function chat.pop_message(uuid)", "pop_message"),
    ("alter function chat.clear_conversation(uuid) security invoker", "clear_conversation"),
    ("alter table chat.turns no force row level security", "turns"),
    ("alter table chat.turns drop constraint turns_reply_fkey", "turns"),
    ("drop index chat.turns_opening_key", "turns"),
    ("grant delete on chat.turns to chat_app", "turns"),
    ("drop policy turns_update on chat.turns", "turns_rls"),
    ("alter function chat.lock_turn(uuid, bigint) security definer", "lock_turn"),
    ("drop function chat.begin_turn(uuid, text, text, integer, interval)", "begin_turn"),
    ("revoke execute on function chat.finish_turn(uuid, bigint, text, jsonb) from chat_app", "finish_turn"),
    ("grant execute on function chat.settle_turn(uuid, bigint, bigint) to public", "settle_turn"),
    ("drop function chat.fail_turn(uuid, bigint, uuid)", "fail_turn"),
    ("grant execute on function chat.provision_user(text, timestamptz) to public", "provision_user"),
    ("alter table chat.deleted_users no force row level security", "deleted_users"),
    ("drop policy deleted_users_insert on chat.deleted_users", "deleted_users"),
    ("grant execute on function chat.check_token(timestamptz) to public", "check_token"),
    ("create or replace function chat.delete_user() returns boolean language sql return true", "delete_user"),
    ("grant execute on function chat.purge_deleted_users(interval) to chat_app", "purge_deleted_users"),
    ("drop function chat.delete_user()", "delete_user"),
    ("alter domain chat.message_content drop constraint messages_content_length", "limits"),
    ("alter table chat.turns alter column opening_key type text", "limits"),
    ("alter table chat.tasks add constraint tasks_title_size check (char_length(title) < 1000)", "limits"),
    ("create or replace function chat.content_problem(content text) returns text language sql immutable"
     " return case when char_length(content) > 10000 then 'is ' || char_length(content) end", "limits"),
    ("create or replace function chat.search_query_problem(query text) returns text language sql immutable"
     " return case when char_length(query) > 1000 then 'is ' || char_length(query) end", "argument_limits"),
    ("create or replace function chat.metadata_too_deep(metadata jsonb) returns boolean language sql immutable"
     " set search_path = pg_catalog return jsonb_path_exists(metadata, 'strict $.**{100}')", "metadata_depth"),
    ("alter table chat.conversations alter column metadata type jsonb", "metadata_depth"),
    ("comment on index chat.messages_search_idx is null; drop index chat.messages_search_idx;"
     " create index messages_search_idx on chat.messages using gin (user_id)", "messages_search_index"),
    ("create or replace function chat.title_problem(title text) returns text language sql immutable return null",
     "limits"),
    ("create or replace function chat.max_count_problem(max_count integer) returns text language sql immutable"
     " return null", "argument_limits"),
    ("grant execute on function chat.message_batch_problem(jsonb) to public", "argument_limits"),
    ("create or replace function chat.conversation_not_found(conversation_id uuid) returns void language plpgsql"
     " as $$ begin raise exception 'no such conversation' using errcode = 'P0002'; end $$", "conversation_not_found"),
    ("revoke execute on function chat.conversation_not_found(uuid) from chat_app", "conversation_not_found"),
    # a reworked function that writes its error out again
    ("create or replace function chat.pop_message(conversation_id uuid) returns setof chat.messages language plpgsql"
     " security definer set search_path = pg_catalog, pg_temp as $$ begin"
     " raise exception 'conversation % not found', conversation_id using errcode = 'P0002'; end $$", "pop_message"),
    ("create or replace function chat.list_conversations(max_count integer default 20,"
     " before_activity timestamptz default null, before_id uuid default null) returns setof chat.conversations"
     " language sql stable security invoker set search_path = pg_catalog, pg_temp"
     " as $$ select c.* from chat.conversations c where c.user_id = chat.current_user_id()"
     " and max_count between 1 and 1000 limit max_count $$", "list_conversations"),
    ("alter function chat.current_user_id() set search_path = pg_catalog", "current_user_id"),
    ("alter policy messages_select on chat.messages using (user_id = (select chat.current_user_id()))",
     "messages_rls"),
    ("alter policy users_update on chat.users with check (id = (select chat.current_user_id()))", "users_rls"),
]


@pytest.mark.parametrize("sabotage, change", SABOTAGE, ids=[c for _, c in SABOTAGE])
def test_verify_fails_when_an_object_is_missing_or_wrong(db, sqitch, chat_db, sabotage, change):
    """sqitch verify of that change fails (verifying the whole plan runs the same script among 80 others, and
    fails when it fails: five times the time for nothing more)."""
    db.execute(sabotage)
    spec = sqitch_spec(Change(change))
    result = sqitch("verify", "--from-change", spec, "--to-change", spec, dbname=chat_db, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"{change} " in output and "not ok" in output, output


def test_verify_fails_when_the_runtime_role_could_bypass_rls(db, sqitch, chat_db):
    db.execute("alter role chat_app bypassrls")
    try:
        result = sqitch("verify", dbname=chat_db, check=False)
    finally:
        db.execute("alter role chat_app nobypassrls")
    assert result.returncode != 0
    assert "roles" in result.stdout + result.stderr


# Every change, one at a time: revert undoes exactly its deploy, and its
# verify script fails once its objects are gone.

@dataclass(frozen=True)
class Change:
    """One change of the plan as Sqitch names it: a reworked change's earlier instance by the last tag before its next
    instance (``purge_inactive@v0.1.0``, whose scripts are ``purge_inactive@v0.1.0.sql``), the latest by its name."""

    name: str
    tag: str | None = None

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.tag}" if self.tag else self.name

    def script(self, kind: str) -> Path:
        return ROOT / "db" / kind / f"{self.spec}.sql"

    def __str__(self) -> str:
        return self.spec


def read_plan() -> list[Change]:
    entries = [line.split()[0] for line in (ROOT / "sqitch.plan").read_text().splitlines()
               if line.strip() and not line.startswith(("%", "#"))]
    changes = []
    for n, entry in enumerate(entries):
        if entry.startswith("@"):
            continue
        # Sqitch names a reworked instance's scripts by the last tag before the next instance
        later = entries[n + 1:]
        tag = [e for e in later[:later.index(entry)] if e.startswith("@")][-1][1:] if entry in later else None
        changes.append(Change(entry, tag))
    return changes


PLAN = read_plan()


@functools.cache
def change_ids() -> dict[Change, str]:
    """Each change's id, as Sqitch computes it from the plan."""
    listed = subprocess.run([shutil.which("sqitch"), "plan", "--no-headers", "--format", "format:%H %n"], cwd=ROOT,
                            env=sqitch_env(None), capture_output=True, text=True, check=True).stdout.split()
    ids = listed[0::2]
    assert listed[1::2] == [c.name for c in PLAN]
    return dict(zip(PLAN, ids, strict=True))


def sqitch_spec(change: Change) -> str:
    """How deploy --to and revert --to name the change: the latest instance of a reworked one as @HEAD, an
    earlier one by its id (its name@tag resolves only once the tag is deployed, and the tag may come later)."""
    if change.tag:
        return change_ids()[change]
    return change.spec if [c.name for c in PLAN].count(change.name) == 1 else f"{change.name}@HEAD"


def test_each_revert_undoes_exactly_its_deploy(pg_server, sqitch, empty_db):
    """deploy --to C, revert --to C^: the schema is as before C, change by change."""
    for previous, change in zip([None, *PLAN[:-1]], PLAN, strict=True):
        before = schema_dump(pg_server, empty_db)
        sqitch("deploy", "--to", sqitch_spec(change), dbname=empty_db)
        if previous is None:
            sqitch("revert", "-y", dbname=empty_db)
        else:
            sqitch("revert", "-y", "--to", sqitch_spec(previous), dbname=empty_db)
        assert schema_dump(pg_server, empty_db) == before, change
        sqitch("deploy", "--to", sqitch_spec(change), dbname=empty_db)


# What a superuser owner needs none of: the policies an owner that does not
# bypass row security gets for itself (test_agent_functions undoes them under
# such an owner).
ONLY_FOR_A_PLAIN_OWNER = {"messages_owner_rls"}


@pytest.mark.parametrize("change", [c for c in PLAN if c.name != "roles" and not c.tag
                                    and c.name not in ONLY_FOR_A_PLAIN_OWNER], ids=str)
def test_each_verify_fails_once_its_change_is_undone(pg_server, sqitch, chat_db, change):
    """Run the change's revert script (and its dependents', latest first) behind
    Sqitch's back: the registry still says deployed, and verify must say not ok.
    (The roles outlive any one database; their verify is sabotaged above. sqitch
    verify skips a change reworked later, whose verify runs only as it is
    deployed: the privilege test below runs it there.)"""
    # one psql for them all, each script its own transaction as Sqitch runs it; the first error stops it
    scripts = [option for undone in reversed(PLAN[PLAN.index(change):]) for option in ("-f", undone.script("revert"))]
    subprocess.run([shutil.which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *scripts, pg_server.conninfo(chat_db)],
                   check=True, capture_output=True)
    spec = sqitch_spec(change)
    result = sqitch("verify", "--from-change", spec, "--to-change", spec, dbname=chat_db, check=False)
    assert result.returncode != 0
    assert f"{change.name} " in result.stdout and "not ok" in result.stdout, result.stdout + result.stderr


# Each verify script checks every privilege its change grants, one by one:
# revoke any single one (or give back to PUBLIC what the change kept from
# it) and that change's verify script fails.

ACL = """
select kind, object, grantee, privilege from (
  select 'schema' as kind, format('schema %%I', n.nspname) as object, a.grantee, a.privilege_type as privilege
    from pg_namespace n, aclexplode(n.nspacl) a
   where n.nspname = 'chat'
  union all
  select 'table', c.oid::regclass::text, a.grantee, a.privilege_type
    from pg_class c, aclexplode(c.relacl) a
   where c.relnamespace = to_regnamespace('chat')
  union all
  select 'column', format('%%s (%%I)', c.oid::regclass, att.attname), a.grantee, a.privilege_type
    from pg_attribute att join pg_class c on c.oid = att.attrelid, aclexplode(att.attacl) a
   where c.relnamespace = to_regnamespace('chat')
  union all
  select 'function', format('function %%s', p.oid::regprocedure), a.grantee, a.privilege_type
    from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
   where p.pronamespace = to_regnamespace('chat')
) acl
 where grantee = 0
    or grantee in (select oid from pg_roles where rolname in ('chat_app', 'chat_auditor', 'chat_operator'))
"""


def privileges(pg_server, dbname) -> set[tuple[str, str, str, str]]:
    """(kind, object, grantee, privilege) of every grant to a product role or PUBLIC in schema chat."""
    rows = query(pg_server, dbname, ACL)
    names = dict(query(pg_server, dbname, "select oid, rolname from pg_roles"))
    return {(kind, obj, "public" if grantee == 0 else names[grantee], privilege)
            for kind, obj, grantee, privilege in rows}


def functions(pg_server, dbname) -> set[str]:
    return {row[0] for row in query(pg_server, dbname, "select format('function %%s', oid::regprocedure) from pg_proc"
                                                       " where pronamespace = to_regnamespace('chat')")}


def grant_statement(verb: str, kind: str, obj: str, grantee: str, privilege: str) -> str:
    """grant or revoke one privilege: columns as ``priv (col) on table``, everything else as ``priv on obj``."""
    direction = "to" if verb == "grant" else "from"
    if kind == "column":
        table, column = obj.split(" ", 1)
        return f"{verb} {privilege} {column} on {table} {direction} {grantee}"
    return f"{verb} {privilege} on {obj} {direction} {grantee}"


def verify_after(pg_server, dbname, change: Change, statement: str) -> subprocess.CompletedProcess:
    """The change's verify script, run right after ``statement`` in the same transaction (its rollback undoes
    both; a failure ends the session, which undoes them too)."""
    return subprocess.run(
        [shutil.which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", f"begin; {statement};",
         "-f", str(change.script("verify")), pg_server.conninfo(dbname)],
        capture_output=True, text=True, env={**os.environ, "PGOPTIONS": "-c client_min_messages=error"})


@dataclass
class Sabotaged:
    """What a change does to privileges, and the sabotages of them its verify script let pass."""

    granted: set
    taken: set
    created: set
    clean_verify_passes: bool
    passed: list[str]


@pytest.fixture(scope="module")
def sabotaged(pg_server) -> dict[Change, Sabotaged]:
    """The plan deployed change by change on an empty database. After each change: the privileges it
    granted (each revoked in turn), those it took away (each given back) and the functions it created
    (each made callable by PUBLIC), every one of them followed by the change's verify script."""
    name = f"chat_test_acl_{uuid.uuid4().hex[:8]}"
    with pg_server.connect("postgres") as conn:
        conn.execute(f"create database {name}")
    try:
        found, before, before_functions = {}, set(), set()
        for change in PLAN:
            run_sqitch("deploy", "--to", sqitch_spec(change), host=pg_server.host, port=pg_server.port,
                       user=pg_server.user, dbname=name, password=pg_server.password)
            after, after_functions = privileges(pg_server, name), functions(pg_server, name)
            granted, taken, created = after - before, before - after, after_functions - before_functions
            sabotages = [grant_statement("revoke", *privilege) for privilege in sorted(granted)]
            sabotages += [grant_statement("grant", *privilege) for privilege in sorted(taken)]
            sabotages += [f"grant execute on {function} to public" for function in sorted(created)]
            found[change] = Sabotaged(
                granted, taken, created,
                clean_verify_passes=verify_after(pg_server, name, change, "select").returncode == 0,
                passed=[s for s in sabotages if verify_after(pg_server, name, change, s).returncode == 0])
            before, before_functions = after, after_functions
        yield found
    finally:
        with pg_server.connect("postgres") as conn:
            conn.execute(f"drop database {name} with (force)")


def test_the_changes_that_touch_privileges_are_all_checked(sabotaged):
    """The test below is not vacuous: these changes grant, take away or create what it sabotages."""
    touching = {str(c) for c, found in sabotaged.items() if found.granted or found.taken or found.created}
    assert {"chat_schema", "current_user_id@v0.1.0", "users", "tasks", "conversations", "messages",
            "append_message@v0.1.0", "operator_role", "search_messages@v0.3.0", "purge_inactive@v0.1.0",
            "purge_inactive", "message_metadata_limit@v0.4.0", "check_message@v0.2.0", "append_messages@v0.3.0",
            "pop_message@v0.3.0", "clear_conversation@v0.3.0", "turns", "lock_turn", "begin_turn@v0.3.0",
            "finish_turn", "settle_turn", "fail_turn", "provision_user@v0.4.0", "delete_user@v0.4.0",
            "limits@v0.4.0", "argument_limits@v0.4.0", "conversation_not_found", "deleted_users", "check_token",
            "provision_user", "purge_deleted_users"} <= touching
    assert sum(len(found.granted) for found in sabotaged.values()) >= 40
    # the reworked purge takes chat_operator's select and delete
    assert len(sabotaged[Change("purge_inactive")].taken) == 2


@pytest.mark.parametrize("change", PLAN, ids=str)
def test_each_verify_fails_when_any_one_of_its_privileges_is_revoked(sabotaged, change):
    found = sabotaged[change]
    assert found.clean_verify_passes
    assert found.passed == [], f"{change}'s verify passes after: {found.passed}"
