"""What a PostgreSQL security reviewer tries, as the runtime role.

tests/test_isolation.py proves the plain ground (every table and command,
every function, app.user_id unset, empty or not a uuid); these are the
sideways attempts: turning row security off, ON CONFLICT aimed at another
user's key, existence oracles in constraint errors, shadowing the product's
names with temporary objects, privileges left to PUBLIC, views that would run
with their owner's rights, planting app.user_id where it outlives a
transaction, and the runtime role reaching for other roles or for ownership.

A note on the threat: the runtime role chooses app.user_id, so it can act as
any user it names. What the database guarantees is that a request acting for
B, whatever SQL it runs, reaches nothing of A's and learns nothing of A's.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import errors, sql

from as_user import acting_as, call
from conftest import TABLES

RUNTIME_LOGIN = "chat_test_app"


def refusal(conn, user, statement, params=()) -> tuple:
    """What an attempt that must fail tells its caller: SQLSTATE and message, any typed key masked."""
    with pytest.raises(psycopg.Error) as raised:
        call(conn, user, statement, params)
    error = raised.value
    masked = [str(value) for value in (params.values() if isinstance(params, dict) else params)]

    def mask(text):
        for value in masked:
            text = text.replace(value, "<key>") if text else text
        return text

    return error.sqlstate, mask(error.diag.message_primary), mask(error.diag.message_detail)


# row security cannot be turned off

@pytest.mark.parametrize("table", TABLES)
def test_row_security_off_is_an_error_not_a_bypass(app_conn, world, unchanged, table):
    with acting_as(app_conn, world.b):
        app_conn.execute("set local row_security = off")
        with pytest.raises(errors.InsufficientPrivilege) as raised:
            app_conn.execute(sql.SQL("select * from chat.{}").format(sql.Identifier(table)))
    assert "row-level security" in raised.value.diag.message_primary


def test_row_security_off_for_the_functions_too(app_conn, world, unchanged):
    with acting_as(app_conn, world.b):
        app_conn.execute("set local row_security = off")
        with pytest.raises(errors.InsufficientPrivilege):
            app_conn.execute("select * from chat.fetch_recent(%s)", [world.b_conversation])


# INSERT … ON CONFLICT aimed at another user's key

ON_CONFLICT = [
    "insert into chat.users (id) values (%(key)s) on conflict (id) do update set display_name = 'pwned'",
    "insert into chat.users (id) values (%(key)s) on conflict do nothing",
    "insert into chat.conversations (user_id, id) values (%(key)s, %(key)s)"
    " on conflict (user_id, id) do update set title = 'pwned'",
    "insert into chat.tasks (user_id, id, title) values (%(key)s, %(key)s, 'x')"
    " on conflict (user_id, id) do update set title = 'pwned'",
]


@pytest.mark.parametrize("statement", ON_CONFLICT)
def test_on_conflict_at_a_key_of_a_changes_nothing_and_tells_nothing(app_conn, world, unchanged, statement):
    """Aimed at A's key or at a key nobody has, B gets the same refusal (the policy's WITH CHECK, before any
    conflict is looked for)."""
    at_a = refusal(app_conn, world.b, statement, {"key": world.a})
    at_nobody = refusal(app_conn, world.b, statement, {"key": uuid.uuid4()})
    assert at_a == at_nobody
    assert at_a[0] == "42501"


@pytest.mark.parametrize("table", ["conversations", "tasks"])
def test_on_conflict_with_an_id_of_a_stays_in_b_own_rows(app_conn, db, world, table):
    """Keys include user_id, so B's row with A's id is B's own row: A's is never the conflicting one."""
    key = world.conversation if table == "conversations" else world.task
    before = db.execute(sql.SQL("select * from chat.{} where user_id = %s").format(sql.Identifier(table)),
                        [world.a]).fetchall()
    column = "title"
    statement = sql.SQL("insert into chat.{} (id, {}) values (%s, 'mine') on conflict (user_id, id)"
                        " do update set {} = 'pwned' returning user_id").format(
        sql.Identifier(table), sql.Identifier(column), sql.Identifier(column))
    assert call(app_conn, world.b, statement, [key]) == [(world.b,)]
    after = db.execute(sql.SQL("select * from chat.{} where user_id = %s").format(sql.Identifier(table)),
                       [world.a]).fetchall()
    assert after == before


# existence oracles: constraint errors say the same for A's key and a missing one

ORACLES = [
    # a message of B's pointing at A's conversation: the composite foreign key
    "insert into chat.messages (conversation_id, seq, role, content) values (%(key)s, 1, 'user', 'x')",
    # a task or conversation of B's claiming A's user id
    "insert into chat.tasks (user_id, title) values (%(key)s, 'x')",
    "insert into chat.conversations (user_id) values (%(key)s)",
    # B's own row under A's id
    "insert into chat.users (id) values (%(key)s)",
]


@pytest.mark.parametrize("statement", ORACLES)
def test_constraint_errors_are_no_existence_oracle(app_conn, world, unchanged, statement):
    key = world.conversation if "messages" in statement else world.a
    assert refusal(app_conn, world.b, statement, {"key": key}) == \
        refusal(app_conn, world.b, statement, {"key": uuid.uuid4()})


def test_a_client_msg_id_of_a_is_free_for_b(app_conn, world):
    """Idempotency keys are unique per conversation: A's key is no conflict, and no signal, for B."""
    stored = call(app_conn, world.b, "select client_msg_id, replayed from chat.append_message(%s, 'user', 'x',"
                                     " '{}', 'a-1')", [world.b_conversation])
    assert stored == [("a-1", False)]


