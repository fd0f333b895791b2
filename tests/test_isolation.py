"""Isolation, as the runtime role: user B, or nobody, against user A's rows.

For every table and every command, and for every function of the API, B gets
nothing of A's and changes nothing of A's; with app.user_id unset, empty or
garbage the runtime role sees nothing and the functions refuse to act. The
superuser only seeds the data and takes a snapshot of every row before and
after each attempt: the snapshot must not move.
"""

from __future__ import annotations

import uuid
import psycopg
import pytest
from psycopg import errors

from as_user import acting_as, call
from conftest import TABLES
from stored_data import ROWS_OF_A


def rowcount(conn, user, sql, params=()) -> int:
    with acting_as(conn, user):
        return conn.execute(sql, params).rowcount


# select: nothing of A's is visible to B

# Each table, and what picks A's rows in it.


@pytest.mark.parametrize("table, key", ROWS_OF_A)
def test_b_selects_nothing_of_a(app_conn, db, world, table, key):
    params = vars(world)
    assert db.execute(f"select count(*) from chat.{table} where {key}", params).fetchone()[0] > 0
    assert call(app_conn, world.b, f"select * from chat.{table} where {key}", params) == []
    # all B sees of the table is B's own
    owner = "id" if table == "users" else "user_id"
    assert {r[0] for r in call(app_conn, world.b, f"select {owner} from chat.{table}")} <= {world.b}


def test_a_sees_exactly_their_own(app_conn, world):
    counts = {table: call(app_conn, world.a, f"select count(*) from chat.{table}")[0][0] for table in TABLES}
    assert counts == {"users": 1, "tasks": 1, "conversations": 1, "messages": 2, "turns": 1,
                      "deleted_users": 0}


# update and delete: B's statements find no row of A's

@pytest.mark.parametrize("sql", [
    "update chat.users set display_name = 'pwned' where id = %(a)s",
    "update chat.tasks set title = 'pwned', completed = true where id = %(task)s",
    "update chat.conversations set title = 'pwned', message_count = 0 where id = %(conversation)s",
    "update chat.turns set running_until = now() + interval '1 day', reply_seq = null"
    " where conversation_id = %(conversation)s",
    "delete from chat.users where id = %(a)s",
    "delete from chat.tasks where id = %(task)s",
    "delete from chat.conversations where id = %(conversation)s",
])
def test_b_updates_and_deletes_nothing_of_a(app_conn, world, unchanged, sql):
    assert rowcount(app_conn, world.b, sql, vars(world)) == 0


@pytest.mark.parametrize("sql", [
    "update chat.messages set content = 'pwned' where id = %(message)s",
    "delete from chat.messages where id = %(message)s",
    "delete from chat.turns where conversation_id = %(conversation)s",
    "truncate chat.messages",
    "truncate chat.turns",
    "truncate chat.conversations cascade",
    "truncate chat.tasks",
    "truncate chat.users cascade",
])
def test_messages_are_append_only_turns_go_with_them_and_nothing_can_be_truncated(app_conn, world, unchanged, sql):
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, world.b, sql, vars(world))
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, world.a, sql, vars(world))


# insert: B cannot write rows in A's name, nor into A's conversation

@pytest.mark.parametrize("sql", [
    "insert into chat.users (id) values (%(a)s)",
    "insert into chat.tasks (user_id, title) values (%(a)s, 'planted')",
    "insert into chat.conversations (user_id, title) values (%(a)s, 'planted')",
    "insert into chat.messages (conversation_id, user_id, seq, role, content) "
    "values (%(conversation)s, %(a)s, 3, 'user', 'planted')",
    "insert into chat.turns (user_id, conversation_id, seq) values (%(a)s, %(conversation)s, 2)",
])
def test_b_cannot_insert_a_row_of_a(app_conn, world, unchanged, sql):
    with pytest.raises(errors.InsufficientPrivilege) as raised:
        call(app_conn, world.b, sql, vars(world))
    assert "row-level security" in raised.value.diag.message_primary


