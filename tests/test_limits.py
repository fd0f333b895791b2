"""Each limit is defined once, in the schema: a function (db/deploy/limits.sql,
db/deploy/argument_limits.sql) says what is wrong with a value, and the
columns' domains and the functions' argument checks ask it. The Python layer
mirrors the limits to refuse bad input early; these tests hold the mirror to
the schema's definition, at the line itself, as the runtime role. And a
missing conversation's error is written once too
(chat_private.raise_conversation_not_found). The validators are helpers, in
schema chat_private, not the API.
"""

from __future__ import annotations

from typing import Annotated, get_args

import re
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb
from pydantic import Field, TypeAdapter, ValidationError

from app.agent_session import MAX_BATCH, PAGE
from app.chat import HISTORY
from app.models import (
    MAX_CLIENT_MSG_ID, MAX_CONTENT, MAX_CONVERSATION_METADATA, MAX_LIMIT, MAX_MESSAGE_METADATA, MAX_QUERY, MAX_TOKENS,
    MAX_TASK_DESCRIPTION, MAX_TASK_TITLE, MAX_TITLE, ClientMsgId, Content, ConversationMetadata, MessageMetadata,
    Role, TaskDescription, TaskTitle, Title, Tokens,
)
from as_user import call
from sizes import padded


def python_accepts(annotated, value) -> bool:
    try:
        TypeAdapter(annotated).validate_python(value)
    except ValidationError:
        return False
    return True


# (the Python type, the schema's function, the Python limit, the smallest size allowed)
TEXT_LIMITS = [
    (Content, "content_problem", MAX_CONTENT, 0),
    (Title, "title_problem", MAX_TITLE, 0),
    (ClientMsgId, "client_msg_id_problem", MAX_CLIENT_MSG_ID, 1),
    (TaskTitle, "task_title_problem", MAX_TASK_TITLE, 1),
    (TaskDescription, "task_description_problem", MAX_TASK_DESCRIPTION, 0),
]


@pytest.mark.parametrize(("annotated", "function", "limit", "smallest"), TEXT_LIMITS,
                         ids=[row[1] for row in TEXT_LIMITS])
def test_python_and_the_schema_draw_each_text_limit_at_the_same_place(app_conn, user_a, annotated, function,
                                                                       limit, smallest):
    # characters, not bytes: a 4-byte character counts as one on both sides
    for size in sorted({0, smallest, limit - 1, limit, limit + 1}):
        value = "😀" * size
        schema_problem = call(app_conn, user_a, f"select chat_private.{function}(%s)", [value])[0][0]
        assert python_accepts(annotated, value) == (schema_problem is None), (function, size, schema_problem)
    assert call(app_conn, user_a, f"select chat_private.{function}(%s) is null", ["😀" * limit]) == [(True,)]
    assert call(app_conn, user_a, f"select chat_private.{function}(%s) is null", ["😀" * (limit + 1)]) == [(False,)]


METADATA_LIMITS = [
    (ConversationMetadata, "conversation_metadata_problem", MAX_CONVERSATION_METADATA),
    (MessageMetadata, "message_metadata_problem", MAX_MESSAGE_METADATA),
]


@pytest.mark.parametrize(("annotated", "function", "limit"), METADATA_LIMITS, ids=[row[1] for row in METADATA_LIMITS])
def test_python_and_the_schema_draw_each_metadata_limit_at_the_same_place(app_conn, user_a, annotated, function,
                                                                           limit):
    for size in (limit - 1, limit, limit + 1):
        value = padded(size)
        schema_problem = call(app_conn, user_a, f"select chat_private.{function}(%s)", [Jsonb(value)])[0][0]
        assert python_accepts(annotated, value) == (schema_problem is None), (function, size, schema_problem)
    assert call(app_conn, user_a, f"select chat_private.{function}(%s)", [Jsonb(padded(limit))]) == [(None,)]
    for not_an_object in ([], "text", 1):
        assert call(app_conn, user_a, f"select chat_private.{function}(%s) is not null", [Jsonb(not_an_object)]) == [(True,)]


def test_python_and_the_schema_draw_the_token_count_at_the_same_place(app_conn, user_a):
    for value in (-1, 0, 1, MAX_TOKENS - 1, MAX_TOKENS, MAX_TOKENS + 1):
        schema_problem = call(app_conn, user_a, "select chat_private.tokens_problem(%s)", [value])[0][0]
        assert python_accepts(Tokens, value) == (schema_problem is None), (value, schema_problem)
    assert call(app_conn, user_a, "select chat_private.tokens_problem(%s)", [MAX_TOKENS]) == [(None,)]


