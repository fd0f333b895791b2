"""The verify scripts of the Sqitch plan fail when their object is missing or
wrong: each sabotage of an object, its change's verify script run right after
it; each change undone, the latest first, its verify script run right after
its revert script; and, the plan deployed change by change, any one privilege
a change granted revoked, one it took away given back, or a function it
created made callable by PUBLIC: that change's verify fails every time.

The scripts run as Sqitch runs them, by psql (sqitch_plan.run_scripts), on one
database per kind of check, each sabotage in a transaction it rolls back:
Sqitch itself adds its registry and a second of start-up per call, and runs
the whole plan's verify in test_lifecycle.py.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

import pytest

from conftest import scratch_database
from sqitch_plan import PLAN, SABOTAGED, Change, run_scripts
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
    ("grant execute on function chat_private.search_message_hits(tsquery, integer) to public", "search_messages"),
    ("revoke execute on function chat.purge_inactive(interval, integer) from chat_operator", "purge_inactive"),
    ("drop function chat.export_user_data()", "export_user_data"),
    ("grant execute on function chat.append_message(uuid, text, text, jsonb, text, integer) to public", "append_message"),
    ("revoke execute on function chat.list_conversations(integer, timestamptz, uuid) from chat_app",
     "list_conversations"),
    ("revoke usage on schema chat from chat_auditor", "chat_schema"),
    ("alter domain chat.message_metadata drop constraint messages_metadata_valid", "message_metadata_limit"),
    ("alter function chat_private.message_metadata_problem(jsonb) set schema chat", "message_metadata_limit"),
    ("alter table chat.messages add constraint messages_metadata_size check (octet_length(metadata::text) < 2000000)",
     "message_metadata_limit"),
    ("grant execute on function chat_private.check_message(text, text, jsonb, text, text) to public", "check_message"),
    ("drop function chat.append_messages(uuid, jsonb)", "append_messages"),
    ("drop function chat.pop_message(uuid)", "pop_message"),
    ("alter function chat.clear_conversation(uuid) security invoker", "clear_conversation"),
    ("alter table chat.turns no force row level security", "turns"),
    ("alter table chat.turns drop constraint turns_reply_fkey", "turns"),
    ("drop index chat.turns_opening_key", "turns"),
    ("grant delete on chat.turns to chat_app", "turns"),
    ("drop policy turns_update on chat.turns", "turns_rls"),
    ("alter function chat_private.lock_turn(uuid, bigint) security definer", "lock_turn"),
    ("drop function chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)", "begin_turn"),
    ("revoke execute on function chat.finish_turn(uuid, bigint, text, jsonb, integer) from chat_app", "finish_turn"),
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
    ("create or replace function chat_private.content_problem(content text) returns text language sql immutable"
     " return case when char_length(content) > 10000 then 'is ' || char_length(content) end", "limits"),
    ("create or replace function chat_private.search_query_problem(query text) returns text language sql immutable"
     " return case when char_length(query) > 1000 then 'is ' || char_length(query) end", "argument_limits"),
    ("create or replace function chat_private.metadata_depth_problem(metadata jsonb) returns text language sql"
     " immutable return case when jsonb_path_exists(metadata, 'strict $.**{101}') then 'too deep' end",
     "metadata_depth"),
    ("alter domain chat.message_metadata add constraint messages_metadata_depth check (value is not null)",
     "metadata_depth"),
    ("alter table chat.conversations alter column metadata type jsonb", "metadata_depth"),
    ("comment on index chat.messages_search_idx is null; drop index chat.messages_search_idx;"
     " create index messages_search_idx on chat.messages using gin (user_id)", "messages_search_index"),
    ("create or replace function chat_private.title_problem(title text) returns text language sql immutable return null",
     "limits"),
    ("create or replace function chat_private.max_count_problem(max_count integer) returns text language sql immutable"
     " return null", "argument_limits"),
    ("grant execute on function chat_private.message_batch_problem(jsonb) to public", "argument_limits"),
    ("create or replace function chat_private.raise_conversation_not_found(conversation_id uuid) returns void"
     " language plpgsql as $$ begin raise exception 'no such conversation' using errcode = 'P0002'; end $$",
     "conversation_not_found"),
    ("revoke execute on function chat_private.raise_conversation_not_found(uuid) from chat_app",
     "conversation_not_found"),
    # a reworked function that writes its error out again
    ("create or replace function chat.pop_message(conversation_id uuid) returns setof chat.messages language plpgsql"
     " security definer set search_path = pg_catalog, pg_temp as $$ begin"
     " raise exception 'conversation % not found', conversation_id using errcode = 'P0002'; end $$", "pop_message"),
    ("create or replace function chat.list_conversations(max_count integer default 20,"
     " before_activity timestamptz default null, before_id uuid default null) returns setof chat.conversations"
     " language sql stable security invoker set search_path = pg_catalog, pg_temp"
     " as $$ select c.* from chat.conversations c where c.user_id = chat_private.current_user_id()"
     " and max_count between 1 and 1000 limit max_count $$", "list_conversations"),
    ("alter function chat_private.current_user_id() set search_path = pg_catalog", "current_user_id"),
    ("alter policy messages_select on chat.messages using (user_id = (select chat_private.current_user_id()))",
     "messages_rls"),
    ("alter policy users_update on chat.users with check (id = (select chat_private.current_user_id()))", "users_rls"),
    ("comment on policy tasks_delete on chat.tasks is null", "tasks_rls"),
    # the helpers apart from the API
    ("grant usage on schema chat_private to public", "private_schema"),
    ("grant usage on schema chat_private to chat_auditor", "private_schema"),
    ("create function chat.content_problem(content text) returns text language sql immutable return null", "limits"),
    ("create function chat.current_user_id() returns uuid language sql stable return null::uuid", "current_user_id"),
    ("create function chat.check_metadata(metadata jsonb, max_bytes integer, field text default 'metadata')"
     " returns jsonb language sql immutable return metadata", "check_metadata"),
    ("alter function chat_private.tasks_touch_updated_at() set schema chat", "tasks"),
    # token counts, the model's context, compaction
    ("drop trigger messages_estimate_tokens on chat.messages", "message_tokens"),
    ("alter table chat.messages alter column tokens drop not null", "message_tokens"),
    ("create or replace function chat_private.estimated_tokens(content text, metadata jsonb) returns integer"
     " language sql immutable return char_length(content) / 3", "message_tokens"),
    ("alter type chat.appended_message drop attribute tokens", "message_tokens"),
    ("drop index chat.messages_summaries_idx", "message_summaries"),
    ("alter table chat.messages drop constraint messages_summary_range", "message_summaries"),
    ("grant execute on function chat_private.check_message_element(jsonb, text) to public", "message_element"),
    ("create or replace function chat.append_messages(conversation_id uuid, messages jsonb)"
     " returns setof chat.appended_message language plpgsql as $$ begin return; end $$", "append_messages"),
    ("revoke execute on function chat.fetch_context(uuid, integer, integer, bigint) from chat_app", "fetch_context"),
    ("drop function chat.fetch_context(uuid, integer, integer, bigint)", "fetch_context"),
    ("drop trigger messages_tokens_before on chat.messages", "message_tokens_before"),
    ("drop index chat.messages_tokens_before_idx", "tokens_before_index"),
    ("revoke execute on function chat_private.fetch_context_walk(uuid, integer, integer, bigint) from chat_app",
     "fetch_context"),
    # the tree of messages
    ("alter table chat.messages drop constraint messages_parent_precedes", "message_parents"),
    ("alter table chat.conversations drop constraint conversations_head", "message_parents"),
    ("drop trigger conversations_default_head on chat.conversations", "message_parents"),
    ("drop index chat.messages_forks_idx", "active_path"),
    ("grant execute on function chat_private.path_ranges(uuid, bigint, bigint, bigint) to public", "active_path"),
    ("alter function chat_private.stretch_end(uuid, bigint) reset enable_sort", "stretch_end_without_sort"),
    ("drop function chat.edit_message(uuid, bigint, text, jsonb, text)", "edit_message"),
    ("revoke execute on function chat.switch_branch(uuid, bigint) from chat_app", "switch_branch"),
    ("drop function chat.fetch_siblings(uuid, bigint)", "fetch_siblings"),
    ("grant execute on function chat.fetch_log(uuid, bigint, integer) to public", "fetch_log"),
    ("alter type chat.context_message drop attribute stretch_from", "message_parents"),
    ("create or replace function chat.pop_message(conversation_id uuid) returns setof chat.messages"
     " language plpgsql security definer set search_path = pg_catalog, pg_temp as $$ begin"
     " perform chat_private.require_user_id(); perform chat_private.raise_conversation_not_found(null); end $$",
     "pop_message"),
    ("create or replace function chat.clear_conversation(conversation_id uuid) returns bigint"
     " language plpgsql security definer set search_path = pg_catalog, pg_temp as $$ begin"
     " perform chat_private.require_user_id(); perform chat_private.raise_conversation_not_found(null);"
     " return 0; end $$", "clear_conversation"),
    ("grant execute on function chat.compact_messages(uuid, bigint, jsonb, uuid) to public", "compact_messages"),
    ("drop function chat.compact_messages(uuid, bigint, jsonb, uuid)", "compact_messages"),
    # the chat turn on a tree: edits, answers again, and where a message stands among its versions
    ("alter table chat.turns drop column reply_key", "turns_reply_key"),
    ("revoke update (reply_key) on chat.turns from chat_app", "turns_reply_key"),
    ("drop function chat_private.sibling_position(uuid, bigint, bigint)", "sibling_position"),
    ("grant execute on function chat_private.sibling_position(uuid, bigint, bigint) to public", "sibling_position"),
    # the head an append replaces, read back from its update
    ("alter table chat.conversations drop column previous_head_seq cascade", "previous_head"),
    ("revoke update (previous_head_seq) on chat.conversations from chat_app", "previous_head"),
    # live updates: the log, who is followed, the announcing triggers, the stream's function
    ("alter table chat.events no force row level security", "events"),
    ("grant insert on chat.events to chat_app", "events"),
    ("drop policy event_streams_select on chat_private.event_streams", "events"),
    ("drop trigger messages_announce on chat.messages", "announce"),
    ("grant execute on function chat_private.announce() to public", "announce"),
    ("revoke execute on function chat.open_event_stream(bigint, integer) from chat_app", "open_event_stream"),
    ("grant execute on function chat.read_events(uuid[], bigint[], integer) to public", "read_events"),
    ("alter function chat.read_events(uuid[], bigint[], integer) security definer", "read_events"),
    # the change the user's streams wait for announced, and said by the reads that find nothing more
    ("create or replace function chat_private.announce() returns trigger language plpgsql security definer"
     " set search_path = pg_catalog, pg_temp as $$ begin return null; end $$", "announce"),
    ("alter table chat_private.event_streams drop column announce_after cascade", "announce_after"),
    ("grant execute on function chat_private.await_announcement(bigint) to public", "announce_after"),
    ("grant update (announce_after) on chat_private.event_streams to chat_app", "announce_after"),
    # the log's kinds checked by a domain, and read back as text
    ("alter table chat.events alter column kind type text", "event_kind"),
    ("alter domain chat.event_kind drop constraint event_kind_known", "event_kind"),
    ("create or replace function chat.read_events(user_ids uuid[], after_ids bigint[], max_count integer default 1000)"
     " returns table (user_id uuid, id bigint, kind text, conversation_id uuid, seq bigint) language plpgsql"
     " set search_path = pg_catalog, pg_temp as $$ begin return query select e.user_id, e.id, e.kind,"
     " e.conversation_id, e.seq from chat.events e where false; end $$", "read_events"),
    ("create or replace function chat.read_events(user_ids uuid[], after_ids bigint[], max_count integer default 1000)"
     " returns table (user_id uuid, id bigint, kind text, conversation_id uuid, seq bigint) language plpgsql"
     " set search_path = pg_catalog, pg_temp as $$ begin end $$", "read_events"),
    ("create or replace function chat.open_event_stream(after_id bigint default null, max_count integer default 1000)"
     " returns table (id bigint, kind text, conversation_id uuid, seq bigint) language plpgsql security definer"
     " set search_path = pg_catalog, pg_temp as $$ begin end $$", "open_event_stream"),
]


@pytest.fixture(scope="module")
def deployed_copy(pg_server, postgresql_server) -> str:
    """A copy of the deployed database for this module's checks, each of which leaves it as it found it."""
    with scratch_database(pg_server, "chat_test_verify", template=postgresql_server.template_dbname) as name:
        yield name