def test_b_cannot_attach_a_message_of_theirs_to_a_conversation_of_a(app_conn, world, unchanged):
    """The composite key: a message of B's can only reference a conversation of B's.

    The refusal is the same whether the conversation exists (as A's) or not at
    all, so it tells B nothing.
    """
    sql = ("insert into chat.messages (conversation_id, user_id, seq, role, content) "
           "values (%s, %s, 1, 'user', 'planted')")
    refusals = []
    for target in (world.conversation, uuid.uuid4()):
        with pytest.raises(errors.ForeignKeyViolation) as raised:
            call(app_conn, world.b, sql, [target, world.b])
        refusals.append((raised.value.diag.constraint_name, raised.value.diag.message_primary))
    assert refusals[0] == refusals[1]


@pytest.mark.parametrize("table", ["tasks", "conversations"])
def test_the_key_of_a_row_of_a_is_no_oracle_for_b(app_conn, db, world, table):
    """Keys include user_id: B inserting A's id makes B's own row, and reveals nothing."""
    row_id = world.task if table == "tasks" else world.conversation
    title = "B's twin"
    call(app_conn, world.b, f"insert into chat.{table} (id, title) values (%s, %s)", [row_id, title])
    owners = db.execute(f"select user_id, title from chat.{table} where id = %s order by title", [row_id]).fetchall()
    assert sorted(owners) == sorted([(world.a, "A's task" if table == "tasks" else "A's secret"), (world.b, title)])


# updates cannot hand a row to another user

@pytest.mark.parametrize("table, column", [
    ("users", "id"), ("tasks", "user_id"), ("conversations", "user_id"), ("turns", "user_id"),
])
def test_a_cannot_move_their_row_to_b(app_conn, world, unchanged, table, column):
    """The column is not even updatable by the runtime role."""
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, world.a, f"update chat.{table} set {column} = %s", [world.b])


@pytest.mark.parametrize("table, column", [
    ("users", "id"), ("tasks", "user_id"), ("conversations", "user_id"), ("messages", "user_id"),
    ("turns", "user_id"),
])
def test_the_update_policy_refuses_a_move_even_with_the_privilege(app_conn, db, snapshot, world, table, column):
    """Second line: were the column ever granted, WITH CHECK still refuses the new owner."""
    db.execute(f"grant update ({column}) on chat.{table} to chat_app")
    before = snapshot()
    with pytest.raises(errors.InsufficientPrivilege) as raised:
        call(app_conn, world.a, f"update chat.{table} set {column} = %s", [world.b])
    assert "row-level security" in raised.value.diag.message_primary
    assert snapshot() == before


# nobody: app.user_id unset, empty or garbage

NOBODY = [None, ""]


@pytest.mark.parametrize("user", NOBODY, ids=["unset", "empty"])
@pytest.mark.parametrize("table", TABLES)
def test_nobody_sees_nothing(app_conn, world, table, user):
    assert call(app_conn, user, f"select count(*) from chat.{table}") == [(0,)]


@pytest.mark.parametrize("user", NOBODY, ids=["unset", "empty"])
@pytest.mark.parametrize("sql", [
    "update chat.tasks set title = 'x'",
    "update chat.conversations set title = 'x'",
    "update chat.users set display_name = 'x'",
    "update chat.turns set running_until = null",
    "delete from chat.tasks",
    "delete from chat.conversations",
    "delete from chat.users",
])
def test_nobody_changes_nothing(app_conn, world, unchanged, sql, user):
    assert rowcount(app_conn, user, sql) == 0


@pytest.mark.parametrize("user", NOBODY, ids=["unset", "empty"])
@pytest.mark.parametrize("sql", [
    "insert into chat.users (id) values (%(a)s)",
    "insert into chat.tasks (user_id, title) values (%(a)s, 'x')",
    "insert into chat.conversations (user_id) values (%(a)s)",
    "insert into chat.messages (conversation_id, user_id, seq, role, content) "
    "values (%(conversation)s, %(a)s, 3, 'user', 'x')",
    "insert into chat.turns (user_id, conversation_id, seq) values (%(a)s, %(conversation)s, 2)",
])
def test_nobody_inserts_nothing(app_conn, world, unchanged, sql, user):
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, user, sql, vars(world))


@pytest.mark.parametrize("garbage", ["not-a-uuid", "' or true --", " 00000000-0000-0000-0000-000000000000 ",
                                     "00000000-0000-0000-0000-00000000000g"])
@pytest.mark.parametrize("table", TABLES)
def test_a_garbage_user_id_is_an_error_not_a_match(app_conn, world, table, garbage):
    with pytest.raises(errors.InvalidTextRepresentation):
        call(app_conn, garbage, f"select count(*) from chat.{table}")