async def test_a_taken_email_claim_tells_the_caller_nothing(api, auth, db, world):
    """users.email is unique across users (the SPEC): provisioning with a taken email claim answers as any
    other, and stores no email. Only a caller that chooses the claim could probe with it; through the API
    that is the token's issuer, which vouches for the address."""
    newcomer, fresh = uuid.uuid4(), uuid.uuid4()
    taken = await api.get("/api/conversations", headers=auth(newcomer, email="a@example.com"))
    free = await api.get("/api/conversations", headers=auth(fresh, email="free@example.com"))
    assert (taken.status_code, taken.json()) == (free.status_code, free.json()) == (200, {"items": [],
                                                                                         "next_cursor": None})
    emails = dict(db.execute("select id, email from chat.users where id = any(%s)", [[newcomer, fresh]]).fetchall())
    assert emails == {newcomer: None, fresh: "free@example.com"}


# shadowing: temporary objects named like the product's change nothing

SHADOWS = [
    "create temp table users (id uuid, email text)",
    "create temp table conversations (id uuid, user_id uuid, title text, message_count bigint)",
    "create temp table messages (id uuid, conversation_id uuid, user_id uuid, seq bigint, content text)",
    "create temp table tasks (id uuid, user_id uuid, title text)",
    "insert into pg_temp.conversations values (%(conversation)s, %(b)s, 'shadow', 99)",
    "insert into pg_temp.messages values (%(message)s, %(conversation)s, %(b)s, 1, 'shadow')",
    "create function pg_temp.current_user_id() returns uuid language sql as $$ select %(a)s::uuid $$",
    "create function pg_temp.require_user_id() returns uuid language sql as $$ select %(a)s::uuid $$",
    "create function pg_temp.now() returns timestamptz language sql as $$ select 'epoch'::timestamptz $$",
    "create function pg_temp.char_length(text) returns integer language sql as $$ select 0 $$",
    "create function pg_temp.jsonb_typeof(jsonb) returns text language sql as $$ select 'object' $$",
]

READS = [
    "select id, title, message_count from chat.list_conversations(100)",
    "select id, title from chat.get_conversation(%(conversation)s)",
    "select id, seq, content from chat.fetch_messages(%(conversation)s)",
    "select id, seq, content from chat.fetch_recent(%(conversation)s)",
]


def test_temporary_objects_named_like_the_products_change_nothing(app_conn, db, world):
    own = {world.a: world.conversation, world.b: world.b_conversation}

    def reads(user):
        return [call(app_conn, user, statement, {"conversation": own[user]}) for statement in READS]

    before = {user: reads(user) for user in (world.a, world.b)}
    for statement in SHADOWS:
        app_conn.execute(sql.SQL(statement.replace("%(a)s", "{a}")).format(a=sql.Literal(str(world.a)))
                         if "%(a)s" in statement else statement, vars(world))

    assert {user: reads(user) for user in (world.a, world.b)} == before
    # writes land in the product's tables, checked as they always are
    with pytest.raises(psycopg.DataError):
        call(app_conn, world.b, "select chat.append_message(%s, 'user', repeat('x', 10001))", [world.b_conversation])
    appended = call(app_conn, world.b, "select user_id, seq, created_at > 'epoch' from chat.append_message(%s,"
                                       " 'user', 'real')", [world.b_conversation])
    assert appended == [(world.b, 1, True)]
    assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                      [world.b_conversation]).fetchone() == (1,)