def test_python_and_the_schema_know_the_same_roles(app_conn, user_a):
    roles = get_args(Role)
    assert set(roles) == {"system", "user", "assistant", "tool"}
    for role in roles:
        assert call(app_conn, user_a, "select chat_private.role_problem(%s)", [role]) == [(None,)]
    for other in ("User", "admin", "", " user"):
        assert not python_accepts(Role, other)
        assert call(app_conn, user_a, "select chat_private.role_problem(%s) is not null", [other]) == [(True,)]


# The limits of the other arguments (db/deploy/argument_limits.sql), and the Python layer's numbers that
# mirror them: the session's page and batch, the search's query length; the HTTP API's limit and the chat
# turn's history are the service's own, within what the schema takes.

def max_count_problem(conn, user, value):
    return call(conn, user, "select chat_private.max_count_problem(%s)", [value])[0][0]


def test_the_sessions_page_is_the_most_rows_the_schema_reads_at_once(app_conn, user_a):
    assert max_count_problem(app_conn, user_a, PAGE) is None
    assert max_count_problem(app_conn, user_a, PAGE + 1) is not None
    for refused in (0, -1, None):
        assert max_count_problem(app_conn, user_a, refused) is not None, refused
    assert max_count_problem(app_conn, user_a, 1) is None


@pytest.mark.parametrize("count", [MAX_LIMIT, HISTORY], ids=["http_limit", "chat_history"])
def test_the_services_own_counts_are_within_the_schemas(app_conn, user_a, count):
    assert 1 <= count <= PAGE
    assert max_count_problem(app_conn, user_a, count) is None


def test_python_and_the_schema_draw_the_search_query_limit_at_the_same_place(app_conn, user_a):
    query_type = Annotated[str, Field(min_length=1, max_length=MAX_QUERY)]  # as the route takes q
    for size in (1, MAX_QUERY - 1, MAX_QUERY, MAX_QUERY + 1):
        value = "😀" * size
        schema_problem = call(app_conn, user_a, "select chat_private.search_query_problem(%s)", [value])[0][0]
        assert python_accepts(query_type, value) == (schema_problem is None), (size, schema_problem)
    assert call(app_conn, user_a, "select chat_private.search_query_problem(%s) is null", ["😀" * MAX_QUERY]) == [(True,)]


def test_the_sessions_batch_is_the_most_messages_the_schema_appends_at_once(app_conn, user_a):
    def problem(value):
        return call(app_conn, user_a, "select chat_private.message_batch_problem(%s)", [Jsonb(value)])[0][0]

    assert problem([{}] * MAX_BATCH) is None
    assert problem([{}] * (MAX_BATCH + 1)) == f"must hold 1 to 1000 messages, not {MAX_BATCH + 1}"
    assert problem([{}]) is None
    assert problem([]) == "must hold 1 to 1000 messages, not 0"
    assert problem({}) == "must be a JSON array, not object"
    assert problem("[]") == "must be a JSON array, not string"
    assert call(app_conn, user_a, "select chat_private.message_batch_problem(null)") == [("must be a JSON array, not NULL",)]


# The columns' domains and the argument checks ask those functions: no limit is written out twice.

# (table, column): the checks of the column's domain, by name
CHECKS = {
    ("messages", "role"): {"messages_role_known": "(VALUE IS NULL) OR (chat_private.role_problem(VALUE) IS NULL)"},
    ("messages", "content"): {"messages_content_length": "chat_private.content_problem(VALUE) IS NULL"},
    ("messages", "client_msg_id"): {"client_msg_id_length": "chat_private.client_msg_id_problem(VALUE) IS NULL"},
    ("messages", "metadata"): {"messages_metadata_valid": "chat_private.message_metadata_problem(VALUE) IS NULL"},
    ("conversations", "title"): {"conversations_title_length": "chat_private.title_problem(VALUE) IS NULL"},
    ("conversations", "metadata"): {
        "conversations_metadata_valid": "chat_private.conversation_metadata_problem(VALUE) IS NULL"},
    ("turns", "opening_key"): {"client_msg_id_length": "chat_private.client_msg_id_problem(VALUE) IS NULL"},
    ("turns", "reply_key"): {"client_msg_id_length": "chat_private.client_msg_id_problem(VALUE) IS NULL"},
    ("tasks", "title"): {"tasks_title_length": "chat_private.task_title_problem(VALUE) IS NULL"},
    ("tasks", "description"): {"tasks_description_length": "chat_private.task_description_problem(VALUE) IS NULL"},
    ("messages", "tokens_given"): {"token_count_range": "chat_private.tokens_problem((VALUE)::bigint) IS NULL"},
    ("messages", "tokens"): {"token_count_range": "chat_private.tokens_problem((VALUE)::bigint) IS NULL"},
}