@pytest.mark.parametrize("sabotage, change", SABOTAGE, ids=[c for _, c in SABOTAGE])
def test_verify_fails_when_an_object_is_missing_or_wrong(pg_server, deployed_copy, sabotage, change):
    """The change's verify script (its latest instance, the one sqitch verify runs) passes as deployed, and
    fails right after the sabotage, in the same transaction."""
    script = Change(change).script("verify")
    assert run_scripts(pg_server.conninfo(deployed_copy), script, first="select").returncode == 0
    result = run_scripts(pg_server.conninfo(deployed_copy), script, first=sabotage)
    assert SABOTAGED in result.stdout, result.stderr  # the sabotage itself went through
    assert result.returncode != 0, f"{change}'s verify passes after: {sabotage}"


@pytest.mark.serial  # the role is the cluster's: every other test acts as it
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


@pytest.fixture(scope="module")
def verify_once_undone(pg_server, postgresql_server) -> dict[Change, subprocess.CompletedProcess]:
    """A copy of the deployed database, every change undone in turn, the latest first (its revert script run
    as Sqitch runs it), its verify script run right after: what each said. When a change is undone, every
    change after it is too, as a revert --to leaves it."""
    with scratch_database(pg_server, "chat_test_undo", template=postgresql_server.template_dbname) as name:
        said = {}
        for change in reversed(PLAN):
            if change.name == "roles":
                break  # the roles outlive any one database: the others use them
            undone = run_scripts(pg_server.conninfo(name), change.script("revert"))
            assert undone.returncode == 0, (change, undone.stderr)
            said[change] = run_scripts(pg_server.conninfo(name), change.script("verify"))
        yield said


