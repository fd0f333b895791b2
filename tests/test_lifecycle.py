"""The Sqitch plan's life: deploy, verify, revert and deploy again on an empty
database, and each change's revert undoing exactly its deploy; a database at
the last tag upgraded keeping every row; deploy as an owner shaped like Neon's
(no superuser, CREATEROLE, BYPASSRLS) or as a plain one. (The verify scripts
failing when their object is missing or wrong: test_verify_scripts.py.)
"""

from __future__ import annotations

import shutil
import subprocess
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from as_user import call
from conftest import ROOT, sqitch_env
from sqitch_plan import PLAN, run_scripts, schema_dump
from stored_data import query

ROLES_SQL = """
select rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolbypassrls
  from pg_roles where rolname in ('chat_app', 'chat_auditor') order by rolname
"""


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
    for tag in ("@v0.14.0", "@v0.13.0", "@v0.12.0", "@v0.11.0", "@v0.10.0", "@v0.9.0", "@v0.8.0", "@v0.7.0", "@v0.6.0", "@v0.5.0", "@v0.4.0", "@v0.3.0", "@v0.2.0", "@v0.1.0"):
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
    assert query(pg_server, empty_db, "select tag from sqitch.tags order by committed_at") == [
        ("@v0.1.0",), ("@v0.2.0",), ("@v0.3.0",), ("@v0.4.0",), ("@v0.5.0",), ("@v0.6.0",),
        ("@v0.7.0",), ("@v0.8.0",), ("@v0.9.0",), ("@v0.10.0",), ("@v0.11.0",), ("@v0.12.0",),
        ("@v0.13.0",), ("@v0.14.0",)]
    upgraded = schema_dump(pg_server, empty_db)
    sqitch("revert", "-y", "--to", "@v0.1.0", dbname=empty_db)
    assert schema_dump(pg_server, empty_db) == released_schema
    sqitch("revert", "-y", dbname=empty_db)
    sqitch("deploy", dbname=empty_db)
    assert schema_dump(pg_server, empty_db) == upgraded


# Every row a database holds, as JSON, in a stable order: what an upgrade and its revert must keep. The
# messages without the columns an upgrade adds (what they hold is checked on its own).
ADDED_COLUMNS = "'{tokens_given,tokens,summary_from,summary_through,tokens_before,parent_seq,stretch_from}'::text[]"
ROWS = f"""
select t, pg_catalog.jsonb_agg(r order by r::text)
  from (select 'users' as t, to_jsonb(x) as r from chat.users x
        union all select 'conversations', to_jsonb(x) - 'head_seq' - 'previous_head_seq' from chat.conversations x
        union all select 'messages', to_jsonb(x) - {ADDED_COLUMNS} from chat.messages x
        union all select 'turns', to_jsonb(x) - 'reply_key' from chat.turns x
        union all select 'tasks', to_jsonb(x) from chat.tasks x) rows
 group by t order by t
"""

LAST_TAG = "@v0.14.0"

RELEASED_WRITES = """
select set_config('app.user_id', %(user)s, true);
select chat.provision_user('reader@example.com');
select chat.create_conversation('Groceries', '{"pinned": true}');
insert into chat.tasks (user_id, title, description) values (chat_private.current_user_id(), 'milk', 'two litres');
select chat.append_message(c.id, 'user', 'Add milk, please.', '{}', 'k-1') from chat.conversations c;
select chat.append_messages(c.id, %(items)s) from chat.conversations c;
select chat.begin_turn(c.id, 'And eggs?', 'k-2') from chat.conversations c;
"""


def test_a_database_with_data_at_the_last_tag_upgrades_keeping_every_row(pg_server, sqitch, empty_db):
    """Rows written by the plan as tagged last (users, a conversation, messages with and without keys and an
    agent item's metadata, a turn, a task) pass the upgrade's checks, come out unchanged, each conversation one
    path (each message following the one before it, the head at the last), and the API works on them; revert
    --to the tag keeps them too."""
    sqitch("deploy", "--to", LAST_TAG, dbname=empty_db)
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
    # one path: each message follows the one before it, in one stretch, and the head is the last
    assert query(pg_server, empty_db, "select seq, parent_seq, stretch_from, tokens, tokens_before"
                                      " from chat.messages order by seq") == [
        (1, None, 1, 9, 0), (2, 1, 1, 34, 9), (3, 2, 1, 25, 43), (4, 3, 1, 7, 68)]
    assert query(pg_server, empty_db, "select message_count, head_seq from chat.conversations") == [(4, 4)]
    with psycopg.connect(pg_server.conninfo(empty_db), autocommit=True) as conn:
        conn.execute("select set_config('app.user_id', %s, false)", [user])
        (conversation,) = conn.execute("select id from chat.conversations").fetchone()
        replayed = conn.execute("select seq, replayed from chat.append_message(%s, 'user', 'Add milk, please.',"
                                " '{}', 'k-1')", [conversation]).fetchone()
        appended = conn.execute("select seq, replayed from chat.append_messages(%s, %s)",
                                [conversation, items]).fetchall()
        assert (replayed, appended) == ((1, True), [(5, False), (6, False)])
        assert conn.execute("select seq, parent_seq, stretch_from, tokens_before from chat.messages where seq > 4"
                            " order by seq").fetchall() == [(5, 4, 1, 75), (6, 5, 1, 109)]
        assert conn.execute("select head_seq from chat.conversations").fetchone() == (6,)
        assert conn.execute("select pg_catalog.array_agg(seq order by seq) from chat.fetch_context(%s, 100000)",
                            [conversation]).fetchone() == ([1, 2, 3, 4, 5, 6],)
        # a message of the older rows edited: the active path goes on from the new version
        assert conn.execute("select seq, parent_seq from chat.edit_message(%s, 4, 'And a dozen eggs?')",
                            [conversation]).fetchone() == (7, 3)
        assert conn.execute("select pg_catalog.array_agg(seq) from chat.fetch_recent(%s, 50)",
                            [conversation]).fetchone() == ([1, 2, 3, 7],)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("update chat.tasks set title = ''")

    sqitch("revert", "-y", "--to", LAST_TAG, dbname=empty_db)
    after_revert = query(pg_server, empty_db, ROWS.replace(f" - {ADDED_COLUMNS}", ""))
    assert [(table, len(rows)) for table, rows in after_revert] == [
        ("conversations", 1), ("messages", 7), ("tasks", 1), ("turns", 1), ("users", 1)]


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
                    for name in ("conversations", "deleted_users", "events", "messages", "tasks", "turns", "users")]


