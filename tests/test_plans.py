"""Plans as the runtime role, under RLS: reads stay bounded by their limit.

A conversation of 10,000 messages among other users' data; fetch_recent(c, 50)
must read the index backwards and stop after 50 rows. Checked on the plan's
structure and its buffer counts, never on time.
"""

from __future__ import annotations

import json
import re

import pytest

from app.store import positioned
from as_user import acting_as, call
from query_plans import function_plans, nodes

HISTORY = 10_000


@pytest.fixture
def big_conversation(db, make_user, user_a):
    """user_a's conversation of 10,000 messages, plus other users' conversations around it."""
    others = [make_user() for _ in range(5)]
    conversation = db.execute(
        "insert into chat.conversations (user_id, message_count) values (%s, %s) returning id", [user_a, HISTORY]
    ).fetchone()[0]
    db.execute(
        """
        insert into chat.messages (conversation_id, user_id, seq, role, content)
        select %s, %s, g, case when g %% 2 = 1 then 'user' else 'assistant' end,
               repeat(md5(g::text), 1 + g %% 40)
          from generate_series(1, %s) g
        """,
        [conversation, user_a, HISTORY],
    )
    for other in others:
        other_conversation = db.execute(
            "insert into chat.conversations (user_id, message_count) values (%s, 2000) returning id", [other]
        ).fetchone()[0]
        db.execute(
            "insert into chat.messages (conversation_id, user_id, seq, role, content) "
            "select %s, %s, g, 'user', md5(g::text) from generate_series(1, 2000) g",
            [other_conversation, other],
        )
    db.execute("analyze chat.conversations")
    db.execute("analyze chat.messages")
    return conversation


def total_buffers(plan: dict) -> int:
    return plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)


def explain(conn, sql, params):
    return conn.execute("explain (analyze, buffers, format json) " + sql, params).fetchone()[0][0]["Plan"]


def test_fetch_recent_reads_a_few_hundred_buffers_at_most(app_conn, user_a, big_conversation):
    with acting_as(app_conn, user_a):
        sql = "select * from chat.fetch_recent(%s, 50)"
        for _ in range(6):  # past plpgsql's first custom plans: the steady state
            app_conn.execute(sql, [big_conversation]).fetchall()
        plan = explain(app_conn, sql, [big_conversation])
    assert plan["Actual Rows"] == 50
    # the whole call, function body included; the other 9,950 messages alone
    # would take far more pages than this
    assert total_buffers(plan) <= 300, plan




def test_fetch_recent_plan_inside_the_function_is_a_bounded_index_range_scan(db, user_a, big_conversation):
    """auto_explain shows the statements the function really runs, as the runtime role: the head found by its
    seq, then the last 50 of its stretch read by their range."""
    plans = function_plans(db, user_a, "select * from chat.fetch_recent(%s, 50)", [big_conversation])
    message_plans = [p for p in plans if any(n.get("Relation Name") == "messages" for n in nodes(p))]
    assert len(message_plans) == 2, plans
    (head,) = [n for n in nodes(message_plans[0]) if n.get("Relation Name") == "messages"]
    assert (head["Index Name"], head["Actual Rows"]) == ("messages_conversation_seq_key", 1)
    assert "seq = c.head_seq" in head["Index Cond"], head
    inner = message_plans[1]
    scans = [n for n in nodes(inner) if n.get("Relation Name") == "messages"]
    assert len(scans) == 1
    scan = scans[0]
    # (a range of 50 known to the planner may be read as a bitmap: its index node names no relation)
    (by_index,) = [n for n in nodes(inner) if n.get("Index Name") == "messages_conversation_seq_key"]
    assert scan["Node Type"] in ("Index Scan", "Bitmap Heap Scan"), scan
    assert ">=" in by_index["Index Cond"] and "<=" in by_index["Index Cond"], by_index
    assert scan["Actual Rows"] == 50 and by_index["Actual Rows"] == 50
    assert scan.get("Rows Removed by Filter", 0) == 0
    assert total_buffers(scan) <= 100
    assert not any(n["Node Type"] == "Seq Scan" for n in nodes(inner))