def test_every_function_body_names_its_tables_with_their_schema(db):
    """Behind the previous test: pinned search_path (pg_catalog first, pg_temp last, checked in
    tests/test_lifecycle.py), and no relation of the product is ever named without ``chat.``."""
    bodies = db.execute("""
        select p.proname, p.prosrc from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'chat'""").fetchall()
    unqualified = [(name, table) for name, body in bodies for table in TABLES
                   for keyword in ("from", "join", "into", "update", "table")
                   if f"{keyword} {table}" in body.lower()]
    assert bodies and unqualified == []


# privileges: nothing for PUBLIC, nothing unintended for the runtime role

def test_public_holds_no_privilege_on_anything_of_chat(db):
    """Functions are checked in tests/test_lifecycle.py; here the schema, tables, views and sequences."""
    granted = db.execute("""
        select 'schema chat', a.privilege_type
          from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
         where n.nspname = 'chat' and a.grantee = 0
        union all
        select c.oid::regclass::text, a.privilege_type
          from pg_class c join pg_namespace n on n.oid = c.relnamespace,
               aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
         where n.nspname = 'chat' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f') and a.grantee = 0""").fetchall()
    assert granted == []


# The API, schema chat: what \df chat.* lists, every function other programs call (SPEC.md's tables, the
# chat turn's, the account's and the operators'), and nothing else.
API_FUNCTIONS = {
    "chat.append_message(uuid,text,text,jsonb,text,integer)",
    "chat.append_messages(uuid,jsonb)",
    "chat.begin_turn(uuid,text,text,integer,interval,integer,integer,bigint,bigint)",
    "chat.check_token(timestamp with time zone)",
    "chat.clear_conversation(uuid)",
    "chat.compact_messages(uuid,bigint,jsonb,uuid)",
    "chat.create_conversation(text,jsonb)",
    "chat.delete_conversation(uuid)",
    "chat.delete_user()",
    "chat.edit_message(uuid,bigint,text,jsonb,text)",
    "chat.export_user_data()",
    "chat.fail_turn(uuid,bigint,uuid)",
    "chat.fetch_context(uuid,integer,integer,bigint)",
    "chat.fetch_log(uuid,bigint,integer)",
    "chat.open_event_stream(bigint,integer)",
    "chat.fetch_messages(uuid,bigint,integer)",
    "chat.fetch_recent(uuid,integer)",
    "chat.fetch_siblings(uuid,bigint)",
    "chat.finish_turn(uuid,bigint,text,jsonb,integer)",
    "chat.get_conversation(uuid)",
    "chat.list_conversations(integer,timestamp with time zone,uuid)",
    "chat.pop_message(uuid)",
    "chat.provision_user(text,timestamp with time zone)",
    "chat.read_events(uuid[],bigint[],integer)",
    "chat.purge_deleted_users(interval)",
    "chat.purge_inactive(interval,integer)",
    "chat.rename_conversation(uuid,text)",
    "chat.search_messages(text,integer)",
    "chat.settle_turn(uuid,bigint,bigint)",
    "chat.switch_branch(uuid,bigint)",
}