@pytest.mark.parametrize("change", [c for c in PLAN if c.name != "roles" and not c.tag
                                    and c.name not in ONLY_FOR_A_PLAIN_OWNER], ids=str)
def test_each_verify_fails_once_its_change_is_undone(verify_once_undone, change):
    """Its verify script fails once its revert script (and its dependents', latest first) ran. (The roles
    outlive any one database; their verify is sabotaged above. A change reworked later is checked as it is
    deployed, by the privilege test below, and Sqitch's verify skips it.)"""
    said = verify_once_undone[change]
    assert said.returncode != 0, f"{change}'s verify passes with the change undone"


# Each verify script checks every privilege its change grants, one by one:
# revoke any single one (or give back to PUBLIC what the change kept from
# it) and that change's verify script fails.

ACL = """
select kind, object, grantee, privilege from (
  select 'schema' as kind, format('schema %%I', n.nspname) as object, a.grantee, a.privilege_type as privilege
    from pg_namespace n, aclexplode(n.nspacl) a
   where n.nspname in ('chat', 'chat_private')
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
   where p.pronamespace in (to_regnamespace('chat'), to_regnamespace('chat_private'))
) acl
 where grantee = 0
    or grantee in (select oid from pg_roles where rolname in ('chat_app', 'chat_auditor', 'chat_operator'))
"""