def test_fetch_messages_page_is_a_bounded_forward_index_scan(app_conn, user_a, big_conversation):
    with acting_as(app_conn, user_a):
        sql = "select * from chat.fetch_messages(%s, 5000, 100)"
        for _ in range(6):
            app_conn.execute(sql, [big_conversation]).fetchall()
        plan = explain(app_conn, sql, [big_conversation])
    assert plan["Actual Rows"] == 100
    assert total_buffers(plan) <= 400, plan


def test_a_page_with_each_messages_place_among_its_versions_probes_two_indexes_a_message(app_conn, user_a,
                                                                                        big_conversation):
    """What the HTTP routes read: a page of 100, each message's sibling_index and sibling_count read by a probe of
    the seq index (the message after its parent) and one of the forks' index, never a scan of the conversation
    (as seq = parent_seq + 1 the main sibling's probe was planned as a scan of the conversation for each message)."""
    sql = positioned("chat.fetch_messages(%s, 5000, 100)")
    with acting_as(app_conn, user_a):
        plan = explain(app_conn, sql, [big_conversation])
    assert plan["Actual Rows"] == 100
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "messages"]
    assert {n["Node Type"] for n in scans} <= {"Index Scan", "Index Only Scan"}, scans
    assert {n["Index Name"] for n in scans} == {"messages_conversation_seq_key", "messages_forks_idx"}
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in scans) <= 100
    assert total_buffers(plan) <= 400 + 100 * 2 * 4, plan


@pytest.fixture
def branched_conversation(db, app_conn, make_user, user_a):
    """user_a's conversation whose active path crosses 200 edits: 50 messages, the last of them edited, and so on,
    200 times, then 25 more (10,225 messages, 201 stretches on the path, 200 versions left beside it), among 3,000
    conversations of 3 messages (so that, as in most databases, a conversation is short on average, and a generic
    plan takes one for a few rows); analyzed, as autovacuum would after so many."""
    for _ in range(30):
        other = make_user()
        db.execute("""
            with made as (
              insert into chat.conversations (user_id, message_count) select %s, 3 from generate_series(1, 100)
              returning id, user_id)
            insert into chat.messages (conversation_id, user_id, seq, role, content)
            select made.id, made.user_id, s, 'user', 'short' from made, generate_series(1, 3) s""", [other])
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('edited often')")[0][0]
    with acting_as(app_conn, user_a):
        app_conn.execute("""
            do $$
            declare
              c uuid := %s;
            begin
              for i in 1 .. 200 loop
                perform chat.append_messages(c, (select jsonb_agg(jsonb_build_object('role', 'user', 'content', g::text))
                                                   from generate_series(1, 50) g));
                perform chat.edit_message(c, (select head_seq from chat.conversations where id = c), 'edited');
              end loop;
              perform chat.append_messages(c, (select jsonb_agg(jsonb_build_object('role', 'user', 'content', g::text))
                                                 from generate_series(1, 25) g));
            end $$""".replace("%s", f"'{conversation}'"))
    db.execute("analyze chat.messages")
    db.execute("analyze chat.conversations")
    return conversation


def generic_plans(db, user, sql, conversation) -> tuple[list[dict], list[dict]]:
    """The plans of the statements ``sql`` runs as the runtime role once plpgsql has left its first custom plans
    for the generic ones (where an average conversation is short), and their scans of the messages: index scans
    only, never a sequential or bitmap scan."""
    for _ in range(6):
        function_plans(db, user, sql, [conversation])
    plans = function_plans(db, user, sql, [conversation])
    scans = [n for p in plans for n in nodes(p) if n.get("Relation Name") == "messages"]
    assert not any(n["Node Type"] in ("Seq Scan", "Bitmap Heap Scan") for n in scans), (sql, scans)
    return plans, scans