# The helpers, schema chat_private: validators (*_problem), checks and raisers, identity, locks.
HELPER_FUNCTIONS = {
    "chat_private.check_message(text,text,jsonb,text,text)",
    "chat_private.check_message_element(jsonb,text)",
    "chat_private.client_msg_id_problem(text)",
    "chat_private.content_problem(text)",
    "chat_private.conversation_metadata_problem(jsonb)",
    "chat_private.conversations_default_head()",
    "chat_private.current_user_id()",
    "chat_private.estimated_tokens(text,jsonb)",
    "chat_private.fetch_context_walk(uuid,integer,integer,bigint)",
    "chat_private.lock_turn(uuid,bigint)",
    "chat_private.max_count_problem(integer)",
    "chat_private.message_batch_problem(jsonb)",
    "chat_private.message_metadata_problem(jsonb)",
    "chat_private.messages_estimate_tokens()",
    "chat_private.announce()",
    "chat_private.await_announcement(bigint)",
    "chat_private.end_event_stream()",
    "chat_private.messages_tokens_before()",
    "chat_private.metadata_depth_problem(jsonb)",
    "chat_private.path_ranges(uuid,bigint,bigint,bigint)",
    "chat_private.raise_conversation_not_found(uuid)",
    "chat_private.require_user_id()",
    "chat_private.role_problem(text)",
    "chat_private.search_message_hits(tsquery,integer)",
    "chat_private.search_query_problem(text)",
    "chat_private.sibling_position(uuid,bigint,bigint)",
    "chat_private.stretch_end(uuid,bigint)",
    "chat_private.task_description_problem(text)",
    "chat_private.task_title_problem(text)",
    "chat_private.tasks_touch_updated_at()",
    "chat_private.title_problem(text)",
    "chat_private.tokens_problem(bigint)",
    "chat_private.view_before(uuid,bigint)",
}

FUNCTIONS_OF = """
select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = %s"""


def test_the_api_schema_holds_exactly_the_api_and_the_helpers_sit_apart(db):
    assert {row[0] for row in db.execute(FUNCTIONS_OF, ["chat"]).fetchall()} == API_FUNCTIONS
    assert {row[0] for row in db.execute(FUNCTIONS_OF, ["chat_private"]).fetchall()} == HELPER_FUNCTIONS


def test_every_validator_follows_one_naming_convention(db):
    """*_problem says what is wrong (text, NULL when nothing is); check_* and raise_* raise; nothing else judges."""
    judges = db.execute("""
        select p.proname, p.prorettype::regtype::text from pg_proc p
         where p.pronamespace in ('chat'::regnamespace, 'chat_private'::regnamespace)
           and (p.proname ~ '(problem|check|raise|too_|valid|not_found)'
                or (p.pronamespace = 'chat_private'::regnamespace and p.prorettype = 'boolean'::regtype))
         order by 1""").fetchall()
    for name, returns in judges:
        assert (name.endswith("_problem") and returns == "text") or name.startswith(("check_", "raise_")), name
    assert {name for name, _ in judges if name.endswith("_problem")} == {
        f.split("(")[0].removeprefix("chat_private.") for f in HELPER_FUNCTIONS if "_problem(" in f}


CHAT_APP_FUNCTIONS = (API_FUNCTIONS - {"chat.purge_deleted_users(interval)", "chat.purge_inactive(interval,integer)"}
                      | HELPER_FUNCTIONS - {"chat_private.tasks_touch_updated_at()", "chat_private.messages_estimate_tokens()",
                                          "chat_private.messages_tokens_before()",
                                          "chat_private.conversations_default_head()",
                                          # live updates' triggers: a client may not write the log
                                          "chat_private.announce()", "chat_private.end_event_stream()"})


def test_the_runtime_role_executes_exactly_the_intended_functions(db):
    executable = {row[0] for row in db.execute("""
        select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname in ('chat', 'chat_private')
           and has_function_privilege('chat_app', p.oid, 'execute')""").fetchall()}
    assert executable == CHAT_APP_FUNCTIONS


def test_the_helpers_schema_is_the_runtime_roles_to_use_and_no_one_elses(db):
    usage = db.execute("""
        select r.rolname from pg_roles r
         where r.rolname in ('public', 'chat_app', 'chat_auditor', 'chat_operator')
           and has_schema_privilege(r.rolname, 'chat_private', 'usage')""").fetchall()
    assert usage == [("chat_app",)]
    assert db.execute("select has_schema_privilege('chat_app', 'chat_private', 'create')").fetchone() == (False,)
    assert db.execute("""
        select a.privilege_type from pg_namespace n,
               aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
         where n.nspname = 'chat_private' and a.grantee = 0""").fetchall() == []


# views: none may run with its owner's rights (the owner bypasses RLS on Neon)

OWNER_RIGHTS_VIEWS = """
select c.oid::regclass::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = 'chat' and c.relkind in ('v', 'm')
   and not coalesce('security_invoker=true' = any(c.reloptions), false)
"""