def privileges(pg_server, dbname) -> set[tuple[str, str, str, str]]:
    """(kind, object, grantee, privilege) of every grant to a product role or PUBLIC in schemas chat and
    chat_private."""
    rows = query(pg_server, dbname, ACL)
    names = dict(query(pg_server, dbname, "select oid, rolname from pg_roles"))
    return {(kind, obj, "public" if grantee == 0 else names[grantee], privilege)
            for kind, obj, grantee, privilege in rows}


def functions(pg_server, dbname) -> set[str]:
    return {row[0] for row in query(pg_server, dbname, "select format('function %%s', oid::regprocedure) from pg_proc"
                                                       " where pronamespace in (to_regnamespace('chat'),"
                                                       " to_regnamespace('chat_private'))")}


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
    return run_scripts(pg_server.conninfo(dbname), change.script("verify"), first=statement)


def verify_passes_after(pg_server, dbname, change: Change, sabotage: str) -> bool:
    result = verify_after(pg_server, dbname, change, sabotage)
    assert SABOTAGED in result.stdout, (change, sabotage, result.stderr)  # the sabotage itself went through
    return result.returncode == 0


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
    with scratch_database(pg_server, "chat_test_acl") as name:
        found, before, before_functions = {}, set(), set()
        for change in PLAN:
            deployed = run_scripts(pg_server.conninfo(name), change.script("deploy"))
            assert deployed.returncode == 0, (change, deployed.stderr)
            after, after_functions = privileges(pg_server, name), functions(pg_server, name)
            granted, taken, created = after - before, before - after, after_functions - before_functions
            sabotages = [grant_statement("revoke", *privilege) for privilege in sorted(granted)]
            # (what a dropped function had goes with it: nothing to give back)
            sabotages += [grant_statement("grant", *privilege) for privilege in sorted(taken)
                          if privilege[0] != "function" or privilege[1] in after_functions]
            sabotages += [f"grant execute on {function} to public" for function in sorted(created)]
            found[change] = Sabotaged(
                granted, taken, created,
                clean_verify_passes=verify_after(pg_server, name, change, "select").returncode == 0,
                passed=[s for s in sabotages if verify_passes_after(pg_server, name, change, s)])
            before, before_functions = after, after_functions
        yield found


