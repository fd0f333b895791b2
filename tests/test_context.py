"""The model's context (chat.fetch_context), token counts, and compaction that keeps the history
(chat.compact_messages), as the runtime role.

A message's ``tokens`` is its writer's count or the database's estimate (ceil(characters / 4) + 4).
fetch_context walks the model's view back from the last message: the newest messages whose counts fit the
budget, never an orphan tool output first, the newest always there. A summary stands in for a range of
messages in that view; people's views (fetch_messages) keep every message.
"""

from __future__ import annotations

import random
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from as_user import acting_as, call
from races import run_together
from token_counts import estimate


def append(conn, user, conversation, role, content, tokens=None):
    return call(conn, user, "select seq from chat.append_message(%s, %s, %s, '{}', null, %s)",
                [conversation, role, content, tokens])[0][0]


def context(conn, user, conversation, max_tokens, max_count=1000, before_seq=None):
    """(seq, role, tokens, over_budget) of fetch_context, in order."""
    return call(conn, user, "select seq, role, tokens, over_budget from chat.fetch_context(%s, %s, %s, %s)",
                [conversation, max_tokens, max_count, before_seq])


def seqs(rows):
    return [row[0] for row in rows]


def compact(conn, user, conversation, from_seq, contents, through_id=None):
    messages = Jsonb([{"role": "assistant", "content": text} for text in contents])
    return call(conn, user, "select seq, summary_from, summary_through from chat.compact_messages(%s, %s, %s, %s)",
                [conversation, from_seq, messages, through_id])


# token counts

def test_every_writer_stores_the_given_count_or_the_estimate(app_conn, user_a, conversation, db):
    append(app_conn, user_a, conversation, "user", "four", tokens=40)
    append(app_conn, user_a, conversation, "user", "x" * 401)
    call(app_conn, user_a, "select chat.append_messages(%s, %s)", [conversation, Jsonb([
        {"role": "assistant", "content": "given", "tokens": 0},
        {"role": "tool", "content": "estimated"},
        {"role": "user", "content": "keyed", "client_msg_id": "k", "tokens": 7}])])
    call(app_conn, user_a, "select chat.begin_turn(%s, 'turn', 't-1', 50, '1 minute', 12, 1000)", [conversation])
    call(app_conn, user_a, "select chat.finish_turn(%s, 6, 'reply', '{}', 33)", [conversation])
    call(app_conn, user_a, "select chat.begin_turn(%s, 'turn two', 't-2')", [conversation])
    call(app_conn, user_a, "select chat.finish_turn(%s, 8, 'reply two')", [conversation])
    compact(app_conn, user_a, conversation, 1, ["a summary"])
    rows = db.execute("select seq, content, tokens_given, tokens from chat.messages where conversation_id = %s"
                      " order by seq", [conversation]).fetchall()
    given = {1: 40, 3: 0, 5: 7, 6: 12, 7: 33}
    assert [(seq, tokens_given, tokens) for seq, _, tokens_given, tokens in rows] == [
        (seq, given.get(seq), given.get(seq, estimate(content))) for seq, content, _, _ in rows]
    assert len(rows) == 10
    assert estimate("x" * 401) == 105 and rows[1][3] == 105
    # and each its running total: the tokens of every message before it
    totals = db.execute("select tokens_before from chat.messages where conversation_id = %s order by seq",
                        [conversation]).fetchall()
    assert [total for (total,) in totals] == [sum(row[3] for row in rows[:i]) for i in range(len(rows))]


@pytest.mark.parametrize(("content", "metadata"), [
    ("", {}), ("abc", {}), ("abcd", {}), ("😀" * 10_000, {}), ("short", {"agents_item": {"output": "x" * 5000}}),
    ("y" * 9000, {"k": "v"}), ("", {"é": ["ü", 1.5, None]})])
def test_the_tests_estimate_is_the_databases(app_conn, user_a, conversation, content, metadata):
    (tokens, text) = call(app_conn, user_a, "select tokens, metadata::text from chat.append_message(%s, 'user', %s, %s)",
                          [conversation, content, Jsonb(metadata)])[0]
    assert tokens == estimate(content, text if metadata else None)


