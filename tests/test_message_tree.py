"""A conversation as a tree of messages, as the runtime role: each message names the one it follows (parent_seq)
and the stretch of consecutive messages it ends (stretch_from); the conversation names its active path's last
message (head_seq). Every writer appends after the head and moves it, so a conversation nobody branches is one
path, each message following the one before it.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from as_user import call
from races import run_together


def tree(db, conversation):
    """(seq, parent_seq, stretch_from, tokens_before) of every message, and the conversation's head."""
    rows = db.execute("select seq, parent_seq, stretch_from, tokens_before, tokens from chat.messages"
                      " where conversation_id = %s order by seq", [conversation]).fetchall()
    head = db.execute("select head_seq from chat.conversations where id = %s", [conversation]).fetchone()[0]
    return rows, head


def assert_one_path(db, conversation, count):
    """count messages, each following the one before it, in one stretch, with their running totals; the head at
    the last (NULL when empty)."""
    rows, head = tree(db, conversation)
    assert [seq for seq, *_ in rows] == list(range(1, count + 1))
    assert [(parent, stretch) for _, parent, stretch, _, _ in rows] == [
        (seq - 1 if seq > 1 else None, 1) for seq in range(1, count + 1)]
    assert [before for *_, before, _ in rows] == [sum(tokens for *_, tokens in rows[:i]) for i in range(count)]
    assert head == (count or None)


def test_every_writer_appends_after_the_head_and_moves_it(app_conn, db, user_a, conversation):
    assert_one_path(db, conversation, 0)
    call(app_conn, user_a, "select chat.append_message(%s, 'user', 'one')", [conversation])
    assert_one_path(db, conversation, 1)
    call(app_conn, user_a, "select chat.append_message(%s, 'assistant', 'two', '{}', 'k-2')", [conversation])
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "assistant", "content": "three"}, {"role": "tool", "content": "four"}])])
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": "five", "client_msg_id": "k-5"}, {"role": "assistant", "content": "six"}])])
    call(app_conn, user_a, "select chat.begin_turn(%s, 'seven', 't-7')", [conversation])
    call(app_conn, user_a, "select chat.finish_turn(%s, 7, 'eight')", [conversation])
    call(app_conn, user_a, "select chat.compact_messages(%s, 1, %s)", [conversation, Jsonb([
        {"role": "system", "content": "nine"}, {"role": "system", "content": "ten"}])])
    assert_one_path(db, conversation, 10)
    # a replay writes nothing and moves nothing
    call(app_conn, user_a, "select chat.append_message(%s, 'assistant', 'two', '{}', 'k-2')", [conversation])
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": "five", "client_msg_id": "k-5"}])])
    assert_one_path(db, conversation, 10)


def test_a_new_conversation_of_a_turn_starts_a_path(app_conn, db, user_a):
    (conversation,) = call(app_conn, user_a, "select conversation_id from chat.begin_turn(null, 'hello', 'open-1')"
                                             " limit 1")[0]
    assert_one_path(db, conversation, 1)


def test_the_writers_rows_carry_the_place(app_conn, user_a, conversation):
    (parent, stretch) = call(app_conn, user_a, "select parent_seq, stretch_from from chat.append_message(%s, 'user',"
                                               " 'one')", [conversation])[0]
    assert (parent, stretch) == (None, 1)
    rows = call(app_conn, user_a, "select seq, parent_seq, stretch_from, replayed from chat.append_messages(%s, %s)",
                [conversation, Jsonb([{"role": "user", "content": "two"}, {"role": "user", "content": "three"}])])
    assert rows == [(2, 1, 1, False), (3, 2, 1, False)]
    rows = call(app_conn, user_a, "select seq, parent_seq, stretch_from, over_budget from chat.fetch_context(%s, 100)",
                [conversation])
    assert rows == [(1, None, 1, False), (2, 1, 1, False), (3, 2, 1, False)]


