"""Edit a message, switch between its versions, read the active path, as the runtime role: chat.edit_message,
chat.switch_branch, chat.fetch_siblings, chat.fetch_log, and fetch_recent, fetch_messages and fetch_context along
the active path.

Every answer is held to a model of the tree computed here from the stored rows (parent_seq, the head, the
summaries), on trees grown at random by every writer, edits and switches at the first, a middle and the last
position, pops and summaries.
"""

from __future__ import annotations

import random

import psycopg
import pytest
from psycopg.types.json import Jsonb

from as_user import call
from audit_scripts import run_integrity
from races import run_together


# the model

def stored(db, conversation):
    """{seq: (parent_seq, role, tokens, summary_from, summary_through)} and the head."""
    rows = {seq: rest for seq, *rest in db.execute(
        "select seq, parent_seq, role, tokens, summary_from, summary_through from chat.messages"
        " where conversation_id = %s", [conversation]).fetchall()}
    head = db.execute("select head_seq from chat.conversations where id = %s", [conversation]).fetchone()[0]
    return rows, head


def path(rows, head):
    """The active path, first message first."""
    seqs, seq = [], head
    while seq is not None:
        seqs.append(seq)
        seq = rows[seq][0]
    return seqs[::-1]


def view(rows, head):
    """The model's view, newest first: back along the path, a summary's first row (the one that follows the
    message its range ends at) leads to the message its range's first message follows."""
    seqs, seq = [], head
    while seq is not None:
        seqs.append(seq)
        parent, _, _, summary_from, summary_through = rows[seq]
        seq = rows[summary_from][0] if summary_from is not None and parent == summary_through else parent
    return seqs


def context(rows, head, max_tokens, max_count):
    """fetch_context by its definition: (seq, over_budget), ascending."""
    taken, total, oldest_call, over_from, stopped = [], 0, None, None, False
    for seq in view(rows, head):
        _, role, tokens, _, _ = rows[seq]
        if len(taken) >= max_count or (max_tokens is not None and total + tokens > max_tokens):
            if taken and (oldest_call is not None or max_tokens is None):
                stopped = True
                break
            over_from = seq
        total += tokens
        taken.append(seq)
        if role != "tool":
            oldest_call = seq
    if stopped and max_tokens is not None:
        taken = [seq for seq in taken if seq >= oldest_call]
    return [(seq, over_from is not None and seq >= over_from) for seq in sorted(taken)]


def children(rows, seq):
    return sorted(s for s, (parent, *_) in rows.items() if parent == seq)


def newest_under(rows, seq):
    under, todo = [], [seq]
    while todo:
        s = todo.pop()
        under.append(s)
        todo.extend(children(rows, s))
    return max(under)


def append(conn, user, conversation, role="user", content="m", tokens=None):
    return call(conn, user, "select seq from chat.append_message(%s, %s, %s, '{}', null, %s)",
                [conversation, role, content, tokens])[0][0]


def edit(conn, user, conversation, seq, content="edited", key=None):
    return call(conn, user, "select seq, parent_seq, role, replayed from chat.edit_message(%s, %s, %s, '{}', %s)",
                [conversation, seq, content, key])[0]


def switch(conn, user, conversation, seq):
    return call(conn, user, "select head_seq from chat.switch_branch(%s, %s)", [conversation, seq])[0][0]


def seqs_of(conn, user, sql, params):
    return [row[0] for row in call(conn, user, sql, params)]


