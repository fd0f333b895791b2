"""The SQL functions an agent's session needs, as the runtime role: ``append_messages`` (a turn's items in
one call, all or none, each idempotent), ``pop_message`` and ``clear_conversation`` (the only ways a
message goes, short of its conversation), with seq gapless and message_count exact afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from app.models import MAX_MESSAGE_METADATA
from as_user import acting_as, call
from audit_scripts import run_integrity
from conftest import ROOT
from races import run_together, wait_for_lock_waiters
from stored_data import MESSAGE_FIELDS, stored_messages
from sizes import padded


def append_many(conn, user, conversation, messages):
    return call(conn, user, "select seq, role, content, metadata, client_msg_id, replayed"
                            " from chat.append_messages(%s, %s)", [conversation, Jsonb(messages)])


def message_count(db, conversation) -> int:
    return db.execute("select message_count from chat.conversations where id = %s", [conversation]).fetchone()[0]


def turn(n: int) -> list[dict]:
    """A 4-item turn as an agent writes it: the user's words, a tool call, its output, the reply."""
    return [
        {"role": "user", "content": f"add milk {n}"},
        {"role": "assistant", "content": "add_task", "metadata": {"call_id": f"c{n}", "arguments": '{"t": 1}'}},
        {"role": "tool", "content": "ok", "metadata": {"call_id": f"c{n}"}},
        {"role": "assistant", "content": f"done {n}"},
    ]


# append_messages

def test_append_messages_appends_in_order_with_consecutive_seq(app_conn, db, user_a, conversation):
    call(app_conn, user_a, "select chat.append_message(%s, 'system', 'be brief')", [conversation])
    before = db.execute("select updated_at from chat.conversations where id = %s", [conversation]).fetchone()[0]
    rows = append_many(app_conn, user_a, conversation, turn(1))
    assert rows == [(2, "user", "add milk 1", {}, None, False),
                    (3, "assistant", "add_task", {"call_id": "c1", "arguments": '{"t": 1}'}, None, False),
                    (4, "tool", "ok", {"call_id": "c1"}, None, False),
                    (5, "assistant", "done 1", {}, None, False)]
    assert [r[:4] for r in stored_messages(db, conversation, MESSAGE_FIELDS)[1:]] == [r[:4] for r in rows]
    assert message_count(db, conversation) == 5
    after = db.execute("select updated_at from chat.conversations where id = %s", [conversation]).fetchone()[0]
    assert after > before
    # one clock for the batch, read under the conversation's lock
    assert db.execute("select count(distinct created_at), min(created_at) = %s from chat.messages"
                      " where conversation_id = %s and seq > 1", [after, conversation]).fetchone() == (1, True)


def test_append_messages_returns_the_columns_of_append_message(app_conn, user_a, conversation):
    with acting_as(app_conn, user_a) as conn:
        one = conn.execute("select * from chat.append_message(%s, 'user', 'x')", [conversation])
        many = conn.execute("select * from chat.append_messages(%s, '[{\"role\": \"user\", \"content\": \"y\"}]')",
                            [conversation])
        assert [c.name for c in many.description] == [c.name for c in one.description]


def test_json_null_metadata_and_client_msg_id_mean_none(app_conn, user_a, conversation):
    rows = append_many(app_conn, user_a, conversation,
                       [{"role": "user", "content": "", "metadata": None, "client_msg_id": None}])
    assert rows == [(1, "user", "", {}, None, False)]


def test_a_retried_batch_is_replayed_and_writes_nothing(app_conn, db, user_a, conversation):
    batch = [{**item, "client_msg_id": f"t1-{i}"} for i, item in enumerate(turn(1))]
    first = append_many(app_conn, user_a, conversation, batch)
    xmin = db.execute("select xmin::text from chat.conversations where id = %s", [conversation]).fetchone()
    again = append_many(app_conn, user_a, conversation, batch)
    assert [r[:5] for r in again] == [r[:5] for r in first]
    assert [r[5] for r in first] == [False] * 4 and [r[5] for r in again] == [True] * 4
    assert message_count(db, conversation) == 4
    # not even the conversation's row was written
    assert db.execute("select xmin::text from chat.conversations where id = %s", [conversation]).fetchone() == xmin