def test_every_limit_of_a_column_is_its_domain_asking_its_function(db):
    """A domain's checks are planned once per session and checked where a value is written; a table's are planned
    again by every statement that writes a row, and all checked on every update. So the limits are the columns'
    types, and the tables keep only the checks that relate a row's columns."""
    rows = db.execute("""
        select c.relname, a.attname, k.conname, pg_catalog.pg_get_constraintdef(k.oid)
          from pg_catalog.pg_class c
          join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          join pg_catalog.pg_constraint k on k.contypid = a.atttypid and k.contype = 'c'
         where c.oid in ('chat.messages'::regclass, 'chat.conversations'::regclass,
                         'chat.turns'::regclass, 'chat.tasks'::regclass)
    """).fetchall()
    found: dict[tuple[str, str], dict[str, str]] = {}
    for table, column, name, definition in rows:
        found.setdefault((table, column), {})[name] = definition
    assert found == {key: {name: f"CHECK (({asks}))" for name, asks in checks.items()}
                     for key, checks in CHECKS.items()}
    table_checks = db.execute("""
        select c.conrelid::regclass::text, pg_catalog.pg_get_constraintdef(c.oid)
          from pg_catalog.pg_constraint c
         where c.contype = 'c' and c.conrelid in ('chat.messages'::regclass, 'chat.conversations'::regclass,
                                                  'chat.turns'::regclass, 'chat.tasks'::regclass)""").fetchall()
    for table, definition in table_checks:
        assert not re.search(r"_problem|too_deep|char_length|octet_length|'assistant'", definition), (table, definition)


def test_every_limit_function_is_inlined_where_it_is_asked(db):
    """A function the planner cannot inline is called for every value checked: a SQL-standard body with no
    setting of its own, and nothing in it but immutable functions and operators (|| of a number is anytextcat,
    a stable function). EXPLAIN VERBOSE shows what is left of each call once planned."""
    functions = db.execute("""
        select p.oid::regprocedure::text, pg_catalog.format_type(p.proargtypes[0], null)
          from pg_catalog.pg_proc p
         where p.pronamespace = 'chat_private'::regnamespace and p.proname like '%\\_problem'""").fetchall()
    assert len(functions) == 13, functions
    # an argument that depends on the row, so that the call is not folded into a constant while planning
    arguments = {"text": "g::text", "jsonb": "pg_catalog.to_jsonb(g)", "integer": "g", "bigint": "g::bigint"}
    for function, argument in functions:
        plan = "\n".join(line for (line,) in db.execute(
            f"explain (verbose, costs off) select {function.split('(')[0]}({arguments[argument]})"
            " from pg_catalog.generate_series(1, 2) g").fetchall())
        assert "chat_private." not in plan, (function, plan)


@pytest.mark.parametrize(("function", "asks", "literal"), [
    ("chat_private.check_message(text, text, jsonb, text, text)", "chat_private.content_problem(", "10000"),
    ("chat_private.check_message(text, text, jsonb, text, text)", "chat_private.role_problem(", "'assistant'"),
    ("chat.create_conversation(text, jsonb)", "chat_private.conversation_metadata_problem(", "16384"),
    ("chat.create_conversation(text, jsonb)", "chat_private.title_problem(", "char_length"),
    ("chat.rename_conversation(uuid, text)", "chat_private.title_problem(", "char_length"),
    ("chat.fetch_messages(uuid, bigint, integer)", "chat_private.max_count_problem(", "1000"),
    ("chat.fetch_recent(uuid, integer)", "chat_private.max_count_problem(", "1000"),
    ("chat.list_conversations(integer, timestamptz, uuid)", "chat_private.max_count_problem(", "1000"),
    ("chat.search_messages(text, integer)", "chat_private.max_count_problem(", "1000"),
    ("chat.search_messages(text, integer)", "chat_private.search_query_problem(", "char_length"),
    ("chat.begin_turn(uuid, text, text, integer, interval, integer, integer, bigint, bigint)", "chat_private.max_count_problem(", "1000"),
    ("chat.fetch_context(uuid, integer, integer, bigint)", "chat_private.max_count_problem(", "1000"),
    ("chat.fetch_context(uuid, integer, integer, bigint)", "chat_private.tokens_problem(", "2147483647"),
    ("chat_private.check_message_element(jsonb, text)", "chat_private.tokens_problem(", "2147483647"),
    ("chat.append_messages(uuid, jsonb)", "chat_private.message_batch_problem(", "jsonb_array_length"),
    ("chat.compact_messages(uuid, bigint, jsonb, uuid)", "chat_private.message_batch_problem(", "jsonb_array_length"),
])
def test_argument_checks_ask_the_same_functions(db, function, asks, literal):
    source = db.execute("select prosrc from pg_catalog.pg_proc where oid = %s::regprocedure", [function]).fetchone()[0]
    assert asks in source and literal not in source


