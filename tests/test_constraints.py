"""Limits of the data, held by the functions (clear errors) and by the tables
themselves (constraints that nothing can get around), as the runtime role.
"""

from __future__ import annotations


import psycopg
import pytest
from psycopg.types.json import Jsonb

from app.models import MAX_MESSAGE_METADATA, MAX_TASK_DESCRIPTION, MAX_TASK_TITLE
from app.settings import MAX_TURN_LEASE
from as_user import acting_as, append_message, call
from sizes import padded


def stored_count(db, conversation):
    return db.execute("select count(*) from chat.messages where conversation_id = %s", [conversation]).fetchone()[0]


# content: at most 10,000 characters, counted as characters

@pytest.mark.parametrize("char", ["a", "é", "€", "😀", "e\u0301"[1]],
                         ids=["1-byte", "2-byte", "3-byte", "4-byte", "combining"])
def test_content_of_10000_characters_is_accepted_whatever_their_width(app_conn, user_a, conversation, char):
    content = char * 10000
    seq, stored, _ = append_message(app_conn, user_a, conversation, content=content,
                                    returning="seq, content, metadata")
    assert stored == content and len(stored) == 10000


@pytest.mark.parametrize("char", ["a", "😀"], ids=["1-byte", "4-byte"])
def test_content_of_10001_characters_is_refused_clearly(app_conn, user_a, conversation, db, char):
    with pytest.raises(psycopg.errors.StringDataRightTruncation) as raised:
        append_message(app_conn, user_a, conversation, content=char * 10001)
    assert raised.value.diag.column_name == "content"
    assert "longer than 10000 characters" in raised.value.diag.message_primary
    assert stored_count(db, conversation) == 0
    assert db.execute("select message_count from chat.conversations where id = %s", [conversation]).fetchone()[0] == 0


def test_empty_content_is_a_message(app_conn, user_a, conversation):
    assert append_message(app_conn, user_a, conversation, content="", returning="seq, content, metadata")[1] == ""


def test_null_content_is_refused(app_conn, user_a, conversation):
    with pytest.raises(psycopg.errors.NullValueNotAllowed) as raised:
        call(app_conn, user_a, "select chat.append_message(%s, 'user', null)", [conversation])
    assert raised.value.diag.column_name == "content"


@pytest.mark.parametrize("role", ["User", "admin", "", " user", None])
def test_unknown_role_is_refused(app_conn, user_a, conversation, db, role):
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        append_message(app_conn, user_a, conversation, role=role, content="x")
    assert raised.value.diag.column_name == "role"
    assert stored_count(db, conversation) == 0


# The columns hold the same limits when the functions are bypassed: their types are domains that check them.

@pytest.mark.parametrize("column, value, constraint", [
    ("content", "x" * 10001, "messages_content_length"),
    ("role", "admin", "messages_role_known"),
    ("metadata", Jsonb([1, 2]), "messages_metadata_valid"),
    ("metadata", Jsonb({"k": "x" * 1024 * 1024}), "messages_metadata_valid"),
    ("client_msg_id", "k" * 201, "client_msg_id_length"),
    ("client_msg_id", "", "client_msg_id_length"),
])
def test_message_constraints_hold_without_the_function(db, user_a, conversation, column, value, constraint):
    row = {"conversation_id": conversation, "user_id": user_a, "seq": 1, "role": "user", "content": "x",
           "metadata": Jsonb({}), "client_msg_id": None, column: value}
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        db.execute(f"insert into chat.messages ({', '.join(row)}) values ({', '.join(['%s'] * len(row))})",
                   list(row.values()))
    assert raised.value.diag.constraint_name == constraint


@pytest.mark.parametrize("title, constraint", [
    ("t" * 201, "conversations_title_length"),
])
def test_conversation_constraints_hold_without_the_function(db, user_a, title, constraint):
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        db.execute("insert into chat.conversations (user_id, title) values (%s, %s)", [user_a, title])
    assert raised.value.diag.constraint_name == constraint


# titles and metadata

def test_title_of_200_characters_is_accepted_and_201_refused(app_conn, user_a):
    title = "ü" * 200
    assert call(app_conn, user_a, "select title from chat.create_conversation(%s)", [title]) == [(title,)]
    with pytest.raises(psycopg.errors.StringDataRightTruncation) as raised:
        call(app_conn, user_a, "select chat.create_conversation(%s)", [title + "ü"])
    assert raised.value.diag.column_name == "title"


def test_rename_to_201_characters_is_refused_and_keeps_the_title(app_conn, user_a):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('kept')")[0][0]
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        call(app_conn, user_a, "select chat.rename_conversation(%s, %s)", [conversation, "t" * 201])
    assert call(app_conn, user_a, "select title from chat.get_conversation(%s)", [conversation]) == [("kept",)]