def test_a_partly_stored_batch_stores_the_rest_after_it(app_conn, db, user_a, conversation):
    append_many(app_conn, user_a, conversation, [{"role": "user", "content": "hi", "client_msg_id": "u1"}])
    append_many(app_conn, user_a, conversation, [{"role": "assistant", "content": "between"}])
    rows = append_many(app_conn, user_a, conversation, [
        {"role": "user", "content": "hi", "client_msg_id": "u1"},
        {"role": "assistant", "content": "hello", "client_msg_id": "a1"},
    ])
    assert rows == [(1, "user", "hi", {}, "u1", True), (3, "assistant", "hello", {}, "a1", False)]
    assert message_count(db, conversation) == 3


def test_an_element_repeating_an_earlier_one_of_its_batch_is_its_replay(app_conn, db, user_a, conversation):
    item = {"role": "user", "content": "twice", "metadata": {"a": [1]}, "client_msg_id": "k"}
    rows = append_many(app_conn, user_a, conversation, [item, {"role": "assistant", "content": "x"}, item])
    assert [(r[0], r[5]) for r in rows] == [(1, False), (2, False), (1, True)]
    assert message_count(db, conversation) == 2 and len(stored_messages(db, conversation, MESSAGE_FIELDS)) == 2


@pytest.mark.parametrize("earlier", ["stored", "in the batch"])
@pytest.mark.parametrize("changed", ["role", "content", "metadata"])
def test_a_client_msg_id_reused_for_another_message_is_refused_naming_it(app_conn, db, user_a, conversation,
                                                                          earlier, changed):
    item = {"role": "user", "content": "hi", "metadata": {"n": 1}, "client_msg_id": "k"}
    other = {**item, changed: {"role": "assistant", "content": "bye", "metadata": {"n": 2}}[changed]}
    if earlier == "stored":
        append_many(app_conn, user_a, conversation, [item])
        batch = [{"role": "user", "content": "new"}, other]
    else:
        batch = [item, other]
    before = stored_messages(db, conversation, MESSAGE_FIELDS)
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        append_many(app_conn, user_a, conversation, batch)
    assert raised.value.diag.column_name == "messages[1].client_msg_id"
    assert raised.value.diag.constraint_name == "messages_client_msg_id_key"
    assert stored_messages(db, conversation, MESSAGE_FIELDS) == before


BAD_ELEMENTS = [
    ({"role": "robot", "content": "x"}, "messages[2].role", psycopg.errors.InvalidParameterValue),
    ({"role": "user"}, "messages[2].content", psycopg.errors.NullValueNotAllowed),
    ({"role": "user", "content": None}, "messages[2].content", psycopg.errors.NullValueNotAllowed),
    ({"role": "user", "content": "x" * 10_001}, "messages[2].content", psycopg.errors.StringDataRightTruncation),
    ({"role": "user", "content": 5}, "messages[2].content", psycopg.errors.InvalidParameterValue),
    ({"role": ["user"], "content": "x"}, "messages[2].role", psycopg.errors.InvalidParameterValue),
    ({"role": "user", "content": "x", "metadata": [1]}, "messages[2].metadata", psycopg.errors.InvalidParameterValue),
    ({"role": "user", "content": "x", "metadata": padded(MAX_MESSAGE_METADATA + 1)}, "messages[2].metadata",
     psycopg.errors.InvalidParameterValue),
    ({"role": "user", "content": "x", "metadata": {"k": json.loads("[" * 100 + "]" * 100)}},
     "messages[2].metadata", psycopg.errors.InvalidParameterValue),
    ({"role": "user", "content": "x", "client_msg_id": ""}, "messages[2].client_msg_id",
     psycopg.errors.StringDataRightTruncation),
    ({"role": "user", "content": "x", "client_msg_id": "k" * 201}, "messages[2].client_msg_id",
     psycopg.errors.StringDataRightTruncation),
    ({"role": "user", "content": "x", "client_msg_id": 7}, "messages[2].client_msg_id",
     psycopg.errors.InvalidParameterValue),
    ({"role": "user", "content": "x", "seq": 1}, "messages[2].seq", psycopg.errors.InvalidParameterValue),
    ("user: x", "messages[2]", psycopg.errors.InvalidParameterValue),
]