def test_pop_takes_the_head_and_moves_it_to_its_parent(app_conn, db, user_a, conversation):
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": str(i)} for i in range(3)])])
    assert call(app_conn, user_a, "select seq from chat.pop_message(%s)", [conversation]) == [(3,)]
    assert_one_path(db, conversation, 2)
    call(app_conn, user_a, "select chat.pop_message(%s)", [conversation])
    call(app_conn, user_a, "select chat.pop_message(%s)", [conversation])
    assert_one_path(db, conversation, 0)
    assert call(app_conn, user_a, "select seq from chat.pop_message(%s)", [conversation]) == []
    call(app_conn, user_a, "select chat.append_message(%s, 'user', 'again')", [conversation])
    assert_one_path(db, conversation, 1)


def test_pop_refuses_a_head_that_is_not_the_newest_message(app_conn, db, user_a, conversation):
    """seq stays gapless: only the newest message can go. (A head before it is planted here as only a superuser
    could; a switch to an older branch makes one.)"""
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": str(i)} for i in range(3)])])
    db.execute("update chat.conversations set head_seq = 2 where id = %s", [conversation])
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="not the conversation's newest message"):
        call(app_conn, user_a, "select chat.pop_message(%s)", [conversation])
    assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                      [conversation]).fetchone() == (3,)


def test_clear_leaves_no_head(app_conn, db, user_a, conversation):
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": str(i)} for i in range(3)])])
    assert call(app_conn, user_a, "select chat.clear_conversation(%s)", [conversation]) == [(3,)]
    assert_one_path(db, conversation, 0)
    call(app_conn, user_a, "select chat.append_message(%s, 'user', 'again')", [conversation])
    assert_one_path(db, conversation, 1)


@pytest.mark.parametrize(("sql", "constraint"), [
    ("update chat.messages set parent_seq = seq where conversation_id = %s and seq = 2", "messages_parent_precedes"),
    ("update chat.messages set stretch_from = 3 where conversation_id = %s and seq = 2", "messages_stretch_within"),
    ("update chat.conversations set head_seq = null where id = %s", "conversations_head"),
    ("update chat.conversations set head_seq = 3 where id = %s", "conversations_head"),
])
def test_the_schema_refuses_a_parent_after_its_child_and_a_head_out_of_range(app_conn, db, user_a, conversation,
                                                                            sql, constraint):
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "user", "content": str(i)} for i in range(2)])])
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        db.execute(sql, [conversation])


def test_rows_written_by_hand_follow_the_message_before_them(db, user_a):
    """A data load names no parent: each row follows the one before it, and a conversation written with messages
    ends at its last one."""
    conversation = db.execute("insert into chat.conversations (user_id, message_count) values (%s, 3) returning id",
                              [user_a]).fetchone()[0]
    db.execute("insert into chat.messages (conversation_id, user_id, seq, role, content)"
               " select %s, %s, g, 'user', 'm' || g from generate_series(1, 3) g", [conversation, user_a])
    assert_one_path(db, conversation, 3)


def test_racing_writers_keep_one_path_and_one_head(connect_as, db, user_a, conversation):
    """Eight connections append at once, singly (with and without a key) and in batches: no message lost, no gap,
    every message following the one stored just before it, the head at the last."""
    writers = 8
    connections = [connect_as("chat_test_app") for _ in range(writers)]

    def write(i):
        for round_ in range(6):
            if i % 3 == 0:
                call(connections[i], user_a, "select chat.append_message(%s, 'user', %s)",
                     [conversation, f"{i}.{round_}"])
            elif i % 3 == 1:
                call(connections[i], user_a, "select chat.append_message(%s, 'user', %s, '{}', %s)",
                     [conversation, f"{i}.{round_}", f"k-{i}-{round_}"])
            else:
                call(connections[i], user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
                    {"role": "assistant", "content": f"{i}.{round_}.a"},
                    {"role": "tool", "content": f"{i}.{round_}.b"}])])

    run_together(writers, write)
    expected = sum(6 * (2 if i % 3 == 2 else 1) for i in range(writers))
    assert_one_path(db, conversation, expected)
    assert db.execute("select message_count from chat.conversations where id = %s", [conversation]).fetchone() == (
        expected,)