def test_the_changes_that_touch_privileges_are_all_checked(sabotaged):
    """The test below is not vacuous: these changes grant, take away or create what it sabotages."""
    touching = {str(c) for c, found in sabotaged.items() if found.granted or found.taken or found.created}
    assert {"chat_schema", "current_user_id@v0.1.0", "users", "tasks", "conversations", "messages",
            "append_message@v0.1.0", "operator_role", "search_messages@v0.3.0", "purge_inactive@v0.1.0",
            "purge_inactive", "message_metadata_limit@v0.4.0", "check_message@v0.2.0", "append_messages@v0.3.0",
            "pop_message@v0.3.0", "clear_conversation@v0.3.0", "turns", "lock_turn@v0.5.0", "begin_turn@v0.3.0",
            "finish_turn@v0.5.0", "settle_turn@v0.5.0", "fail_turn@v0.5.0", "provision_user@v0.4.0",
            "delete_user@v0.4.0", "limits@v0.4.0", "argument_limits@v0.4.0", "conversation_not_found@v0.5.0",
            "deleted_users", "check_token@v0.5.0", "provision_user@v0.5.0", "purge_deleted_users",
            # the helpers apart: the schema, and each helper moved there with its grants
            "private_schema", "current_user_id", "limits", "message_metadata_limit", "argument_limits",
            "metadata_depth", "check_message", "conversation_not_found", "lock_turn", "search_messages",
            "tasks",
            # token counts, the model's context, compaction: new helpers and new signatures, granted
            "message_tokens", "message_element", "append_message@v0.8.0", "finish_turn@v0.9.0", "begin_turn@v0.7.0",
            "fetch_context@v0.8.0", "compact_messages@v0.8.0",
            # the running total: its trigger's function kept from public; the walk granted
            "message_tokens_before",
            # the tree: the conversations' trigger function kept from public
            "message_parents",
            # the active path's helpers, and the functions of branches
            "active_path", "fetch_log", "edit_message", "switch_branch@v0.11.0", "fetch_siblings@v0.11.0",
            "fetch_context",
            # a regenerated answer's key, and the place among versions
            "turns_reply_key", "sibling_position", "begin_turn@v0.11.0", "previous_head"} <= touching
    assert sum(len(found.granted) for found in sabotaged.values()) >= 40
    # the reworked purge takes chat_operator's select and delete
    assert len(sabotaged[Change("purge_inactive")].taken) == 2


@pytest.mark.parametrize("change", PLAN, ids=str)
def test_each_verify_fails_when_any_one_of_its_privileges_is_revoked(sabotaged, change):
    found = sabotaged[change]
    assert found.clean_verify_passes
    assert found.passed == [], f"{change}'s verify passes after: {found.passed}"