@pytest.mark.parametrize("bad, field, error", BAD_ELEMENTS, ids=[
    "unknown role", "no content", "null content", "content 10,001", "content a number", "role a list",
    "metadata a list", "metadata over 1 MiB", "metadata 101 deep", "client_msg_id empty", "client_msg_id 201",
    "client_msg_id a number", "unknown field", "not an object"])
def test_a_bad_element_is_named_and_nothing_of_its_batch_is_stored(app_conn, db, user_a, conversation,
                                                                    bad, field, error):
    append_many(app_conn, user_a, conversation, [{"role": "user", "content": "kept"}])
    before = stored_messages(db, conversation, MESSAGE_FIELDS)
    with pytest.raises(error) as raised:
        append_many(app_conn, user_a, conversation, [{"role": "user", "content": "a"},
                                                     {"role": "assistant", "content": "b"}, bad])
    assert raised.value.sqlstate[:2] in ("22", "23")
    assert raised.value.diag.column_name == field
    assert raised.value.diag.message_primary.startswith(field)
    assert stored_messages(db, conversation, MESSAGE_FIELDS) == before and message_count(db, conversation) == 1


def test_metadata_of_exactly_1_mib_is_accepted_in_a_batch(app_conn, db, user_a, conversation):
    rows = append_many(app_conn, user_a, conversation, [{"role": "tool", "content": "big",
                                                         "metadata": padded(MAX_MESSAGE_METADATA)}])
    assert rows[0][3] == padded(MAX_MESSAGE_METADATA)


@pytest.mark.parametrize("messages, problem", [
    ([], "not 0"),
    ([{"role": "user", "content": "x"}] * 1001, "not 1001"),
    ({"role": "user", "content": "x"}, "JSON array, not object"),
    (None, "JSON array, not NULL"),
])
def test_messages_must_be_an_array_of_1_to_1000(app_conn, db, user_a, conversation, messages, problem):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        call(app_conn, user_a, "select chat.append_messages(%s, %s)",
             [conversation, None if messages is None else Jsonb(messages)])
    assert raised.value.diag.column_name == "messages" and problem in raised.value.diag.message_primary
    assert message_count(db, conversation) == 0


def test_a_batch_of_1000_is_stored_whole(app_conn, db, user_a, conversation):
    rows = append_many(app_conn, user_a, conversation,
                       [{"role": "user", "content": str(i), "client_msg_id": f"k{i}"} for i in range(1000)])
    assert [(r[0], r[2]) for r in rows] == [(i + 1, str(i)) for i in range(1000)]
    assert message_count(db, conversation) == 1000


def test_another_users_conversation_is_as_missing_as_none(app_conn, db, user_a, user_b, conversation):
    errors = []
    for target in (conversation, uuid.uuid4()):
        with pytest.raises(psycopg.errors.NoDataFound) as raised:
            append_many(app_conn, user_b, target, [{"role": "user", "content": "mine now"}])
        errors.append(raised.value.diag.message_primary.replace(str(target), "<id>"))
    assert errors[0] == errors[1]
    assert stored_messages(db, conversation, MESSAGE_FIELDS) == []


def test_no_current_user_is_refused(app_conn, conversation):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(app_conn, None, "select chat.append_messages(%s, '[{\"role\": \"user\", \"content\": \"x\"}]')",
             [conversation])


def test_concurrent_batches_are_each_contiguous_and_seq_gapless(connect_as, db, user_a, conversation):
    writers = 8
    connections = [connect_as("chat_test_app") for _ in range(writers)]

    def write(i):
        for round_ in range(5):
            append_many(connections[i], user_a, conversation, [{"role": "assistant", "content": f"call {i}.{round_}"},
                                                               {"role": "tool", "content": f"out {i}.{round_}"}])

    run_together(writers, write)
    rows = stored_messages(db, conversation, MESSAGE_FIELDS)
    assert [r[0] for r in rows] == list(range(1, 2 * writers * 5 + 1))
    assert message_count(db, conversation) == len(rows)
    for call_row, output_row in zip(rows[::2], rows[1::2], strict=True):
        assert call_row[2].replace("call", "out") == output_row[2]