def test_the_setting_does_not_outlive_its_transaction(app_conn, world):
    call(app_conn, world.a, "select 1")
    assert call(app_conn, None, "select count(*) from chat.conversations") == [(0,)]
    assert call(app_conn, None, "select current_setting('app.user_id', true)") in ([(None,)], [("",)])


# the functions: B against A's conversation, and nobody at all

FUNCTIONS_ON_A_CONVERSATION = [
    "select chat.rename_conversation(%s, 'pwned')",
    "select chat.append_message(%s, 'user', 'planted')",
    "select chat.append_message(%s, 'user', 'A''s first words', '{\"k\": 1}', 'a-1')",
    "select chat.fetch_messages(%s)",
    "select chat.fetch_recent(%s)",
    "select chat.begin_turn(%s, 'planted')",
    "select chat.begin_turn(%s, 'A''s first words', 'a-1')",
    "select chat_private.lock_turn(%s, 1)",
    "select chat.finish_turn(%s, 1, 'planted')",
    "select chat.settle_turn(%s, 1, 2)",
    "select chat.fail_turn(%s, 1, gen_random_uuid())",
]


@pytest.mark.parametrize("sql", FUNCTIONS_ON_A_CONVERSATION)
def test_b_gets_not_found_for_a_conversation_of_a(app_conn, world, unchanged, sql):
    with pytest.raises(errors.NoDataFound):
        call(app_conn, world.b, sql, [world.conversation])


@pytest.mark.parametrize("sql", FUNCTIONS_ON_A_CONVERSATION)
def test_another_users_conversation_and_a_missing_one_give_the_same_error(app_conn, world, sql):
    def refusal(conversation):
        with pytest.raises(psycopg.Error) as raised:
            call(app_conn, world.b, sql, [conversation])
        diag = raised.value.diag
        return (raised.value.sqlstate, diag.message_primary.replace(str(conversation), "<id>"),
                diag.message_detail, diag.message_hint, diag.column_name, diag.constraint_name)

    assert refusal(world.conversation) == refusal(uuid.uuid4())


def test_b_gets_nothing_from_the_reading_functions(app_conn, world, unchanged):
    assert call(app_conn, world.b, "select * from chat.get_conversation(%s)", [world.conversation]) == []
    listed = call(app_conn, world.b, "select id from chat.list_conversations(1000)")
    assert listed == [(world.b_conversation,)]
    assert call(app_conn, world.b, "select chat.delete_conversation(%s)", [world.conversation]) == [(False,)]


def test_b_creates_conversations_only_for_b(app_conn, db, world):
    created = call(app_conn, world.b, "select user_id from chat.create_conversation('mine')")
    assert created == [(world.b,)]
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [world.a]).fetchone() == (1,)


ALL_FUNCTIONS = [
    "select chat.create_conversation()",
    "select chat.list_conversations()",
    "select chat.get_conversation(%(conversation)s)",
    "select chat.rename_conversation(%(conversation)s, 'x')",
    "select chat.delete_conversation(%(conversation)s)",
    "select chat.append_message(%(conversation)s, 'user', 'x')",
    "select chat.fetch_messages(%(conversation)s)",
    "select chat.fetch_recent(%(conversation)s)",
    "select chat.begin_turn(%(conversation)s, 'x')",
    "select chat.begin_turn(null, 'x', 'k')",
    "select chat_private.lock_turn(%(conversation)s, 1)",
    "select chat.finish_turn(%(conversation)s, 1, 'x')",
    "select chat.settle_turn(%(conversation)s, 1, 2)",
    "select chat.fail_turn(%(conversation)s, 1, gen_random_uuid())",
    "select chat.provision_user('planted@example.com')",
    "select chat.delete_user()",
]


@pytest.mark.parametrize("user", NOBODY, ids=["unset", "empty"])
@pytest.mark.parametrize("sql", ALL_FUNCTIONS)
def test_every_function_refuses_to_act_for_nobody(app_conn, world, unchanged, sql, user):
    with pytest.raises(errors.InsufficientPrivilege) as raised:
        call(app_conn, user, sql, vars(world))
    assert "app.user_id" in raised.value.diag.message_primary
