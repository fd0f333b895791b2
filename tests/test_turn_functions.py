"""The chat turn's SQL functions, as the runtime role: ``begin_turn`` stores the user's message and decides
whether this call answers it (``run``), or finds what a retry of it finds (``running``: another attempt
answers; ``done``: the stored reply); ``finish_turn`` and ``settle_turn`` store or name the reply, the first
one stored being the turn's; ``fail_turn`` releases a failed attempt's claim. What decides is the database:
racing duplicates, on any number of connections, run the turn once, and open one conversation between them.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import errors

from as_user import acting_as, call
from audit_scripts import run_integrity
from races import run_together, wait_for_lock_waiters
from stored_data import stored_messages

# What begin_turn answers, per row: part, state, whether an attempt is given, the message.
BEGIN = ("select part, state, attempt, retry_after, seq, role, content, replayed, conversation_id"
         " from chat.begin_turn(%s, %s, %s, %s, %s)")


def begin(conn, user, conversation, content, key=None, history=50, lease="150 seconds") -> list[dict]:
    rows = call(conn, user, BEGIN, [conversation, content, key, history, lease])
    names = ("part", "state", "attempt", "retry_after", "seq", "role", "content", "replayed", "conversation_id")
    return [dict(zip(names, row, strict=True)) for row in rows]


def finish(conn, user, conversation, seq, content):
    return call(conn, user, "select seq, role, content, replayed from chat.finish_turn(%s, %s, %s)",
                [conversation, seq, content])[0]


def fail(conn, user, conversation, seq, attempt) -> bool:
    return call(conn, user, "select chat.fail_turn(%s, %s, %s)", [conversation, seq, attempt])[0][0]


def turn_row(db, conversation, seq) -> dict:
    row = db.execute("select attempt, attempts, running_until is not null, reply_seq, opening_key,"
                     " finished_at is not null from chat.turns where conversation_id = %s and seq = %s",
                     [conversation, seq]).fetchone()
    assert row is not None, "no such turn"
    return dict(zip(("attempt", "attempts", "running", "reply_seq", "opening_key", "finished"), row, strict=True))


# one turn, and its retries

def test_a_turn_runs_then_a_retry_gets_the_stored_reply_and_writes_nothing(app_conn, db, user_a, conversation,
                                                                            snapshot):
    (user_row, history) = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert (user_row["part"], user_row["state"], user_row["seq"], user_row["role"], user_row["replayed"]) == (
        "user", "run", 1, "user", False)
    assert user_row["attempt"] is not None and user_row["retry_after"] is None
    assert (history["part"], history["seq"], history["content"]) == ("history", 1, "add milk")
    assert turn_row(db, conversation, 1) | {"attempt": None} == {
        "attempt": None, "attempts": 1, "running": True, "reply_seq": None, "opening_key": None, "finished": False}

    assert finish(app_conn, user_a, conversation, 1, "added") == (2, "assistant", "added", False)
    assert turn_row(db, conversation, 1)["reply_seq"] == 2
    assert not turn_row(db, conversation, 1)["running"] and turn_row(db, conversation, 1)["finished"]

    before = snapshot()
    retried = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert [(r["part"], r["state"], r["seq"], r["content"], r["attempt"]) for r in retried] == [
        ("user", "done", 1, "add milk", None), ("reply", "done", 2, "added", None)]
    assert retried[0]["replayed"] is True
    assert snapshot() == before
    assert stored_messages(db, conversation) == [(1, "user", "add milk"), (2, "assistant", "added")]


def test_a_retry_while_the_turn_runs_gets_running_and_writes_nothing(app_conn, db, user_a, conversation, snapshot):
    begin(app_conn, user_a, conversation, "add milk", "m-1", lease="2 minutes")
    before = snapshot()
    (retried,) = begin(app_conn, user_a, conversation, "add milk", "m-1", lease="2 minutes")
    assert (retried["state"], retried["attempt"], retried["replayed"]) == ("running", None, True)
    assert 0 < retried["retry_after"].total_seconds() <= 120
    assert snapshot() == before


def test_a_key_reused_for_another_message_is_refused(app_conn, db, user_a, conversation):
    begin(app_conn, user_a, conversation, "add milk", "m-1")
    with pytest.raises(errors.UniqueViolation) as raised:
        begin(app_conn, user_a, conversation, "add eggs", "m-1")
    assert raised.value.diag.column_name == "client_msg_id"
    assert stored_messages(db, conversation) == [(1, "user", "add milk")]


def test_a_failed_attempt_released_runs_again_as_a_new_attempt(app_conn, db, user_a, conversation):
    (first, _) = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert fail(app_conn, user_a, conversation, 1, first["attempt"]) is True
    assert not turn_row(db, conversation, 1)["running"]
    assert fail(app_conn, user_a, conversation, 1, first["attempt"]) is False  # released already

    (second, history) = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert (second["state"], second["replayed"]) == ("run", True)
    assert second["attempt"] not in (None, first["attempt"])
    assert (history["part"], history["seq"]) == ("history", 1)
    assert turn_row(db, conversation, 1)["attempts"] == 2
    # the first attempt's release, late, cannot free the second's claim
    assert fail(app_conn, user_a, conversation, 1, first["attempt"]) is False
    assert turn_row(db, conversation, 1)["running"]
    assert stored_messages(db, conversation) == [(1, "user", "add milk")]


def test_a_lease_that_ran_out_frees_the_turn_and_the_first_reply_stored_wins(app_conn, db, user_a, conversation):
    """A process that died leaves its claim to run out; a retry after that runs the turn again. Should the first
    attempt still finish, after the retry's began, its reply is the turn's and the retry gets it back."""
    (first, _) = begin(app_conn, user_a, conversation, "add milk", "m-1", lease="50 milliseconds")
    time.sleep(0.1)
    (second, _) = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert second["state"] == "run" and second["attempt"] != first["attempt"]

    assert finish(app_conn, user_a, conversation, 1, "from the first") == (2, "assistant", "from the first", False)
    assert finish(app_conn, user_a, conversation, 1, "from the second") == (2, "assistant", "from the first", True)
    assert fail(app_conn, user_a, conversation, 1, second["attempt"]) is False
    assert stored_messages(db, conversation) == [(1, "user", "add milk"), (2, "assistant", "from the first")]
    assert turn_row(db, conversation, 1)["reply_seq"] == 2


def test_a_turn_without_a_key_runs_every_time(app_conn, db, user_a, conversation):
    assert begin(app_conn, user_a, conversation, "hello")[0]["state"] == "run"
    assert begin(app_conn, user_a, conversation, "hello")[0]["state"] == "run"
    assert stored_messages(db, conversation) == [(1, "user", "hello"), (2, "user", "hello")]


def test_the_history_is_the_last_messages_ascending_with_the_new_one_last(app_conn, db, user_a, conversation):
    for n in range(1, 8):
        call(app_conn, user_a, "select chat.append_message(%s, 'user', %s)", [conversation, f"m{n}"])
    rows = begin(app_conn, user_a, conversation, "the 8th", history=3)
    assert [(r["part"], r["seq"], r["content"]) for r in rows] == [
        ("user", 8, "the 8th"), ("history", 6, "m6"), ("history", 7, "m7"), ("history", 8, "the 8th")]
    assert all(r["conversation_id"] == conversation for r in rows)


# a turn that opens its conversation

def test_an_opening_turn_retried_without_a_conversation_finds_the_one_it_opened(app_conn, db, user_a):
    (first, _) = begin(app_conn, user_a, None, "plan my week " + "x" * 300, "open-1")
    conversation = first["conversation_id"]
    assert db.execute("select user_id, title from chat.conversations where id = %s", [conversation]).fetchone() == (
        user_a, ("plan my week " + "x" * 300)[:200])
    assert turn_row(db, conversation, 1)["opening_key"] == "open-1"
    finish(app_conn, user_a, conversation, 1, "sure")

    retried = begin(app_conn, user_a, None, "plan my week " + "x" * 300, "open-1")
    assert [(r["part"], r["state"], r["conversation_id"]) for r in retried] == [
        ("user", "done", conversation), ("reply", "done", conversation)]
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (1,)
    with pytest.raises(errors.UniqueViolation):
        begin(app_conn, user_a, None, "something else", "open-1")
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (1,)


def test_a_bad_opening_turn_opens_no_conversation(app_conn, db, user_a):
    with pytest.raises(errors.StringDataRightTruncation) as raised:
        begin(app_conn, user_a, None, "x" * 10_001, "open-2")
    assert raised.value.diag.column_name == "content"
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (0,)


RACERS = 6


@pytest.mark.parametrize("opening", [False, True], ids=["in a conversation", "opening one"])
def test_racing_duplicates_run_the_turn_once(connect_as, db, app_conn, user_a, conversation, opening):
    """Six calls with one message and key, each on its own connection, released together: one runs the turn;
    the others find it running. One message is stored, in one conversation."""
    connections = [connect_as("chat_test_app") for _ in range(RACERS)]
    target = None if opening else conversation
    results = run_together(RACERS, lambda i: begin(connections[i], user_a, target, "add milk", "race-1")[0])
    assert sorted(r["state"] for r in results) == ["run"] + ["running"] * (RACERS - 1)
    assert sorted(r["replayed"] for r in results) == [False] + [True] * (RACERS - 1)
    (where,) = {r["conversation_id"] for r in results}
    assert stored_messages(db, where) == [(1, "user", "add milk")]
    # the fixture's conversation, and the one the racers opened
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (
        1 + opening,)
    assert db.execute("select count(*) from chat.turns where user_id = %s", [user_a]).fetchone() == (1,)


def test_racers_queued_behind_a_finishing_turn_find_it_done(connect_as, db, app_conn, user_a, conversation):
    begin(app_conn, user_a, conversation, "add milk", "race-2")
    connections = [connect_as("chat_test_app") for _ in range(RACERS)]
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        with acting_as(app_conn, user_a) as holder:
            # the reply is being stored, the conversation locked: the retries queue behind it
            holder.execute("select * from chat.finish_turn(%s, 1, 'added')", [conversation])
            futures = [pool.submit(begin, connections[i], user_a, conversation, "add milk", "race-2")
                       for i in range(RACERS)]
            wait_for_lock_waiters(db, RACERS)
        results = [future.result() for future in futures]
    assert all([(r["part"], r["state"], r["seq"]) for r in rows] == [("user", "done", 1), ("reply", "done", 2)]
               for rows in results)
    assert stored_messages(db, conversation) == [(1, "user", "add milk"), (2, "assistant", "added")]


# settle_turn: a reply the responder stored itself

def test_a_reply_stored_by_the_responder_settles_the_turn(app_conn, db, user_a, conversation):
    begin(app_conn, user_a, conversation, "add milk", "m-1")
    for role, content in (("assistant", "add_task(milk)"), ("tool", "added"), ("assistant", "Added milk.")):
        call(app_conn, user_a, "select chat.append_message(%s, %s, %s)", [conversation, role, content])
    for bad in (1, 3, 9, None):  # the user's own message, a tool's output, none at all
        with pytest.raises(errors.InvalidParameterValue) as raised:
            call(app_conn, user_a, "select chat.settle_turn(%s, 1, %s)", [conversation, bad])
        assert raised.value.diag.column_name == "reply_seq"
    settled = call(app_conn, user_a, "select seq, content, replayed from chat.settle_turn(%s, 1, 4)", [conversation])
    assert settled == [(4, "Added milk.", False)]
    assert turn_row(db, conversation, 1)["reply_seq"] == 4
    again = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert [(r["part"], r["seq"]) for r in again] == [("user", 1), ("reply", 4)]
    assert call(app_conn, user_a, "select seq, replayed from chat.settle_turn(%s, 1, 2)", [conversation]) == [
        (4, True)]


# the turn follows its messages

def test_a_reply_removed_leaves_the_turn_without_one_and_a_retry_runs_it_again(app_conn, db, user_a, conversation):
    begin(app_conn, user_a, conversation, "add milk", "m-1")
    finish(app_conn, user_a, conversation, 1, "added")
    assert call(app_conn, user_a, "select seq from chat.pop_message(%s)", [conversation]) == [(2,)]
    assert turn_row(db, conversation, 1)["reply_seq"] is None
    (retried, _) = begin(app_conn, user_a, conversation, "add milk", "m-1")
    assert retried["state"] == "run"
    assert finish(app_conn, user_a, conversation, 1, "added again") == (2, "assistant", "added again", False)


@pytest.mark.parametrize("removal", ["select chat.pop_message(%s)", "select chat.clear_conversation(%s)",
                                     "select chat.delete_conversation(%s)"])
def test_a_turn_goes_with_its_message(app_conn, db, pg_server, chat_db, user_a, conversation, removal):
    begin(app_conn, user_a, conversation, "add milk", "m-1")
    call(app_conn, user_a, removal, [conversation])
    assert db.execute("select count(*) from chat.turns where conversation_id = %s", [conversation]).fetchone() == (0,)
    with pytest.raises(errors.NoDataFound):
        finish(app_conn, user_a, conversation, 1, "too late")
    audit = run_integrity(pg_server, chat_db)
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_turns_keep_seq_gapless_and_the_audit_clean(app_conn, db, pg_server, chat_db, user_a, conversation):
    for n in range(5):
        (first, *_) = begin(app_conn, user_a, conversation, f"question {n}", f"q-{n}")
        if n % 2:
            fail(app_conn, user_a, conversation, first["seq"], first["attempt"])
        else:
            finish(app_conn, user_a, conversation, first["seq"], f"answer {n}")
    assert [seq for seq, *_ in stored_messages(db, conversation)] == list(range(1, 9))
    assert db.execute("select message_count from chat.conversations where id = %s", [conversation]).fetchone() == (8,)
    audit = run_integrity(pg_server, chat_db)
    assert audit.returncode == 0, audit.stdout + audit.stderr


# bad input

@pytest.mark.parametrize(("history", "lease", "column"), [
    (0, "1 minute", "max_count"), (1001, "1 minute", "max_count"), (None, "1 minute", "max_count"),
    (50, "0 seconds", "lease"), (50, "-1 minute", "lease"), (50, "2 days", "lease"), (50, None, "lease"),
])
def test_bad_arguments_are_named_and_nothing_is_stored(app_conn, db, user_a, conversation, history, lease, column):
    with pytest.raises(errors.InvalidParameterValue) as raised:
        begin(app_conn, user_a, conversation, "hello", "k", history=history, lease=lease)
    assert raised.value.diag.column_name == column
    assert stored_messages(db, conversation) == []


def test_no_current_user_is_refused(app_conn, conversation):
    for statement in ("select chat.begin_turn(%s, 'x')", "select chat.finish_turn(%s, 1, 'x')",
                      "select chat.settle_turn(%s, 1, 2)", "select chat.fail_turn(%s, 1, gen_random_uuid())"):
        with pytest.raises(errors.InsufficientPrivilege):
            call(app_conn, None, statement, [conversation])


def test_a_turn_of_a_missing_message_is_not_found(app_conn, user_a, conversation):
    with pytest.raises(errors.NoDataFound) as missing:
        finish(app_conn, user_a, conversation, 1, "x")
    with pytest.raises(errors.NoDataFound) as elsewhere:
        finish(app_conn, user_a, uuid.uuid4(), 1, "x")
    assert missing.value.diag.message_primary.split(" of ")[0] == elsewhere.value.diag.message_primary.split(" of ")[0]


def test_the_reply_is_checked_as_any_message(app_conn, db, user_a, conversation):
    begin(app_conn, user_a, conversation, "hello", "k")
    with pytest.raises(psycopg.DataError) as raised:
        finish(app_conn, user_a, conversation, 1, "x" * 10_001)
    assert raised.value.diag.column_name == "content"
    assert turn_row(db, conversation, 1)["running"] and stored_messages(db, conversation) == [(1, "user", "hello")]