def test_racing_retries_of_one_batch_store_it_once(connect_as, db, app_conn, user_a, conversation):
    batch = [{**item, "client_msg_id": f"t-{i}"} for i, item in enumerate(turn(7))]
    racers = 6
    connections = [connect_as("chat_test_app") for _ in range(racers)]
    # hold the conversation's lock until every racer waits for it
    with acting_as(app_conn, user_a) as holder:
        holder.execute("select from chat.conversations where id = %s for update", [conversation])
        results: list = []

        def race(i):
            results.append(append_many(connections[i], user_a, conversation, batch))

        threads = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
        for thread in threads:
            thread.start()
        wait_for_lock_waiters(db, racers)
    for thread in threads:
        thread.join()
    assert len(results) == racers
    assert sorted(tuple(r[5] for r in rows) for rows in results) == (
        [(False,) * 4] + [(True,) * 4] * (racers - 1))
    assert all([r[:5] for r in rows] == [r[:5] for r in results[0]] for rows in results)
    assert len(stored_messages(db, conversation, MESSAGE_FIELDS)) == 4 and message_count(db, conversation) == 4


# pop_message

def test_pop_removes_the_last_message_and_returns_it(app_conn, db, user_a, conversation):
    append_many(app_conn, user_a, conversation, turn(1))
    popped = call(app_conn, user_a, "select seq, role, content from chat.pop_message(%s)", [conversation])
    assert popped == [(4, "assistant", "done 1")]
    assert [r[0] for r in stored_messages(db, conversation, MESSAGE_FIELDS)] == [1, 2, 3]
    assert message_count(db, conversation) == 3
    # the next append takes the freed number
    assert call(app_conn, user_a, "select seq from chat.append_message(%s, 'assistant', 'again')",
                [conversation]) == [(4,)]


def test_pop_of_an_empty_conversation_returns_nothing(app_conn, db, user_a, conversation):
    assert call(app_conn, user_a, "select * from chat.pop_message(%s)", [conversation]) == []
    assert message_count(db, conversation) == 0


def test_pops_down_to_empty_keep_seq_gapless_and_the_audit_clean(app_conn, db, pg_server, chat_db, user_a,
                                                                  conversation):
    append_many(app_conn, user_a, conversation, turn(1) + turn(2))
    contents = [call(app_conn, user_a, "select content from chat.pop_message(%s)", [conversation])[0][0]
                for _ in range(8)]
    assert contents == [item["content"] for item in reversed(turn(1) + turn(2))]
    assert call(app_conn, user_a, "select * from chat.pop_message(%s)", [conversation]) == []
    append_many(app_conn, user_a, conversation, turn(3))
    assert [r[0] for r in stored_messages(db, conversation, MESSAGE_FIELDS)] == [1, 2, 3, 4]
    assert message_count(db, conversation) == 4
    result = run_integrity(pg_server, chat_db)
    assert result.returncode == 0, result.stdout + result.stderr


# clear_conversation

def test_clear_removes_every_message_and_keeps_the_conversation(app_conn, db, pg_server, chat_db, user_a):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('agent')")[0][0]
    append_many(app_conn, user_a, conversation, turn(1) + turn(2))
    assert call(app_conn, user_a, "select chat.clear_conversation(%s)", [conversation]) == [(8,)]
    assert stored_messages(db, conversation, MESSAGE_FIELDS) == [] and message_count(db, conversation) == 0
    assert call(app_conn, user_a, "select title from chat.get_conversation(%s)", [conversation]) == [("agent",)]
    assert call(app_conn, user_a, "select chat.clear_conversation(%s)", [conversation]) == [(0,)]
    assert [r[0] for r in append_many(app_conn, user_a, conversation, turn(3))] == [1, 2, 3, 4]
    result = run_integrity(pg_server, chat_db)
    assert result.returncode == 0, result.stdout + result.stderr


# isolation

@pytest.mark.parametrize("statement", [
    "select * from chat.pop_message(%s)",
    "select chat.clear_conversation(%s)",
])
def test_another_user_pops_and_clears_nothing(app_conn, db, user_a, user_b, conversation, statement):
    append_many(app_conn, user_a, conversation, turn(1))
    before = stored_messages(db, conversation, MESSAGE_FIELDS)
    errors = []
    for target in (conversation, uuid.uuid4()):
        with pytest.raises(psycopg.errors.NoDataFound) as raised:
            call(app_conn, user_b, statement, [target])
        errors.append(raised.value.diag.message_primary.replace(str(target), "<id>"))
    assert errors[0] == errors[1]
    assert stored_messages(db, conversation, MESSAGE_FIELDS) == before and message_count(db, conversation) == 4
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(app_conn, None, statement, [conversation])