@pytest.mark.parametrize(("sql", "returned", "read_at_most"), [
    ("select * from chat.fetch_recent(%s, 50)", 50, 1 + 50 + 2),
    ("select * from chat.fetch_messages(%s, 0, 100)", 100, 100 + 2 * 201),
    ("select * from chat.fetch_messages(%s, 10100, 100)", 100, 100 + 2 * 4),
], ids=["recent", "first page", "a page across a fork"])
def test_reads_across_stretches_read_by_ranges_not_the_conversation(db, user_a, branched_conversation, sql, returned,
                                                                    read_at_most):
    """As the runtime role, on a path of 201 stretches: the messages returned, read by index ranges, and a probe or
    two a stretch crossed to find where the one before it ends; never a scan of the conversation's 10,225 (which a
    join of the ranges to the messages was planned as)."""
    plans, scans = generic_plans(db, user_a, sql, branched_conversation)
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in scans) <= read_at_most, scans
    (rows,) = [p for p in plans if p["Node Type"] == "Function Scan" and p.get("Actual Loops") == 1
               and p["Actual Rows"] == returned] or [None]
    assert rows is not None, plans


def test_versions_a_regeneration_and_a_switch_read_by_seq_on_a_branched_path(db, app_conn, user_a,
                                                                             branched_conversation):
    """As the runtime role, generic plans, on the path of 201 stretches: the versions of a message, the walk from a
    regenerated answer back to the message it answers, and a switch (the end of each stretch below the message,
    and the messages that start a branch from it) each read a message by its seq or a stretch by its index, a
    few rows a stretch at most; never the conversation's 10,225 (which an OR of the versions, joins on parent_seq
    and a stretch's end sorted from the conversation were planned as, in the benchmark's database)."""
    c = branched_conversation
    ((answer,),) = call(app_conn, user_a, "select seq from chat.append_message(%s, 'assistant', 'an answer')", [c])
    # the fixture's path gains a stretch every 51 messages (50 appended and an edit): those from 5051's down
    stretches_below = 201 - 5051 // 51
    for sql, read_at_most in [
        ("select * from chat.fetch_siblings(%s, 5051)", 1 + 2),
        ("select * from chat.begin_turn(%s, null, gen_random_uuid()::text, 50, '1 minute', null, 8000, null,"
         f" {answer})", 60 + 2),
        ("select chat.switch_branch(%s, 5051)", 1 + 2 * stretches_below + 1),
    ]:
        _, scans = generic_plans(db, user_a, sql, c)
        most = max(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in scans)
        assert most <= read_at_most, (sql, scans)


# search: the GIN index keyed by (user_id, words) reads the current user's matches only

@pytest.fixture
def haystacks(db, make_user, user_a):
    """Six users of 2,000 messages each, one in a hundred with the word "needle": user_a's 20 among 120."""
    for user in [user_a, *(make_user() for _ in range(5))]:
        conversation = db.execute("insert into chat.conversations (user_id, message_count) values (%s, 2000)"
                                  " returning id", [user]).fetchone()[0]
        db.execute("insert into chat.messages (conversation_id, user_id, seq, role, content)"
                   " select %s, %s, g, 'user', md5(g::text) || case when g %% 100 = 0 then ' needle' else '' end"
                   "   from generate_series(1, 2000) g", [conversation, user])
    # as autovacuum would: GIN keeps its statistics, which the planner's costs read, in its metapage
    db.execute("vacuum analyze chat.messages")


def test_search_reads_the_current_users_matches_only(db, user_a, haystacks):
    plans = function_plans(db, user_a, "select * from chat.search_messages('needle', 50)", [])
    scans = [n for p in plans for n in nodes(p) if n.get("Relation Name") == "messages" or "Index Name" in n]
    assert not any(n["Node Type"] == "Seq Scan" for n in scans), scans
    # the word lookup: keyed by (user_id, words), the index yields user_a's 20 matches, not the others' 100
    (lookup,) = [n for n in scans if n.get("Index Name") == "messages_search_idx"]
    assert lookup["Node Type"] == "Bitmap Index Scan"
    assert "user_id" in lookup["Index Cond"] and "to_tsvector" in lookup["Index Cond"]
    assert lookup["Actual Rows"] == 20
    heap = next(n for n in scans if n["Node Type"] == "Bitmap Heap Scan")
    assert heap["Actual Rows"] == 20 and heap.get("Rows Removed by Filter", 0) == 0
    # then the 20 rows themselves, by primary key, as the runtime role under the policies
    fetch = [n for n in scans if n.get("Index Name") == "messages_pkey"]
    assert fetch and sum(n["Actual Rows"] * n.get("Actual Loops", 1) for n in fetch) == 20