def test_a_row_written_directly_gets_the_estimate_or_its_given_count(db, user_a, conversation):
    """Any insert that leaves tokens out (a row written by hand, a data load) gets it from the trigger."""
    db.execute("insert into chat.messages (conversation_id, user_id, seq, role, content, metadata, tokens_given)"
               " values (%s, %s, 1, 'user', 'twelve chars', '{}', null), (%s, %s, 2, 'tool', 'x', %s, null),"
               " (%s, %s, 3, 'user', 'x', '{}', 42)",
               [conversation, user_a, conversation, user_a, Jsonb({"k": "v" * 100}), conversation, user_a])
    second = estimate("x", '{"k": "' + "v" * 100 + '"}')
    assert db.execute("select seq, tokens, tokens_before from chat.messages where conversation_id = %s order by seq",
                      [conversation]).fetchall() == [(1, 7, 0), (2, second, 7), (3, 42, 7 + second)]


def test_a_row_with_no_message_before_it_has_no_running_total_and_is_refused(db, user_a, conversation):
    """tokens_before counts from the message before; a row inserted past a gap has none to count from."""
    with pytest.raises(psycopg.errors.NotNullViolation, match="tokens_before"):
        db.execute("insert into chat.messages (conversation_id, user_id, seq, role, content)"
                   " values (%s, %s, 5, 'user', 'past a gap')", [conversation, user_a])


@pytest.mark.parametrize(("sql", "params", "field"), [
    ("select chat.append_message(%s, 'user', 'x', '{}', null, %s)", [-1], "tokens"),
    ("select chat.append_messages(%s, %s)", [Jsonb([{"role": "user", "content": "x", "tokens": -1}])],
     "messages[0].tokens"),
    ("select chat.append_messages(%s, %s)", [Jsonb([{"role": "user", "content": "x"},
                                                      {"role": "user", "content": "x", "tokens": 1.5}])],
     "messages[1].tokens"),
    ("select chat.append_messages(%s, %s)", [Jsonb([{"role": "user", "content": "x", "tokens": 2 ** 31}])],
     "messages[0].tokens"),
    ("select chat.append_messages(%s, %s)", [Jsonb([{"role": "user", "content": "x", "tokens": "3"}])],
     "messages[0].tokens"),
    ("select chat.fetch_context(%s, %s)", [-5], "max_tokens"),
    ("select chat.fetch_context(%s, 10, %s)", [0], "max_count"),
    ("select chat.fetch_context(%s, 10, 10, %s)", [0], "before_seq"),
    ("select chat.begin_turn(%s, 'x', null, 50, '1 minute', null, %s)", [-1], "max_tokens"),
])
def test_a_bad_count_or_budget_is_refused_naming_it_and_nothing_is_stored(app_conn, user_a, conversation, db,
                                                                          sql, params, field):
    with pytest.raises(psycopg.DataError) as refused:
        call(app_conn, user_a, sql, [conversation, *params])
    assert refused.value.diag.sqlstate.startswith("22")
    assert refused.value.diag.column_name == field
    assert field in str(refused.value)
    assert db.execute("select count(*) from chat.messages where conversation_id = %s", [conversation]).fetchone() == (0,)


# the budget

@pytest.fixture
def five(app_conn, user_a, conversation):
    """A user's words, a tool call, two outputs, the assistant's answer: 10, 10, 50, 50 and 5 tokens."""
    for role, content, tokens in [("user", "question", 10), ("assistant", "call", 10), ("tool", "out 1", 50),
                                  ("tool", "out 2", 50), ("assistant", "answer", 5)]:
        append(app_conn, user_a, conversation, role, content, tokens)
    return conversation