@pytest.mark.parametrize("statement", [
    "delete from chat.messages where conversation_id = %s",
    "update chat.messages set content = 'x' where conversation_id = %s",
    "truncate chat.messages",
])
def test_the_runtime_role_removes_no_message_by_hand(app_conn, db, user_a, conversation, statement):
    append_many(app_conn, user_a, conversation, turn(1))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(app_conn, user_a, statement, [conversation] if "%s" in statement else [])
    assert len(stored_messages(db, conversation, MESSAGE_FIELDS)) == 4


# an owner that does not bypass row security

def test_an_owner_that_does_not_bypass_rls_still_pops_and_clears(pg_server, sqitch, plain_owner):
    """pop_message and clear_conversation run with their owner's rights. Deployed by a plain owner (FORCE applies
    to it), they work through the owner's own four policies, still for the current user alone; the revert takes
    those policies away again."""
    name, password = plain_owner
    sqitch("deploy", dbname=name, user=name, password=password)
    sqitch("verify", dbname=name, user=name, password=password)
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        assert conn.execute("select tablename, policyname, roles::text[] from pg_policies"
                            " where policyname like '%%owner_remove%%' order by 1, 2").fetchall() == [
            ("conversations", "conversations_owner_remove_select", [name]),
            ("conversations", "conversations_owner_remove_update", [name]),
            ("messages", "messages_owner_remove_delete", [name]),
            ("messages", "messages_owner_remove_select", [name])]
        conn.execute(f"grant chat_app to {name}")
    a, b = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(pg_server.conninfo(name, user=name, password=password), autocommit=True) as conn:
        conn.execute("set role chat_app")
        for user in (a, b):
            call(conn, user, "insert into chat.users (id) values (chat_private.current_user_id())")
        mine, theirs = (call(conn, user, "select id from chat.create_conversation()")[0][0] for user in (a, b))
        append_many(conn, a, mine, turn(1))
        append_many(conn, b, theirs, turn(2))
        # and a chat turn with its reply: removing its messages takes the turn's reply, then the turn
        call(conn, a, "select chat.begin_turn(%s, 'and then?', 'q-1')", [mine])
        call(conn, a, "select chat.finish_turn(%s, 5, 'then nothing')", [mine])
        assert call(conn, a, "select seq, content from chat.pop_message(%s)", [mine]) == [(6, "then nothing")]
        assert call(conn, a, "select seq, reply_seq from chat.turns") == [(5, None)]
        with pytest.raises(psycopg.errors.NoDataFound):
            call(conn, a, "select chat.clear_conversation(%s)", [theirs])
        assert call(conn, a, "select chat.clear_conversation(%s)", [mine]) == [(5,)]
        assert call(conn, a, "select count(*) from chat.turns") == [(0,)]
        assert call(conn, b, "select count(*) from chat.fetch_recent(%s)", [theirs]) == [(4,)]
        assert call(conn, a, "select message_count from chat.get_conversation(%s)", [mine]) == [(0,)]
    # the change's verify fails once its policies are gone behind Sqitch's back
    subprocess.run([shutil.which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f",
                    str(ROOT / "db" / "revert" / "messages_owner_rls.sql"),
                    pg_server.conninfo(name, user=name, password=password)], check=True, capture_output=True)
    result = sqitch("verify", "--from-change", "messages_owner_rls", "--to-change", "messages_owner_rls",
                    dbname=name, user=name, password=password, check=False)
    assert result.returncode != 0 and "messages_owner_rls " in result.stdout and "not ok" in result.stdout
    sqitch("revert", "-y", "--to", "@v0.1.0", dbname=name, user=name, password=password)
    with psycopg.connect(pg_server.conninfo(name), autocommit=True) as conn:
        assert conn.execute("select count(*) from pg_policies where policyname like '%%owner_remove%%'"
                            ).fetchone() == (0,)