@pytest.mark.parametrize("sql, limit", [
    ("select chat.create_conversation(null, %s)", 16384),
    ("select chat.append_message(%s, 'user', 'x', %s)", MAX_MESSAGE_METADATA),
])
def test_metadata_size_limit_is_exact(app_conn, user_a, conversation, sql, limit):
    params = (lambda m: [Jsonb(m)]) if "create" in sql else (lambda m: [conversation, Jsonb(m)])
    call(app_conn, user_a, sql, params(padded(limit)))
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        call(app_conn, user_a, sql, params(padded(limit + 1)))
    assert raised.value.diag.column_name == "metadata"


@pytest.mark.parametrize("metadata", [[], [1], "text", 1, True, None], ids=repr)
def test_metadata_must_be_an_object(app_conn, user_a, conversation, db, metadata):
    if metadata is None:
        # SQL NULL means "no metadata": stored as {}
        assert call(app_conn, user_a, "select metadata from chat.append_message(%s, 'user', 'x', null)",
                    [conversation]) == [({},)]
        return
    with pytest.raises(psycopg.errors.InvalidParameterValue) as raised:
        call(app_conn, user_a, "select chat.append_message(%s, 'user', 'x', %s)", [conversation, Jsonb(metadata)])
    assert raised.value.diag.column_name == "metadata"
    assert stored_count(db, conversation) == 0


def test_client_msg_id_length(app_conn, user_a, conversation):
    append_message(app_conn, user_a, conversation, client_msg_id="k" * 200)
    for bad in ("k" * 201, ""):
        with pytest.raises(psycopg.errors.StringDataRightTruncation) as raised:
            append_message(app_conn, user_a, conversation, client_msg_id=bad)
        assert raised.value.diag.column_name == "client_msg_id"


# text round-trips byte-exact

AWKWARD_TEXTS = [
    "plain ascii",
    "tab\tnewline\ncarriage\r\nreturn",
    "quotes ' \" ` and backslashes \\ \\\\ \\n",
    "combining: e\u0301 a\u0308\u0301 and precomposed: é",
    "right-to-left: \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u202etxt.exe",
    "emoji: 😀 👩‍👩‍👧‍👦 🏳️‍🌈 \U0001f9d1\U0001f3fd",
    "zero width: a\u200bb\u200dc\ufeffd",
    "line separators: \u2028 \u2029 \x85",
    "control chars: \x01\x02\x1b[31m\x7f",
    "sql-ish: '); drop table chat.messages; --",
    "json-ish: {\"role\": \"system\"} \\u0000",
    "   leading and trailing spaces   ",
    "CJK 漢字 かな 한글, math 𝔸𝕓𝕔, private use \ue000, noncharacter \ufdd0",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_text_round_trips_byte_exact(app_conn, user_a, conversation, text):
    metadata = {"echo": text, text: [text]}
    call(app_conn, user_a, "select chat.append_message(%s, 'user', %s, %s, %s)",
         [conversation, text, Jsonb(metadata), text[:200]])
    content, meta, key = call(app_conn, user_a, "select content, metadata, client_msg_id from chat.fetch_recent(%s, 1)",
                              [conversation])[0]
    assert content.encode("utf-8") == text.encode("utf-8")
    assert meta == metadata
    assert key == text[:200]


def test_nul_in_content_is_refused_before_anything_is_stored(app_conn, user_a, conversation, db):
    with pytest.raises(psycopg.DataError):
        append_message(app_conn, user_a, conversation, content="before\x00after")
    assert stored_count(db, conversation) == 0


def test_nul_escape_in_metadata_is_refused_by_the_database(app_conn, user_a, conversation, db):
    with pytest.raises(psycopg.errors.UntranslatableCharacter) as raised:
        with acting_as(app_conn, user_a):
            app_conn.execute("select chat.append_message(%s, 'user', 'x', %s::jsonb)",
                             [conversation, '{"k": "a\\u0000b"}'])
    assert raised.value.sqlstate.startswith("22")
    assert stored_count(db, conversation) == 0


# the Python mirrors of the tasks' limits and of a turn's longest lease: exactly what the schema takes

@pytest.mark.parametrize(("column", "limit"), [("title", MAX_TASK_TITLE), ("description", MAX_TASK_DESCRIPTION)])
def test_the_task_limits_are_the_schemas(app_conn, db, user_a, column, limit):
    insert = f"insert into chat.tasks (title, {column}) values ('t', %s)" if column != "title" else \
        "insert into chat.tasks (title) values (%s)"
    call(app_conn, user_a, insert, ["😀" * limit])
    with pytest.raises(psycopg.errors.CheckViolation):
        call(app_conn, user_a, insert, ["😀" * (limit + 1)])
    assert db.execute(f"select max(char_length({column})) from chat.tasks").fetchone() == (limit,)


def test_the_longest_turn_lease_is_the_schemas(app_conn, user_a, conversation):
    seconds = f"{MAX_TURN_LEASE:.0f} seconds"
    assert call(app_conn, user_a, "select state from chat.begin_turn(%s, 'x', null, 1, %s)",
                [conversation, seconds]) == [("run",), ("run",)]
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        call(app_conn, user_a, "select chat.begin_turn(%s, 'x', null, 1, %s::interval + interval '1 second')",
             [conversation, seconds])