def test_every_table_has_one_policy_per_command_for_the_runtime_role(pg_server, chat_db):
    rows = query(pg_server, chat_db, """
        select tablename, cmd, count(*) from pg_policies
         where schemaname = 'chat' and 'chat_app' = any(roles) group by 1, 2 order by 1, 2""")
    expected = [(table, cmd, 1)
                for table in ("conversations", "deleted_users", "events", "messages", "tasks", "turns", "users")
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
         where n.nspname in ('chat', 'chat_private') order by 1""")
    assert len(rows) >= 12
    for signature, config, bound_at_creation, security_definer, public_execute in rows:
        assert config == (None if bound_at_creation else ["search_path=pg_catalog, pg_temp",
                                                           *PLANNER_SETTINGS.get(signature, [])]), signature
        assert not (bound_at_creation and security_definer), signature
        assert security_definer == (signature in OWNER_RIGHTS_FUNCTIONS), signature
        assert not public_execute, signature


# The settings a function plans its statements with, beside its search_path: fetch_context's cut, planned
# generic on statistics where most conversations are short, read a long one by seq and sorted it; fetch_recent's
# read across stretches, whose custom plan always looked cheaper than a generic one, was planned on every call; and
# its lookups of a stretch by seq, planned generically as index-only scans of the budget's index, read the whole
# conversation's entries; and a stretch's end, planned generically, read the conversation by seq and sorted it.
PLANNER_SETTINGS = {"chat.fetch_context(uuid,integer,integer,bigint)": ["enable_sort=off"],
                    "chat.fetch_recent(uuid,integer)": ["enable_indexonlyscan=off", "plan_cache_mode=force_generic_plan"],
                    "chat_private.stretch_end(uuid,bigint)": ["enable_sort=off"]}

# The functions that run with their owner's rights: search's word lookup,
# which row security would keep off the word index (see its deploy script).
OWNER_RIGHTS_FUNCTIONS = {"chat_private.search_message_hits(tsquery,integer)",
                          # and the operators' purge, so that chat_operator needs no privilege on any table
                          "chat.purge_inactive(interval,integer)", "chat.purge_deleted_users(interval)",
                          # and the two that remove messages, which chat_app may not delete itself
                          "chat.pop_message(uuid)", "chat.clear_conversation(uuid)",
                          # and live updates' log and leases, which no client writes
                          "chat_private.announce()", "chat_private.end_event_stream()",
                          "chat.open_event_stream(bigint,integer)", "chat_private.await_announcement(bigint)"}


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
                    "select chat.begin_turn(%s, 'secret', 'k-1')", "select chat_private.lock_turn(%s, 1)",
                    "select chat.finish_turn(%s, 1, 'x')", "select chat.fail_turn(%s, 1, gen_random_uuid())"):
            with pytest.raises(psycopg.errors.NoDataFound):
                call(conn, b, sql, [conversation])
        assert call(conn, b, "select * from chat.search_messages('secret')") == []
        assert call(conn, b, "select * from chat_private.search_message_hits('secret', 10)") == []
        assert [row[0] for row in call(conn, a, "select content from chat.search_messages('secret')")] == ["secret"]
        assert len(call(conn, a, "select * from chat_private.search_message_hits('secret', 10)")) == 1
        assert call(conn, b, "select chat.export_user_data() -> 'conversations'") == [([],)]
        for sql in ("select chat.list_conversations()", "select chat_private.search_message_hits('secret', 10)"):
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
            call(conn, user, "insert into chat.users (id) values (chat_private.current_user_id())")
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


# Every change, one at a time: revert undoes exactly its deploy.

def test_each_revert_undoes_exactly_its_deploy(pg_server, empty_db):
    """Each change's deploy script, change by change, the schema dumped before each; then each revert script,
    the latest first: after each the schema is as it was before that change. The scripts run as Sqitch runs
    them (sqitch_plan.run_scripts): what is checked is what they do; Sqitch's own deploy and revert, its
    registry and its --to, are checked above, by whole-plan runs."""
    conninfo = pg_server.conninfo(empty_db)
    before = {}
    for change in PLAN:
        before[change] = schema_dump(pg_server, empty_db)
        deployed = run_scripts(conninfo, change.script("deploy"))
        assert deployed.returncode == 0, (change, deployed.stderr)
    for change in reversed(PLAN):
        reverted = run_scripts(conninfo, change.script("revert"))
        assert reverted.returncode == 0, (change, reverted.stderr)
        assert schema_dump(pg_server, empty_db) == before[change], change