def test_a_chat_turn_reads_its_history_by_the_index_and_no_more(db, user_a, big_conversation):
    """begin_turn stores the message, claims the turn by its key, and reads the last 50 messages of the model's view
    (fetch_context) by the index: the cut found by one probe of the running total's index, then the messages by their
    range; the 9,950 others are not read. (The six conversations of the data set fit one page, which the planner rightly
    scans.)"""
    for budget in (None, 100_000):
        plans = function_plans(db, user_a, "select * from chat.begin_turn(%s, 'the next one', %s, 50, '1 minute',"
                               " null, %s)", [big_conversation, f"k-{budget}", budget])
        message_scans = [n for p in plans for n in nodes(p) if n.get("Relation Name") == "messages"]
        # (a node never run does not count: without a budget, the probe's cut is planned but never looked for)
        assert message_scans and not any(n["Node Type"] == "Seq Scan" and n.get("Actual Loops") != 0
                                         for n in message_scans), message_scans
        # (the range read again may be a bitmap scan: its index node names no relation)
        history = [n for p in plans for n in nodes(p) if n.get("Index Name") == "messages_conversation_seq_key"]
        walk = [n for n in history if n.get("Scan Direction") == "Backward"]
        # (the turn's key checks its message by another forward scan, of that one row)
        kept = [n for n in history if n.get("Scan Direction") != "Backward" and ">=" in n.get("Index Cond", "")]
        # the 50, and the probe of the first of them (the first message taken that is not a tool's output)
        assert max(n["Actual Rows"] for n in kept) == 50 and sum(n["Actual Rows"] for n in kept) <= 51, kept
        # with a budget or without, the range is found by the probe (the running total's index): no walk back
        assert sum(n["Actual Rows"] for n in walk) == 0, walk
        assert all(n.get("Rows Removed by Filter", 0) == 0 for n in history)
        assert sum(total_buffers(n) for n in history) <= 200
    # the turn: looked up by its key, then inserted
    turn_reads = [n for p in plans for n in nodes(p) if n.get("Relation Name") == "turns" and "Scan" in n["Node Type"]]
    assert [(n["Node Type"], n["Index Name"]) for n in turn_reads] == [("Index Scan", "turns_pkey")]


# isolation at no cost: under the policies the reads are planned as without them

READS = {
    "fetch_recent": ("select * from chat.fetch_recent(%s, 50)", "messages", 50),
    "fetch_messages": ("select * from chat.fetch_messages(%s, 5000, 100)", "messages", 100),
    "list_conversations": ("select * from chat.list_conversations(20)", "conversations", 1),
}


def conditions(node: dict) -> str:
    return " ".join(str(node.get(key, "")) for key in ("Index Cond", "Filter", "Recheck Cond", "One-Time Filter"))


@pytest.mark.parametrize("read", READS)
def test_row_security_adds_no_call_and_no_gating_node_to_the_reads(db, user_a, big_conversation, read):
    """As the runtime role: the user is compared with the setting itself, once, in the scan's own condition
    (an index condition where the index serves), as the policy and the function's filter are the same inlined
    expression; no call of current_user_id per row or per statement, no sub-plan or one-time filter to compute
    or gate on it."""
    sql, table, rows = READS[read]
    plans = function_plans(db, user_a, sql, [big_conversation] if "%s" in sql else [])
    every = [n for p in plans for n in nodes(p)]
    assert not any("current_user_id" in conditions(n) or "current_user_id" in str(n.get("Output", ""))
                   for n in every), every
    assert not any(n.get("Subplan Name") and n["Node Type"] == "Result" for n in every), every
    assert not any("One-Time Filter" in n for n in every), every
    (scan,) = [n for n in every if n.get("Relation Name") == table and n.get("Actual Rows") == rows]
    assert conditions(scan).count("current_setting('app.user_id'") == 1, scan
    if table == "messages":
        assert "current_setting" in scan["Index Cond"] and "Filter" not in scan, scan


# checks that cost what they check: nothing in a check is left as a call of a function the planner did not inline

