"""The chat turn's SQL functions on a tree of messages, as the runtime role: ``begin_turn`` with ``edit_of`` (the
turn's message a new version beside a user message) and ``regenerate_of`` (the user message an assistant message
answered, answered again: its turn opened again, the head moved to it); ``finish_turn`` attaching the reply to
the turn's message wherever the head has gone meanwhile.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from as_user import acting_as, call
from audit_scripts import run_integrity
from stored_data import head_of

BEGIN = ("select part, state, seq, parent_seq, role, content, replayed, attempt is not null"
         " from chat.begin_turn(%(c)s, %(content)s, %(key)s, edit_of => %(edit_of)s,"
         " regenerate_of => %(regenerate_of)s)")


def begin(conn, user, conversation, content=None, key=None, *, edit_of=None, regenerate_of=None) -> list[tuple]:
    """(part, state, seq, parent_seq, role, content, replayed, attempt given) per row."""
    return call(conn, user, BEGIN, {"c": conversation, "content": content, "key": key, "edit_of": edit_of,
                                    "regenerate_of": regenerate_of})


def finish(conn, user, conversation, seq, content) -> tuple:
    """(seq, parent_seq, client_msg_id, replayed) of the reply stored."""
    return call(conn, user, "select seq, parent_seq, client_msg_id, replayed from chat.finish_turn(%s, %s, %s)",
                [conversation, seq, content])[0]



def tree(db, conversation) -> list[tuple]:
    return db.execute("select seq, parent_seq, role from chat.messages where conversation_id = %s order by seq",
                      [conversation]).fetchall()


@pytest.fixture
def answered(app_conn, user_a, conversation):
    """Two answered turns: user 1, 3; assistant 2, 4."""
    for seq, words in ((1, "one"), (3, "two")):
        begin(app_conn, user_a, conversation, words)
        finish(app_conn, user_a, conversation, seq, f"answer to {words}")
    return conversation


def test_regenerate_opens_the_turn_again_from_its_message(app_conn, db, user_a, answered):
    rows = begin(app_conn, user_a, answered, key="again", regenerate_of=2)
    assert rows == [("user", "run", 1, None, "user", "one", True, True),
                    ("history", "run", 1, None, "user", "one", False, False)]
    assert head_of(db, answered) == 1
    assert db.execute("select attempts, reply_seq, reply_key, running_until is not null from chat.turns"
                      " where conversation_id = %s and seq = 1", [answered]).fetchone() == (2, None, "again", True)
    # a racing duplicate waits; the reply follows the turn's message, with the key
    assert [r[:2] for r in begin(app_conn, user_a, answered, key="again", regenerate_of=2)] == [("user", "running")]
    assert finish(app_conn, user_a, answered, 1, "another answer") == (5, 1, "again", False)
    assert head_of(db, answered) == 5
    done = begin(app_conn, user_a, answered, key="again", regenerate_of=2)
    assert [(r[0], r[1], r[2]) for r in done] == [("user", "done", 1), ("reply", "done", 5)]
    assert tree(db, answered) == [(1, None, "user"), (2, 1, "assistant"), (3, 2, "user"), (4, 3, "assistant"),
                                  (5, 1, "assistant")]


def test_a_message_answered_without_a_turn_can_be_answered_again(app_conn, db, user_a, conversation):
    for role in ("user", "assistant"):
        call(app_conn, user_a, "select chat.append_message(%s, %s, 'x')", [conversation, role])
    assert begin(app_conn, user_a, conversation, regenerate_of=2)[0][:3] == ("user", "run", 1)
    assert finish(app_conn, user_a, conversation, 1, "y") == (3, 1, None, False)


def test_a_regenerated_answer_stored_by_the_responder_is_found_by_its_key(app_conn, db, user_a, answered):
    """A responder that stores its reply itself (an agent's session) names it with settle_turn: the reply does not
    carry the key, the turn does."""
    begin(app_conn, user_a, answered, key="again", regenerate_of=4)
    (stored,) = call(app_conn, user_a, "select seq from chat.append_message(%s, 'assistant', 'mine')", [answered])
    call(app_conn, user_a, "select chat.settle_turn(%s, 3, %s)", [answered, stored[0]])
    assert [(r[0], r[1], r[2]) for r in begin(app_conn, user_a, answered, key="again", regenerate_of=4)] == [
        ("user", "done", 3), ("reply", "done", 5)]


def test_an_edit_turn_stores_a_version_and_answers_it(app_conn, db, user_a, answered):
    rows = begin(app_conn, user_a, answered, "two, better", "e", edit_of=3)
    assert rows[0] == ("user", "run", 5, 2, "user", "two, better", False, True)
    assert [r[2] for r in rows[1:]] == [1, 2, 5]
    assert finish(app_conn, user_a, answered, 5, "better answer") == (6, 5, None, False)
    assert [r[:3] for r in begin(app_conn, user_a, answered, "two, better", "e", edit_of=3)] == [
        ("user", "done", 5), ("reply", "done", 6)]


def test_a_reply_follows_its_message_when_the_person_moved_away(app_conn, db, pg_server, chat_db, user_a,
                                                                answered):
    """While the model writes, the person edits the question: the late reply goes beside the path, under its own
    message, and the head stays on the edit."""
    begin(app_conn, user_a, answered, "three")                                  # 5, running
    call(app_conn, user_a, "select chat.edit_message(%s, 5, 'three!')", [answered])  # 6, the head
    assert finish(app_conn, user_a, answered, 5, "late answer") == (7, 5, None, False)
    assert head_of(db, answered) == 6
    assert db.execute("select message_count from chat.conversations where id = %s", [answered]).fetchone() == (7,)
    assert run_integrity(pg_server, chat_db).returncode == 0


def test_a_reply_after_another_append_follows_the_head_as_before(app_conn, db, user_a, answered):
    """Two messages sent before the first is answered: one path, as a conversation nobody branches always was."""
    begin(app_conn, user_a, answered, "three")   # 5
    begin(app_conn, user_a, answered, "four")    # 6
    assert finish(app_conn, user_a, answered, 5, "to three") == (7, 6, None, False)
    assert finish(app_conn, user_a, answered, 6, "to four") == (8, 7, None, False)
    assert tree(db, answered)[4:] == [(5, 4, "user"), (6, 5, "user"), (7, 6, "assistant"), (8, 7, "assistant")]
    assert head_of(db, answered) == 8


@pytest.mark.parametrize(("arguments", "column"), [
    ({"content": "x", "edit_of": 2}, "edit_of"),
    ({"content": "x", "edit_of": 9}, "edit_of"),
    ({"regenerate_of": 1}, "regenerate_of"),
    ({"regenerate_of": 9}, "regenerate_of"),
    ({"content": "x", "regenerate_of": 2}, "content"),
    ({"content": "x", "edit_of": 1, "regenerate_of": 2}, "regenerate_of"),
])
def test_bad_edit_and_regenerate_arguments_are_named(app_conn, db, user_a, answered, arguments, column):
    before = tree(db, answered)
    with pytest.raises(psycopg.DataError) as refused:
        begin(app_conn, user_a, answered, **arguments)
    assert (refused.value.sqlstate, refused.value.diag.column_name) == ("22023", column)
    assert tree(db, answered) == before and head_of(db, answered) == 4


def test_a_regenerate_key_used_for_another_message_is_a_conflict(app_conn, db, user_a, conversation):
    begin(app_conn, user_a, conversation, "one", "k")
    finish(app_conn, user_a, conversation, 1, "answer")
    with pytest.raises(errors.UniqueViolation):
        begin(app_conn, user_a, conversation, key="k", regenerate_of=2)
    assert head_of(db, conversation) == 2


@pytest.mark.parametrize("kind", ["edit", "regenerate"])
def test_another_users_conversation_is_not_found_and_untouched(app_conn, db, user_a, user_b, answered, kind):
    before = tree(db, answered)
    arguments = {"content": "x", "edit_of": 1} if kind == "edit" else {"regenerate_of": 2}
    with pytest.raises(errors.NoDataFound) as refused:
        begin(app_conn, user_b, answered, **arguments)
    assert refused.value.diag.message_primary == f"conversation {answered} not found"
    assert tree(db, answered) == before and head_of(db, answered) == 4
    with acting_as(app_conn, user_b):
        assert app_conn.execute("select count(*) from chat.turns").fetchone() == (0,)