def assert_reads_follow_the_model(conn, db, user, conversation):
    rows, head = stored(db, conversation)
    active = path(rows, head) if head is not None else []
    for n in (1, 2, 3, 7, 50):
        assert seqs_of(conn, user, "select seq from chat.fetch_recent(%s, %s)", [conversation, n]) == active[-n:]
    for after in sorted({0, *active[:3], *active[len(active) // 2:len(active) // 2 + 1], *active[-2:]}):
        for n in (1, 4, 100):
            assert seqs_of(conn, user, "select seq from chat.fetch_messages(%s, %s, %s)", [conversation, after, n]) \
                == [s for s in active if s > after][:n], (after, n)
    for max_tokens in (None, 0, 3, 20, 60, 150, 400, 100_000):
        for max_count in (1, 3, 1000):
            got = call(conn, user, "select seq, over_budget from chat.fetch_context(%s, %s, %s)",
                       [conversation, max_tokens, max_count])
            assert got == (context(rows, head, max_tokens, max_count) if head is not None else []), \
                (max_tokens, max_count)
    for seq in rows:
        parent = rows[seq][0]
        versions = sorted(s for s, (p, *_) in rows.items() if p == parent)
        assert seqs_of(conn, user, "select seq from chat.fetch_siblings(%s, %s)", [conversation, seq]) == versions
    assert seqs_of(conn, user, "select seq from chat.fetch_log(%s, 0, 1000)", [conversation]) == sorted(rows)


# edits and switches

@pytest.fixture
def five(app_conn, user_a, conversation):
    """user, assistant, user, assistant, user: 1..5."""
    for i, role in enumerate(["user", "assistant", "user", "assistant", "user"], start=1):
        append(app_conn, user_a, conversation, role, f"m{i}", tokens=10 * i)
    return conversation


@pytest.mark.parametrize("position", [1, 3, 5])
def test_an_edit_goes_beside_the_message_and_becomes_the_head(app_conn, db, user_a, five, position):
    seq, parent, role, replayed = edit(app_conn, user_a, five, position, f"m{position}, better")
    rows, head = stored(db, five)
    assert (seq, head, replayed) == (6, 6, False)
    assert (parent, role) == (rows[position][0], rows[position][1])
    assert path(rows, head) == [*range(1, position), 6]
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_siblings(%s, %s)", [five, 6]) == [position, 6]
    # the conversation goes on from the new version
    assert append(app_conn, user_a, five, "assistant", "reply") == 7
    rows, head = stored(db, five)
    assert path(rows, head) == [*range(1, position), 6, 7]
    assert_reads_follow_the_model(app_conn, db, user_a, five)


def test_switching_to_each_version_and_back(app_conn, db, user_a, five):
    edit(app_conn, user_a, five, 3, "three, second")            # 6, after 2
    append(app_conn, user_a, five, "assistant", "on six")       # 7
    edit(app_conn, user_a, five, 3, "three, third")             # 8, after 2
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_siblings(%s, 3)", [five]) == [3, 6, 8]
    # the newest leaf under each version
    assert switch(app_conn, user_a, five, 3) == 5
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_recent(%s, 50)", [five]) == [1, 2, 3, 4, 5]
    assert switch(app_conn, user_a, five, 6) == 7
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_recent(%s, 50)", [five]) == [1, 2, 6, 7]
    assert switch(app_conn, user_a, five, 8) == 8
    assert switch(app_conn, user_a, five, 1) == 8                # under the first message: the newest of all
    assert switch(app_conn, user_a, five, 4) == 5
    assert_reads_follow_the_model(app_conn, db, user_a, five)
    # an append after a switch continues the chosen branch
    assert append(app_conn, user_a, five, "assistant", "on five") == 9
    rows, head = stored(db, five)
    assert path(rows, head) == [1, 2, 3, 4, 5, 9]


def test_an_edit_is_idempotent_on_its_key(app_conn, db, user_a, five):
    first = edit(app_conn, user_a, five, 3, "again", key="e-1")
    assert edit(app_conn, user_a, five, 3, "again", key="e-1") == (first[0], first[1], first[2], True)
    with pytest.raises(psycopg.errors.UniqueViolation):
        edit(app_conn, user_a, five, 3, "something else", key="e-1")
    assert db.execute("select count(*) from chat.messages where conversation_id = %s", [five]).fetchone() == (6,)


def test_pop_at_a_fork_and_of_a_head_that_is_not_the_newest(app_conn, db, user_a, five):
    edit(app_conn, user_a, five, 3, "three, second")            # 6, after 2; the head
    assert seqs_of(app_conn, user_a, "select seq from chat.pop_message(%s)", [five]) == [6]
    rows, head = stored(db, five)
    assert head == 2 and children(rows, 2) == [3]                # the head at the fork, its other branch kept
    assert append(app_conn, user_a, five, "user", "three, third") == 6
    rows, head = stored(db, five)
    assert (rows[6][0], head) == (2, 6)
    switch(app_conn, user_a, five, 3)                            # the head is 5, not the newest (6)
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        call(app_conn, user_a, "select chat.pop_message(%s)", [five])


def test_a_first_message_has_versions_too(app_conn, db, user_a, five):
    seq, parent, _, _ = edit(app_conn, user_a, five, 1, "a better start")
    rows, head = stored(db, five)
    assert (seq, parent, head) == (6, None, 6) and path(rows, head) == [6]
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_siblings(%s, 1)", [five]) == [1, 6]
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_recent(%s, 50)", [five]) == [6]
    assert_reads_follow_the_model(app_conn, db, user_a, five)
    # popped, the head goes to the newest message left, which has none after it
    call(app_conn, user_a, "select chat.pop_message(%s)", [five])
    assert stored(db, five)[1] == 5


def test_a_summary_on_a_branch_left_covers_nothing_on_the_active_one(app_conn, db, user_a, five):
    call(app_conn, user_a, "select chat.compact_messages(%s, 1, %s)", [five, Jsonb([
        {"role": "system", "content": "summary of 1..5", "tokens": 7}])])      # 6, after 5
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_context(%s, null)", [five]) == [6]
    switch(app_conn, user_a, five, 4)                                          # back to the branch: 6 is under 4
    switch(app_conn, user_a, five, 2)
    edit(app_conn, user_a, five, 3, "three, second")                           # 7, after 2
    assert seqs_of(app_conn, user_a, "select seq from chat.fetch_context(%s, null)", [five]) == [1, 2, 7]
    # from_seq must be seen by the model: 4 is on the other branch
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="not on the active path"):
        call(app_conn, user_a, "select chat.compact_messages(%s, 4, %s)", [five, Jsonb([
            {"role": "system", "content": "no"}])])
    assert_reads_follow_the_model(app_conn, db, user_a, five)


def test_random_trees_read_as_their_model(app_conn, db, user_a, conversation, pg_server, chat_db):
    """Appends, edits, switches, pops and summaries at random; after each, every reader answers as the model of
    the stored tree does, and the audit passes."""
    rng = random.Random(26)
    for step in range(70):
        rows, head = stored(db, conversation)
        action = rng.choice(["append", "append", "append", "batch", "edit", "edit", "switch", "pop", "compact"])
        if not rows or action == "append":
            append(app_conn, user_a, conversation, rng.choice(["user", "assistant", "tool"]), f"s{step}",
                   tokens=rng.choice([0, 5, 20, 60]))
        elif action == "batch":
            call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
                {"role": rng.choice(["assistant", "tool"]), "content": f"b{step}.{i}", "tokens": rng.choice([1, 30])}
                for i in range(rng.randint(1, 4))])])
        elif action == "edit":
            edit(app_conn, user_a, conversation, rng.choice(sorted(rows)), f"e{step}")
        elif action == "switch":
            target = rng.choice(sorted(rows))
            assert switch(app_conn, user_a, conversation, target) == newest_under(rows, target)
        elif action == "pop":
            if head == max(rows):
                call(app_conn, user_a, "select chat.pop_message(%s)", [conversation])
        else:
            seen = view(rows, head)
            call(app_conn, user_a, "select chat.compact_messages(%s, %s, %s)", [conversation, rng.choice(seen), Jsonb([
                {"role": "system", "content": f"summary {step}", "tokens": rng.choice([2, 40])}])])
        if step % 7 == 6:
            assert_reads_follow_the_model(app_conn, db, user_a, conversation)
    rows, head = stored(db, conversation)
    assert len(rows) > 40 and len(path(rows, head)) < len(rows)
    assert_reads_follow_the_model(app_conn, db, user_a, conversation)
    result = run_integrity(pg_server, chat_db)
    assert result.returncode == 0, result.stdout + result.stderr


