"""The verify scripts of the Sqitch plan fail when their object is missing or
wrong: each sabotage of an object verified by sqitch verify of its change
alone; each change undone behind Sqitch's back, its verify not ok; and, the
plan deployed change by change, any one privilege a change granted revoked,
one it took away given back, or a function it created made callable by
PUBLIC: that change's verify fails every time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass

import pytest

from conftest import run_sqitch
from sqitch_plan import PLAN, Change, sqitch_spec
from stored_data import query


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


# Every change, one at a time: its verify script fails once its objects are gone.

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