@pytest.mark.parametrize(("budget", "expected"), [
    (125, [1, 2, 3, 4, 5]),   # exactly everything
    (124, [2, 3, 4, 5]),      # one short of everything: from the call
    (115, [2, 3, 4, 5]),      # exactly from the call
    (114, [5]),               # 3..5 would start with an output whose call is left out, and so would 4..5
    (55, [5]),                # 4..5 fits, but starts with an output
    (5, [5]),                 # exactly the newest
])
def test_the_newest_messages_that_fit_never_starting_with_an_orphan_output(app_conn, user_a, five, budget,
                                                                            expected):
    rows = context(app_conn, user_a, five, budget)
    assert seqs(rows) == expected
    assert sum(row[2] for row in rows) <= budget
    assert not any(row[3] for row in rows)
    assert rows[0][1] != "tool"


def test_the_newest_message_comes_back_alone_over_the_budget(app_conn, user_a, conversation):
    append(app_conn, user_a, conversation, "user", "small")
    huge = append(app_conn, user_a, conversation, "assistant", "y" * 10_000)
    assert context(app_conn, user_a, conversation, 100) == [(huge, "assistant", 2504, True)]
    assert context(app_conn, user_a, conversation, 0) == [(huge, "assistant", 2504, True)]
    assert context(app_conn, user_a, conversation, 2504) == [(huge, "assistant", 2504, False)]


def test_a_newest_tool_output_over_the_budget_comes_with_its_call(app_conn, user_a, conversation):
    for role, content, tokens in [("user", "q", 3), ("assistant", "call", 4), ("tool", "big output", 900),
                                  ("tool", "second output", 900)]:
        append(app_conn, user_a, conversation, role, content, tokens)
    assert context(app_conn, user_a, conversation, 100) == [
        (2, "assistant", 4, True), (3, "tool", 900, True), (4, "tool", 900, True)]


def test_an_empty_conversation_has_no_context(app_conn, user_a, conversation):
    assert context(app_conn, user_a, conversation, 8000) == []
    assert context(app_conn, user_a, conversation, None) == []


def test_max_count_bounds_it_and_before_seq_pages_back(app_conn, user_a, five):
    assert seqs(context(app_conn, user_a, five, 1000, 2)) == [5]        # 4..5 starts with an output
    assert seqs(context(app_conn, user_a, five, None, 2)) == [4, 5]     # no budget: a page, as stored
    assert seqs(context(app_conn, user_a, five, None, 2, 4)) == [2, 3]
    assert seqs(context(app_conn, user_a, five, None, 2, 2)) == [1]
    assert seqs(context(app_conn, user_a, five, None, 1000, 1)) == []


def test_it_reads_the_messages_it_returns_and_a_few_more(app_conn, user_a, conversation):
    """Index-bound: 2,000 messages stored, some 20 returned; what the transaction fetched from the table is
    counted by PostgreSQL itself (pg_stat_xact_user_tables)."""
    with acting_as(app_conn, user_a):
        app_conn.execute("select chat.append_messages(%s, (select jsonb_agg(jsonb_build_object("
                         "'role', 'user', 'content', 'message ' || g, 'tokens', 100)) from generate_series(1, 1000) g))",
                         [conversation])
        app_conn.execute("select chat.append_messages(%s, (select jsonb_agg(jsonb_build_object("
                         "'role', 'user', 'content', 'message ' || g, 'tokens', 100)) from generate_series(1, 1000) g))",
                         [conversation])
    with acting_as(app_conn, user_a):
        def fetched():
            return app_conn.execute("select coalesce(idx_tup_fetch, 0) from pg_stat_xact_user_tables"
                                    " where relid = 'chat.messages'::regclass").fetchone()[0]
        before = fetched()
        returned = app_conn.execute("select count(*) from chat.fetch_context(%s, 2000)", [conversation]).fetchone()[0]
        read = fetched() - before
        before = fetched()
        page = app_conn.execute("select count(*) from chat.fetch_context(%s, null, 20)", [conversation]).fetchone()[0]
        page_read = fetched() - before
    with acting_as(app_conn, user_a):
        before = fetched()
        walked = app_conn.execute("select count(*) from chat_private.fetch_context_walk(%s, 2000)",
                                  [conversation]).fetchone()[0]
        walk_read = fetched() - before
    assert returned == walked == 20
    assert read <= returned + 3, read  # the probe (the newest row, the cut, the first row taken) and the rows
    assert walk_read <= 2 * returned + 64, walk_read  # the walk: at most one chunk more, and the rows read again
    assert page == 20
    assert page_read <= page + 2, page_read  # a page without a budget: the head, the first row, its rows by range