def function_sources(db) -> dict[str, str]:
    """Each function's body: its source, or for a SQL-standard body its definition as PostgreSQL prints it."""
    return dict(db.execute("""
        select p.oid::regprocedure::text,
               case when p.prosqlbody is null then p.prosrc else pg_catalog.pg_get_functiondef(p.oid) end
          from pg_catalog.pg_proc p
         where p.pronamespace in ('chat'::regnamespace, 'chat_private'::regnamespace)""").fetchall())


def test_no_function_but_a_limits_own_writes_a_thousand_out(db):
    """1..1000 (max_count, the batch) and 1000 characters (a search) are each written in one function."""
    sources = function_sources(db)
    holding = {name for name, source in sources.items() if re.search(r"(?<![\d.])1000(?![\d.])", source)}
    assert holding == {"chat_private.max_count_problem(integer)", "chat_private.search_query_problem(text)",
                       "chat_private.message_batch_problem(jsonb)"}


# The functions that find no conversation of the current user: each raises the one not-found error.
NOT_FOUND_RAISERS = {
    "chat.append_message(uuid,text,text,jsonb,text,integer)", "chat.append_messages(uuid,jsonb)",
    "chat.clear_conversation(uuid)", "chat.compact_messages(uuid,bigint,jsonb,uuid)",
    "chat_private.fetch_context_walk(uuid,integer,integer,bigint)", "chat.fetch_messages(uuid,bigint,integer)",
    "chat.fetch_recent(uuid,integer)",
    "chat.pop_message(uuid)", "chat.rename_conversation(uuid,text)",
    "chat.edit_message(uuid,bigint,text,jsonb,text)", "chat.switch_branch(uuid,bigint)",
    "chat.fetch_siblings(uuid,bigint)", "chat.fetch_log(uuid,bigint,integer)",
    "chat.begin_turn(uuid,text,text,integer,interval,integer,integer,bigint,bigint)",
}


def test_the_not_found_error_is_written_once(db):
    sources = function_sources(db)
    assert {name for name, source in sources.items() if "chat_private.raise_conversation_not_found(" in source} == \
        NOT_FOUND_RAISERS
    # P0002 is raised by the one function, and by lock_turn for a turn (its own words)
    assert {name for name, source in sources.items() if "P0002" in source} == {
        "chat_private.raise_conversation_not_found(uuid)", "chat_private.lock_turn(uuid,bigint)"}
    assert {name for name, source in sources.items() if re.search(r"not found.*\n.*P0002", source)} == {
        "chat_private.raise_conversation_not_found(uuid)", "chat_private.lock_turn(uuid,bigint)"}
    assert "'turn % of conversation % not found'" in sources["chat_private.lock_turn(uuid,bigint)"]
    # volatile: an immutable one would be folded while planning, and raise in a branch never taken
    assert db.execute("select provolatile from pg_proc where oid = 'chat_private.raise_conversation_not_found(uuid)'::regprocedure"
                      ).fetchone() == ("v",)


def test_every_missing_conversation_is_the_same_error_as_before(app_conn, user_a, user_b):
    """P0002, 'conversation <id> not found', no field named: from each function, for a conversation that is
    missing and for someone else's, with the words the Python layer and the clients have always had."""
    others = call(app_conn, user_b, "select id from chat.create_conversation()")[0][0]
    calls = [
        "select chat.append_message(%s, 'user', 'x')",
        "select chat.append_message(%s, 'user', 'x', '{}', 'k-1')",  # its lookup of the key, under the lock
        "select chat.append_messages(%s, '[{\"role\": \"user\", \"content\": \"x\"}]')",
        "select chat.clear_conversation(%s)",
        "select chat.fetch_messages(%s)",
        "select chat.fetch_recent(%s)",
        "select chat.pop_message(%s)",
        "select chat.rename_conversation(%s, 'x')",
        "select chat.begin_turn(%s, 'x')",
        "select chat.fetch_context(%s, 8000)",
        "select chat.compact_messages(%s, 1, '[{\"role\": \"user\", \"content\": \"x\"}]')",
    ]
    for target in (uuid.uuid4(), others):
        for sql in calls:
            with pytest.raises(psycopg.errors.NoDataFound) as raised:
                call(app_conn, user_a, sql, [target])
            diag = raised.value.diag
            assert (raised.value.sqlstate, diag.message_primary, diag.column_name) == (
                "P0002", f"conversation {target} not found", None), sql