def test_racing_edits_and_appends_keep_one_head_and_no_gap(connect_as, db, user_a, five):
    """Eight connections edit and append at once: every message stored, seq gapless, one head, every parent a
    message before its child."""
    connections = [connect_as("chat_test_app") for _ in range(8)]

    def work(i):
        for round_ in range(5):
            if i % 2:
                edit(connections[i], user_a, five, 1 + (i + round_) % 5, f"e{i}.{round_}")
            else:
                append(connections[i], user_a, five, "user", f"a{i}.{round_}")

    run_together(8, work)
    rows, head = stored(db, five)
    assert sorted(rows) == list(range(1, 5 + 40 + 1))
    assert db.execute("select message_count from chat.conversations where id = %s", [five]).fetchone() == (45,)
    assert all(parent is None or parent < seq for seq, (parent, *_) in rows.items())
    assert head in rows and not children(rows, head)


# errors and isolation

@pytest.mark.parametrize("sql", [
    "select chat.edit_message(%s, 99, 'x')",
    "select chat.switch_branch(%s, 99)",
    "select chat.fetch_siblings(%s, 99)",
])
def test_a_seq_that_is_no_message_is_named(app_conn, user_a, five, sql):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="seq 99") as raised:
        call(app_conn, user_a, sql, [five])
    assert raised.value.diag.column_name == "seq"


def test_an_edit_is_checked_as_any_message(app_conn, db, user_a, five):
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        edit(app_conn, user_a, five, 3, "x" * 10_001)
    assert db.execute("select count(*), max(head_seq) from chat.messages m join chat.conversations c"
                      " on c.id = m.conversation_id where c.id = %s", [five]).fetchone() == (5, 5)


@pytest.mark.parametrize("sql", [
    "select chat.edit_message(%s, 1, 'mine now')",
    "select chat.switch_branch(%s, 1)",
    "select chat.fetch_siblings(%s, 1)",
    "select chat.fetch_log(%s)",
])
def test_another_users_conversation_is_a_missing_one(app_conn, db, user_a, user_b, five, sql):
    with pytest.raises(psycopg.errors.NoDataFound) as foreign:
        call(app_conn, user_b, sql, [five])
    with pytest.raises(psycopg.errors.NoDataFound) as missing:
        call(app_conn, user_b, sql, ["00000000-0000-4000-8000-00000000dead"])
    assert str(foreign.value).replace(str(five), "X") == str(missing.value).replace(
        "00000000-0000-4000-8000-00000000dead", "X")
    assert stored(db, five)[1] == 5


@pytest.mark.parametrize("sql", [
    "select chat.edit_message(%s, 1, 'x')",
    "select chat.switch_branch(%s, 1)",
    "select chat.fetch_siblings(%s, 1)",
    "select chat.fetch_log(%s)",
])
def test_without_a_user_nothing_is_read_nor_written(app_conn, five, sql):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(app_conn, None, sql, [five])