def test_a_context_longer_than_a_chunk_is_whole_and_in_order(app_conn, user_a, conversation):
    with acting_as(app_conn, user_a):
        app_conn.execute("select chat.append_messages(%s, (select jsonb_agg(jsonb_build_object("
                         "'role', 'user', 'content', 'message ' || g, 'tokens', 10)) from generate_series(1, 400) g))",
                         [conversation])
    assert seqs(context(app_conn, user_a, conversation, 1500)) == list(range(251, 401))
    assert seqs(context(app_conn, user_a, conversation, None, 150)) == list(range(251, 401))
    assert seqs(context(app_conn, user_a, conversation, 1500, 1000, 300)) == list(range(150, 300))
    compact(app_conn, user_a, conversation, 101, ["summary of 101..400"])   # 401, estimated 9 tokens
    assert seqs(context(app_conn, user_a, conversation, 1009)) == [*range(1, 101), 401]
    assert seqs(context(app_conn, user_a, conversation, 1008)) == [*range(2, 101), 401]


# compaction

def people(db, conversation):
    return db.execute("select seq, summary_from, summary_through from chat.messages where conversation_id = %s"
                      " order by seq", [conversation]).fetchall()


def test_a_summary_stands_in_for_the_model_and_people_keep_every_message(app_conn, user_a, five, db):
    assert compact(app_conn, user_a, five, 2, ["summary of 2..5", "and a note"]) == [(6, 2, 5), (7, 2, 5)]
    assert seqs(context(app_conn, user_a, five, None)) == [1, 6, 7]
    append(app_conn, user_a, five, "user", "after the summary")
    assert seqs(context(app_conn, user_a, five, None)) == [1, 6, 7, 8]
    # people: every message, the summary's rows marked
    assert people(db, five) == [(1, None, None), (2, None, None), (3, None, None), (4, None, None),
                                (5, None, None), (6, 2, 5), (7, 2, 5), (8, None, None)]
    assert [row[0] for row in call(app_conn, user_a, "select seq from chat.fetch_messages(%s)", [five])] == [
        1, 2, 3, 4, 5, 6, 7, 8]
    assert call(app_conn, user_a, "select message_count from chat.get_conversation(%s)", [five]) == [(8,)]


def test_a_second_summary_over_the_first(app_conn, user_a, five):
    compact(app_conn, user_a, five, 2, ["first"])                       # 6 stands in for 2..5
    append(app_conn, user_a, five, "user", "more")                      # 7
    # from the first summary's first row: it stands in for what that one covered too
    assert compact(app_conn, user_a, five, 6, ["second"]) == [(8, 2, 7)]
    assert seqs(context(app_conn, user_a, five, None)) == [1, 8]
    # from a message after it: the first summary stays in the view
    append(app_conn, user_a, five, "user", "again")                     # 9
    assert compact(app_conn, user_a, five, 9, ["third"]) == [(10, 9, 9)]
    assert seqs(context(app_conn, user_a, five, None)) == [1, 8, 10]
    # everything
    assert compact(app_conn, user_a, five, 1, ["all"]) == [(11, 1, 10)]
    assert seqs(context(app_conn, user_a, five, None)) == [11]
    assert compact(app_conn, user_a, five, 1, ["all again"]) == [(12, 1, 11)]
    assert seqs(context(app_conn, user_a, five, None)) == [12]