# And the errors are what they were: the field named, the value refused, nothing stored.

def test_the_errors_still_name_the_field(app_conn, user_a):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation()")[0][0]
    for sql, params, sqlstate, column in [
        ("select chat.create_conversation(%s)", ["t" * 201], "22001", "title"),
        ("select chat.create_conversation(null, %s)", [Jsonb(padded(MAX_CONVERSATION_METADATA + 1))], "22023",
         "metadata"),
        ("select chat.create_conversation(null, %s)", [Jsonb([1])], "22023", "metadata"),
        ("select chat.rename_conversation(%s, %s)", [conversation, "t" * 201], "22001", "title"),
        ("select chat.append_message(%s, 'admin', 'x')", [conversation], "22023", "role"),
        ("select chat.append_message(%s, 'user', %s)", [conversation, "x" * 10001], "22001", "content"),
        ("select chat.append_message(%s, 'user', 'x', '{}', '')", [conversation], "22001", "client_msg_id"),
        ("select chat.fetch_messages(%s, 0, 0)", [conversation], "22023", "max_count"),
        ("select chat.fetch_recent(%s, 1001)", [conversation], "22023", "max_count"),
        ("select chat.list_conversations(null)", [], "22023", "max_count"),
        ("select chat.search_messages('x', 0)", [], "22023", "max_count"),
        ("select chat.search_messages(%s)", ["x" * 1001], "22001", "query"),
        ("select chat.begin_turn(%s, 'x', null, 1001)", [conversation], "22023", "max_count"),
        ("select chat.append_messages(%s, '[]')", [conversation], "22023", "messages"),
        ("select chat.append_messages(%s, '{}')", [conversation], "22023", "messages"),
    ]:
        with pytest.raises(psycopg.Error) as raised:
            call(app_conn, user_a, sql, params)
        assert (raised.value.sqlstate, raised.value.diag.column_name) == (sqlstate, column), sql
        assert raised.value.diag.message_primary.startswith(column + " "), raised.value.diag.message_primary
    assert call(app_conn, user_a, "select message_count, title from chat.get_conversation(%s)",
                [conversation]) == [(0, None)]


def test_the_argument_errors_keep_their_words(app_conn, user_a):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation()")[0][0]
    for sql, params, message in [
        ("select chat.fetch_messages(%s, 0, 0)", [conversation], "max_count must be between 1 and 1000, not 0"),
        ("select chat.fetch_recent(%s, null)", [conversation], "max_count must be between 1 and 1000, not NULL"),
        ("select chat.list_conversations(1001)", [], "max_count must be between 1 and 1000, not 1001"),
        ("select chat.search_messages('x', -1)", [], "max_count must be between 1 and 1000, not -1"),
        ("select chat.begin_turn(%s, 'x', null, 0)", [conversation], "max_count must be between 1 and 1000, not 0"),
        ("select chat.search_messages(%s)", ["ü" * 1001], "query is longer than 1000 characters (1001 characters)"),
        ("select chat.append_messages(%s, '[]')", [conversation], "messages must hold 1 to 1000 messages, not 0"),
        ("select chat.append_messages(%s, %s)", [conversation, Jsonb([{"role": "user", "content": "x"}] * 1001)],
         "messages must hold 1 to 1000 messages, not 1001"),
        ("select chat.append_messages(%s, '\"x\"')", [conversation], "messages must be a JSON array, not string"),
        ("select chat.append_messages(%s, null)", [conversation], "messages must be a JSON array, not NULL"),
    ]:
        with pytest.raises(psycopg.Error) as raised:
            call(app_conn, user_a, sql, params)
        assert raised.value.diag.message_primary == message, sql
    assert call(app_conn, user_a, "select message_count from chat.get_conversation(%s)", [conversation]) == [(0,)]