def test_no_view_runs_with_its_owners_rights(db):
    assert db.execute(OWNER_RIGHTS_VIEWS).fetchall() == []


def test_the_view_check_catches_one(db):
    db.execute("create view chat.all_messages as select * from chat.messages")
    assert db.execute(OWNER_RIGHTS_VIEWS).fetchall() == [("chat.all_messages",)]
    db.execute("alter view chat.all_messages set (security_invoker = true)")
    assert db.execute(OWNER_RIGHTS_VIEWS).fetchall() == []


# app.user_id planted where it would outlive a transaction

@pytest.mark.parametrize("statement", [
    "alter role current_user set app.user_id = {a}",
    "alter role chat_app set app.user_id = {a}",
    "alter database {database} set app.user_id = {a}",
    "alter role current_user in database {database} set app.user_id = {a}",
])
def test_the_runtime_role_cannot_plant_a_default_user(app_conn, world, statement):
    query = sql.SQL(statement).format(a=sql.Literal(str(world.a)), database=sql.Identifier(app_conn.info.dbname))
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(query)
    with psycopg.connect(app_conn.info.dsn, password=app_conn.info.password, autocommit=True) as fresh:
        assert fresh.execute("select current_setting('app.user_id', true)").fetchone()[0] in (None, "")
        assert fresh.execute("select count(*) from chat.conversations").fetchone() == (0,)


def test_no_role_carries_an_app_setting(db):
    """Nothing the deploy (or anyone) left in pg_db_role_setting sets app.*, for any role or database."""
    planted = db.execute("""
        select setrole::regrole::text, setdatabase, s
          from pg_db_role_setting, unnest(setconfig) s where s like 'app.%'""").fetchall()
    assert planted == []


# the runtime role reaching for other roles, new objects or ownership

@pytest.mark.parametrize("role", ["chat_auditor", "postgres", "pg_read_all_data", "pg_write_server_files"])
def test_the_runtime_role_cannot_become_another(app_conn, role):
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(sql.SQL("set session authorization {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("statement", [
    "create table chat.planted (id int)",
    "create table public.planted (id int)",
    "create view chat.planted as select 1",
    "create function chat.planted() returns int language sql as 'select 1'",
    "create function public.planted() returns int language sql as 'select 1'",
    "create schema planted",
    "create index planted on chat.messages (content)",
    "alter table chat.messages disable row level security",
    "alter table chat.messages no force row level security",
    "drop policy messages_select on chat.messages",
    "create policy planted on chat.messages for select to chat_app using (true)",
    "create role planted",
    "alter role chat_app bypassrls",
])
def test_the_runtime_role_creates_and_alters_nothing(app_conn, db, statement):
    before = db.execute("select count(*) from pg_class").fetchone()
    with pytest.raises(errors.InsufficientPrivilege):
        app_conn.execute(statement)
    assert db.execute("select count(*) from pg_class").fetchone() == before


def test_the_runtime_role_grants_nothing(app_conn, db):
    """Without the grant option, GRANT only warns that nothing was granted; nothing was."""
    acl = "select relacl from pg_class where oid = 'chat.messages'::regclass"
    before = db.execute(acl).fetchone()
    app_conn.execute("grant select on chat.messages to public")
    assert db.execute(acl).fetchone() == before
    with psycopg.connect(app_conn.info.dsn, password=app_conn.info.password, autocommit=True) as conn:
        assert conn.execute("select has_table_privilege('public', 'chat.messages', 'select')").fetchone() == (False,)


def test_the_runtime_role_owns_nothing(db):
    """Neither chat_app nor its login owns an object of this database or of the cluster."""
    owned = db.execute("""
        select d.classid::regclass::text, d.objid, r.rolname
          from pg_shdepend d join pg_roles r on r.oid = d.refobjid
         where d.deptype = 'o' and r.rolname in ('chat_app', %s)
           and d.dbid in (0, (select oid from pg_database where datname = current_database()))""",
                       [RUNTIME_LOGIN]).fetchall()
    assert owned == []
    powers = db.execute("""
        select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication
          from pg_roles where rolname in ('chat_app', %s) order by 1""", [RUNTIME_LOGIN]).fetchall()
    assert powers == [("chat_app", False, False, False, False, False),
                      (RUNTIME_LOGIN, False, False, False, False, False)]