def test_a_message_the_model_no_longer_sees_cannot_start_a_summary(app_conn, user_a, five, db):
    compact(app_conn, user_a, five, 2, ["first"])
    with pytest.raises(psycopg.DataError) as refused:
        compact(app_conn, user_a, five, 3, ["bad"])
    assert refused.value.diag.column_name == "from_seq"
    assert "covered by the summary at seq 6" in str(refused.value)
    for outside in (0, 7, None):
        with pytest.raises(psycopg.DataError):
            compact(app_conn, user_a, five, outside, ["bad"])
    assert len(people(db, five)) == 6


def test_a_summary_of_a_tail_that_changed_is_not_written(app_conn, user_a, five, db):
    (last_id,) = call(app_conn, user_a, "select id from chat.fetch_recent(%s, 1)", [five])[0]
    append(app_conn, user_a, five, "user", "appended meanwhile")
    assert compact(app_conn, user_a, five, 2, ["stale"], last_id) == []
    # popped and appended again: the same seq, another message
    (last_id,) = call(app_conn, user_a, "select id from chat.fetch_recent(%s, 1)", [five])[0]
    call(app_conn, user_a, "select chat.pop_message(%s)", [five])
    append(app_conn, user_a, five, "user", "appended meanwhile")
    assert compact(app_conn, user_a, five, 2, ["stale"], last_id) == []
    assert len(people(db, five)) == 6
    (last_id,) = call(app_conn, user_a, "select id from chat.fetch_recent(%s, 1)", [five])[0]
    assert compact(app_conn, user_a, five, 2, ["current"], last_id) == [(7, 2, 6)]


def test_a_page_before_a_summary_goes_on_before_what_it_covers(app_conn, user_a, five):
    compact(app_conn, user_a, five, 2, ["summary"])                      # 6 stands in for 2..5
    append(app_conn, user_a, five, "user", "next")                       # 7
    assert seqs(context(app_conn, user_a, five, None, 1)) == [7]
    assert seqs(context(app_conn, user_a, five, None, 1, 7)) == [6]
    assert seqs(context(app_conn, user_a, five, None, 1, 6)) == [1]
    assert seqs(context(app_conn, user_a, five, None, 1000, 100)) == [1, 6, 7]


def test_popping_a_summary_brings_back_what_it_covered(app_conn, user_a, five):
    compact(app_conn, user_a, five, 2, ["summary"])
    call(app_conn, user_a, "select chat.pop_message(%s)", [five])
    assert seqs(context(app_conn, user_a, five, None)) == [1, 2, 3, 4, 5]


def test_a_summary_takes_no_client_msg_id_and_is_checked_as_any_message(app_conn, user_a, five, db):
    for messages, field in [([{"role": "user", "content": "s", "client_msg_id": "k"}], "messages[0].client_msg_id"),
                            ([{"role": "robot", "content": "s"}], "messages[0].role"),
                            ([], "messages")]:
        with pytest.raises(psycopg.DataError) as refused:
            call(app_conn, user_a, "select chat.compact_messages(%s, 1, %s)", [five, Jsonb(messages)])
        assert refused.value.diag.column_name == field
    assert len(people(db, five)) == 5


def test_the_budget_reads_through_summaries(app_conn, user_a, five):
    compact(app_conn, user_a, five, 2, ["summary"])                      # 6 (estimate 6 tokens)
    append(app_conn, user_a, five, "user", "next", 20)                   # 7
    assert context(app_conn, user_a, five, 36) == [
        (1, "user", 10, False), (6, "assistant", 6, False), (7, "user", 20, False)]
    assert seqs(context(app_conn, user_a, five, 35)) == [6, 7]


# races

def model_view(db, conversation) -> list[int]:
    """The model's view by its definition, from every stored row: back from the last message, a summary's
    first row leads to the message before its range."""
    rows = {seq: (start, through) for seq, start, through in people(db, conversation)}
    view, seq = [], max(rows, default=0)
    while seq >= 1:
        view.append(seq)
        start, through = rows[seq]
        seq = start - 1 if start is not None and seq == through + 1 else seq - 1
    return view[::-1]