def test_no_check_of_a_table_or_domain_calls_a_function(db):
    """Every check of the schema's tables and domains, planned as PostgreSQL plans it for a row: the functions it
    asks (the validators, the depth among them) are inlined into it, so no call of them is left; a function with a setting of its
    own, or one that calls a function that is not immutable, would stay a call per row."""
    checks = db.execute("""
        select coalesce(c.conrelid::regclass::text, c.contypid::regtype::text), c.conname,
               pg_catalog.pg_get_expr(c.conbin, c.conrelid), c.contypid <> 0,
               pg_catalog.format_type(t.typbasetype, null)
          from pg_catalog.pg_constraint c
          left join pg_catalog.pg_type t on t.oid = c.contypid
         where c.contype = 'c' and c.connamespace = 'chat'::regnamespace""").fetchall()
    assert sum(1 for *_, of_domain, _ in checks if of_domain) == 10, checks
    for owner, name, expression, of_domain, base in checks:
        if of_domain:
            # a domain's check of VALUE, asked of a value that depends on the row, so that it is not folded
            sql = (f"select {expression.replace('VALUE', 'v.value')} from (values (null::{base}),"
                   f" (null::{base})) as v (value)")
        else:
            sql = f"select {expression} from {owner}"
        plan = "\n".join(line for (line,) in db.execute("explain (verbose, costs off) " + sql).fetchall())
        assert not re.search(r"\bchat(_private)?\.\w+\(", plan), (owner, name, plan)


def test_append_messages_reads_back_only_the_rows_it_returns(db, user_a, big_conversation):
    """A batch with keys, in a conversation of 10,000 messages, with the plans every call gets once they are
    generic: each element's row is found by its key and the one before it by its seq, one probe each, and the other
    10,000 are not read."""
    db.execute("set plan_cache_mode = force_generic_plan")
    messages = json.dumps([{"role": "user", "content": "one", "client_msg_id": "k-1"},
                           {"role": "assistant", "content": "two"}])
    plans = function_plans(db, user_a, "select * from chat.append_messages(%s, %s)", [big_conversation, messages])
    scans = [n for p in plans for n in nodes(p) if n.get("Relation Name") == "messages" and "Scan" in n["Node Type"]]
    assert scans and not any(n["Node Type"] == "Seq Scan" for n in scans), scans
    assert max(n["Actual Rows"] for n in scans) <= 1, scans
    # each element's key, and the message before it (its running total, read by the trigger messages_tokens_before)
    assert sum(n["Actual Rows"] * n.get("Actual Loops", 1) for n in scans) == 4, scans


def test_gathered_reads_of_the_live_updates_log_read_each_users_newest_events_by_the_index(db, make_user, user_a):
    """chat.read_events reads, for each user, the events after the stream's position as a range of the log's
    primary key, however long the user's log and the others'."""
    others = [make_user() for _ in range(3)]
    for user in (user_a, *others):
        db.execute("insert into chat.events (user_id, kind) values (%s, 'stream_opened')", [user])
        db.execute("insert into chat_private.event_streams (user_id, open_until, since_id)"
                   " select %s, now() + interval '1 minute', max(id) from chat.events where user_id = %s", [user, user])
        db.execute("insert into chat.events (user_id, kind, conversation_id, seq)"
                   " select %s, 'message', gen_random_uuid(), g from generate_series(1, 5000) g", [user])
    db.execute("analyze chat.events")
    [(position,)] = db.execute("select max(id) - 10 from chat.events where user_id = %s", [user_a]).fetchall()

    plans = function_plans(db, None, "select * from chat.read_events(array[%s]::uuid[], array[%s]::bigint[])",
                           [user_a, position])
    reads = [p for p in plans if any(n.get("Relation Name") == "events" for n in nodes(p))]
    assert len(reads) == 1, plans  # events found: no second look
    (scan,) = [n for n in nodes(reads[0]) if n.get("Relation Name") == "events"]
    assert (scan["Node Type"], scan["Index Name"], scan["Actual Rows"]) == ("Index Scan", "events_pkey", 10), scan
    assert "id >" in scan["Index Cond"] and scan.get("Rows Removed by Filter", 0) == 0
    assert total_buffers(scan) <= 10
