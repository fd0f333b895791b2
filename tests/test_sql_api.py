"""The SQL API's semantics, called as the runtime role.

Each function of the SPEC's core table: results, ordering, paging, and the
SQLSTATE of every refusal.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

from as_user import acting_as, append_message, call
from stored_data import stored_user


@pytest.fixture
def app(app_conn):
    app_conn.row_factory = dict_row
    return app_conn


def create(app, user, title=None, metadata=None):
    with acting_as(app, user):
        return app.execute(
            "select * from chat.create_conversation(%s, coalesce(%s::jsonb, '{}'))",
            [title, psycopg.types.json.Jsonb(metadata) if metadata is not None else None],
        ).fetchone()


def sqlstate_of(app, user, sql, params=()):
    with pytest.raises(psycopg.Error) as raised:
        call(app, user, sql, params)
    return raised.value.sqlstate, raised.value.diag.message_primary, raised.value.diag.column_name


# create / get / rename / delete

def test_create_conversation_returns_the_new_row(app, user_a):
    row = create(app, user_a, "Groceries", {"source": "web"})
    assert row["user_id"] == user_a
    assert row["title"] == "Groceries"
    assert row["metadata"] == {"source": "web"}
    assert row["message_count"] == 0
    assert row["created_at"] == row["updated_at"]


def test_create_conversation_defaults(app, user_a):
    row = create(app, user_a)
    assert row["title"] is None and row["metadata"] == {}


def test_create_conversation_for_an_unprovisioned_user_is_refused(app):
    stranger = uuid.uuid4()
    state, message, _ = sqlstate_of(app, stranger, "select chat.create_conversation()")
    assert state == "23503"
    assert "not provisioned" in message


def test_get_conversation_returns_one_row_or_none(app, user_a):
    conversation = create(app, user_a, "x")
    assert call(app, user_a, "select * from chat.get_conversation(%s)", [conversation["id"]]) == [conversation]
    assert call(app, user_a, "select * from chat.get_conversation(%s)", [uuid.uuid4()]) == []


def test_rename_sets_and_clears_the_title_and_counts_as_activity(app, user_a):
    conversation = create(app, user_a, "old")
    renamed = call(app, user_a, "select * from chat.rename_conversation(%s, 'new')", [conversation["id"]])[0]
    assert renamed["title"] == "new"
    assert renamed["updated_at"] > conversation["updated_at"]
    cleared = call(app, user_a, "select * from chat.rename_conversation(%s, null)", [conversation["id"]])[0]
    assert cleared["title"] is None


def test_rename_of_a_missing_conversation_is_p0002(app, user_a):
    state, message, _ = sqlstate_of(app, user_a, "select chat.rename_conversation(%s, 't')", [uuid.uuid4()])
    assert state == "P0002" and "not found" in message


def test_delete_conversation_takes_its_messages(app, user_a, db):
    conversation = create(app, user_a)
    for _ in range(3):
        append_message(app, user_a, conversation["id"])
    delete = "select chat.delete_conversation(%s) as deleted"
    assert call(app, user_a, delete, [conversation["id"]]) == [{"deleted": True}]
    assert call(app, user_a, delete, [conversation["id"]]) == [{"deleted": False}]
    assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                      [conversation["id"]]).fetchone()[0] == 0


# list_conversations

def test_list_orders_by_last_activity(app, user_a):
    first, second, third = (create(app, user_a, t) for t in ("first", "second", "third"))
    append_message(app, user_a, first["id"])  # first is now the most recent
    titles = [r["title"] for r in call(app, user_a, "select * from chat.list_conversations()")]
    assert titles == ["first", "third", "second"]


def test_list_keyset_pages_cover_every_conversation_once(app, user_a, db):
    # Ties on updated_at are the hard case for a keyset: make half of them equal.
    ids = {create(app, user_a)["id"] for _ in range(23)}
    db.execute("update chat.conversations set updated_at = '2026-01-01' where id = any(%s)", [list(ids)[:12]])
    seen, cursor = [], (None, None)
    while True:
        page = call(app, user_a, "select * from chat.list_conversations(5, %s, %s)", list(cursor))
        if not page:
            break
        assert len(page) <= 5
        seen += [r["id"] for r in page]
        cursor = (page[-1]["updated_at"], page[-1]["id"])
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == ids
    keys = [(r["updated_at"], r["id"]) for r in
            call(app, user_a, "select * from chat.list_conversations(1000)")]
    assert keys == sorted(keys, reverse=True)


def test_list_with_a_time_only_starts_strictly_before_it(app, user_a, db):
    old, new = create(app, user_a, "old"), create(app, user_a, "new")
    db.execute("update chat.conversations set updated_at = '2026-01-01' where id = %s", [old["id"]])
    rows = call(app, user_a, "select * from chat.list_conversations(20, %s)", [new["updated_at"]])
    assert [r["id"] for r in rows] == [old["id"]]


@pytest.mark.parametrize("max_count", [0, -1, 1001, None])
def test_list_refuses_max_count_out_of_range(app, user_a, max_count):
    state, _, column = sqlstate_of(app, user_a, "select chat.list_conversations(%s)", [max_count])
    assert (state, column) == ("22023", "max_count")


def test_list_refuses_before_id_without_before_activity(app, user_a):
    state, _, column = sqlstate_of(app, user_a, "select chat.list_conversations(20, null, %s)", [uuid.uuid4()])
    assert (state, column) == ("22023", "before_activity")


# append_message

def test_append_numbers_messages_and_bumps_the_conversation(app, user_a):
    conversation = create(app, user_a)
    messages = [append_message(app, user_a, conversation["id"], role, f"m{i}")
                for i, role in enumerate(["system", "user", "assistant", "tool"])]
    assert [m["seq"] for m in messages] == [1, 2, 3, 4]
    assert all(m["replayed"] is False for m in messages)
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    after = call(app, user_a, "select * from chat.get_conversation(%s)", [conversation["id"]])[0]
    assert after["message_count"] == 4
    assert after["updated_at"] == messages[-1]["created_at"]


def test_append_replay_returns_the_stored_message_and_writes_nothing(app, user_a, db):
    conversation = create(app, user_a)
    stored = append_message(app, user_a, conversation["id"], "assistant", "done", {"tool_calls": [1]}, "turn-1")
    replay = append_message(app, user_a, conversation["id"], "assistant", "done", {"tool_calls": [1]}, "turn-1")
    assert stored["replayed"] is False and replay["replayed"] is True
    assert {k: v for k, v in replay.items() if k != "replayed"} == {k: v for k, v in stored.items() if k != "replayed"}
    assert db.execute("select message_count from chat.conversations where id = %s",
                      [conversation["id"]]).fetchone()[0] == 1


@pytest.mark.parametrize("changed", [
    {"role": "user"}, {"content": "other"}, {"metadata": {"tool_calls": [2]}},
])
def test_append_reusing_a_client_msg_id_for_another_payload_is_23505(app, user_a, db, changed):
    conversation = create(app, user_a)
    original = dict(role="assistant", content="done", metadata={"tool_calls": [1]}, client_msg_id="turn-1")
    append_message(app, user_a, conversation["id"], **original)
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        append_message(app, user_a, conversation["id"], **{**original, **changed})
    assert raised.value.diag.column_name == "client_msg_id"
    assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                      [conversation["id"]]).fetchone()[0] == 1


def test_a_client_msg_id_is_scoped_to_its_conversation(app, user_a):
    one, two = create(app, user_a), create(app, user_a)
    first = append_message(app, user_a, one["id"], client_msg_id="k")
    second = append_message(app, user_a, two["id"], client_msg_id="k")
    assert first["id"] != second["id"] and second["replayed"] is False


def test_append_to_a_missing_conversation_is_p0002(app, user_a):
    missing = uuid.uuid4()
    state, message, _ = sqlstate_of(app, user_a, "select chat.append_message(%s, 'user', 'x')", [missing])
    assert state == "P0002"
    assert message == f"conversation {missing} not found"


# fetch_messages / fetch_recent

@pytest.fixture
def conversation_of_30(app, user_a):
    """A conversation of user_a with 30 messages, 'message N' at seq N, appended through the SQL API."""
    conversation = create(app, user_a)
    for i in range(1, 31):
        append_message(app, user_a, conversation["id"], "user" if i % 2 else "assistant", f"message {i}")
    return conversation["id"]


def test_fetch_messages_pages_forward_from_a_seq(app, user_a, conversation_of_30):
    rows = call(app, user_a, "select * from chat.fetch_messages(%s, 10, 5)", [conversation_of_30])
    assert [r["seq"] for r in rows] == [11, 12, 13, 14, 15]
    assert [r["content"] for r in rows] == [f"message {i}" for i in range(11, 16)]
    everything, after = [], 0
    while page := call(app, user_a, "select * from chat.fetch_messages(%s, %s, 7)", [conversation_of_30, after]):
        everything += page
        after = page[-1]["seq"]
    assert [r["seq"] for r in everything] == list(range(1, 31))


def test_fetch_messages_defaults_to_the_first_hundred(app, user_a, conversation_of_30):
    rows = call(app, user_a, "select * from chat.fetch_messages(%s)", [conversation_of_30])
    assert [r["seq"] for r in rows] == list(range(1, 31))


def test_fetch_recent_returns_the_last_messages_ascending(app, user_a, conversation_of_30):
    rows = call(app, user_a, "select * from chat.fetch_recent(%s, 4)", [conversation_of_30])
    assert [r["seq"] for r in rows] == [27, 28, 29, 30]
    assert len(call(app, user_a, "select * from chat.fetch_recent(%s)", [conversation_of_30])) == 30


def test_fetch_of_an_empty_conversation_is_empty_not_missing(app, user_a):
    conversation = create(app, user_a)
    assert call(app, user_a, "select * from chat.fetch_messages(%s)", [conversation["id"]]) == []
    assert call(app, user_a, "select * from chat.fetch_recent(%s)", [conversation["id"]]) == []


@pytest.mark.parametrize("sql", [
    "select chat.fetch_messages(%s)",
    "select chat.fetch_recent(%s)",
])
def test_fetch_of_a_missing_conversation_is_p0002(app, user_a, sql):
    missing = uuid.uuid4()
    state, message, _ = sqlstate_of(app, user_a, sql, [missing])
    assert (state, message) == ("P0002", f"conversation {missing} not found")


@pytest.mark.parametrize("sql, column", [
    ("select chat.fetch_messages(%s, 0, 0)", "max_count"),
    ("select chat.fetch_messages(%s, 0, 1001)", "max_count"),
    ("select chat.fetch_messages(%s, -1, 10)", "after_seq"),
    ("select chat.fetch_messages(%s, null, 10)", "after_seq"),
    ("select chat.fetch_recent(%s, 0)", "max_count"),
    ("select chat.fetch_recent(%s, 1001)", "max_count"),
    ("select chat.fetch_recent(%s, null)", "max_count"),
])
def test_fetch_refuses_bounds_out_of_range(app, user_a, conversation_of_30, sql, column):
    state, _, named = sqlstate_of(app, user_a, sql, [conversation_of_30])
    assert (state, named) == ("22023", column)


def test_fetch_accepts_the_bounds_themselves(app, user_a, conversation_of_30):
    assert len(call(app, user_a, "select * from chat.fetch_messages(%s, 0, 1000)", [conversation_of_30])) == 30
    assert len(call(app, user_a, "select * from chat.fetch_recent(%s, 1)", [conversation_of_30])) == 1


# provisioning and account deletion

@pytest.mark.parametrize(("email", "stored"), [
    ("ada@example.com", "ada@example.com"),
    (None, None),
    ("not an address", None),
    ("x" * 320 + "@example.com", None),
])
def test_provision_user_makes_the_row_once_with_the_email_when_the_table_takes_it(app, db, email, stored):
    user = uuid.uuid4()
    assert call(app, user, "select chat.provision_user(%s) as created", [email]) == [{"created": True}]
    assert stored_user(db, user) == (stored,)
    # again: nothing changes, whatever the claim says now
    assert call(app, user, "select chat.provision_user('other@example.com') as created") == [{"created": False}]
    assert stored_user(db, user) == (stored,)


def test_provision_user_with_another_users_email_provisions_without_it(app, db, user_a):
    newcomer = uuid.uuid4()
    assert call(app, newcomer, "select chat.provision_user('a@example.com') as created") == [{"created": True}]
    assert stored_user(db, newcomer) == (None,)
    assert stored_user(db, user_a) == ("a@example.com",)


def test_delete_user_takes_everything_of_the_user_and_nothing_else(app, db, snapshot, user_a, user_b):
    for user in (user_a, user_b):
        conversation = create(app, user)["id"]
        call(app, user, "select chat.begin_turn(%s, 'hi')", [conversation])
        call(app, user, "insert into chat.tasks (title) values ('t')")
    theirs = {table: [row for row in rows if user_a not in row] for table, rows in snapshot().items()}
    assert call(app, user_a, "select chat.delete_user() as deleted") == [{"deleted": True}]
    after = snapshot()
    # what is left of A: the tombstone of the deletion (tests/test_account_deletion.py)
    assert [row[0] for row in after.pop("deleted_users")] == [user_a]
    assert after == {table: rows for table, rows in theirs.items() if table != "deleted_users"}
    assert call(app, user_a, "select chat.delete_user() as deleted") == [{"deleted": False}]


@pytest.mark.parametrize("sql", ["select chat.provision_user()", "select chat.delete_user()"])
def test_provisioning_and_deletion_act_for_somebody(app, db, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(app, None, sql)
    assert db.execute("select count(*) from chat.users").fetchone() == (0,)