def test_compactions_racing_appends_lose_nothing(connect_as, user_a, conversation, db):
    """Eight connections: four append, four summarize what they read (with through_id), at once. Every append
    is stored, seq stays gapless, and the model's view is what the stored rows say it is."""
    connections = [connect_as("chat_test_app") for _ in range(8)]
    appends = 30

    def work(i):
        conn = connections[i]
        written = 0
        for n in range(appends):
            if i < 4:
                append(conn, user_a, conversation, "user", f"writer {i} message {n}")
                written += 1
            else:
                view = call(conn, user_a, "select seq, id from chat.fetch_context(%s, null, 1000)", [conversation])
                if view:
                    from_seq = view[max(0, len(view) - 3)][0]
                    written += len(compact(conn, user_a, conversation, from_seq, [f"summary by {i}"], view[-1][1]))
        return written

    written = sum(run_together(8, work))
    stored = people(db, conversation)
    assert [row[0] for row in stored] == list(range(1, len(stored) + 1))
    assert len(stored) == written
    assert sum(1 for row in stored if row[1] is None) == 4 * appends
    assert db.execute("select message_count from chat.conversations where id = %s",
                      [conversation]).fetchone() == (len(stored),)
    assert any(row[1] is not None for row in stored)  # some summaries went through
    expected = model_view(db, conversation)
    assert seqs(call(connections[0], user_a, "select seq from chat.fetch_context(%s, null, 1000)",
                     [conversation])) == expected


# isolation

@pytest.mark.parametrize("sql", [
    "select * from chat.fetch_context(%s, 1000)",
    "select * from chat.compact_messages(%s, 1, '[{\"role\": \"user\", \"content\": \"s\"}]')",
])
def test_another_users_conversation_is_a_missing_one(app_conn, user_a, user_b, five, db, sql):
    errors = []
    for target in (five, uuid.uuid4()):
        with pytest.raises(psycopg.errors.NoDataFound) as missing:
            call(app_conn, user_b, sql, [target])
        errors.append(str(missing.value).replace(str(target), "<id>"))
    assert errors[0] == errors[1]
    assert len(people(db, five)) == 5


def test_without_a_user_nothing_is_read_nor_written(app_conn, five, db):
    for sql in ("select * from chat.fetch_context(%s, 1000)",
                "select * from chat.compact_messages(%s, 1, '[{\"role\": \"user\", \"content\": \"s\"}]')"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            call(app_conn, None, sql, [five])
    assert len(people(db, five)) == 5


# the probe and the walk

def test_the_probe_and_the_walk_give_the_same_context(app_conn, user_a, conversation):
    """fetch_context answers most calls from the running total (one probe, one range) and leaves the rest to
    the walk; on a conversation of every kind of row (tool outputs in runs, empty and huge messages, summaries
    over summaries), for budgets from nothing to everything and counts from 1 up, the two say the same."""
    rng = random.Random(25)
    for _ in range(6):
        items = [{"role": rng.choice(["user", "assistant", "tool", "tool"]), "content": "m",
                  "tokens": rng.choice([0, 1, 5, 40, 300, 2000])} for _ in range(rng.randint(5, 25))]
        seq = call(app_conn, user_a, "select max(seq) from chat.append_messages(%s, %s)",
                   [conversation, Jsonb(items)])[0][0]
        if rng.random() < 0.6:
            # a summary from a message the model still sees
            view = seqs(context(app_conn, user_a, conversation, None, 1000))
            compact(app_conn, user_a, conversation, rng.choice(view[:-1] or [1]), ["summary"])
    assert seq > 30
    checked = 0
    for max_tokens in (None, 0, 1, 5, 39, 40, 41, 300, 345, 1000, 2500, 5000, 20000, 100000):
        for max_count in (1, 2, 3, 7, 20, 1000):
            arguments = [conversation, max_tokens, max_count]
            probe = call(app_conn, user_a, "select f::text from chat.fetch_context(%s, %s, %s) f", arguments)
            walk = call(app_conn, user_a, "select w::text from chat_private.fetch_context_walk(%s, %s, %s) w",
                        arguments)
            assert probe == walk, (max_tokens, max_count)
            checked += bool(walk)
    assert checked == 14 * 6
