"""Hostile input, property-based: arbitrary Unicode (emoji, combining marks,
right-to-left, NUL, lone surrogates), sizes around every limit, deep and
large JSON, through the SQL functions (as the runtime role), the Python
layer and the HTTP service.

Every value is either stored and read back exactly, or refused with a clear
error (SQLSTATE class 22 or 23, or 54 for JSON nested past PostgreSQL's
parser; 422 naming the field over HTTP) — and a refusal changes nothing.
Hypothesis runs derandomized in CI (the same examples every run) and random
elsewhere; the examples tried are counted into the run's figures.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from app.database import create_pool
from app.identity import User
from app.models import MAX_CLIENT_MSG_ID, MAX_CONTENT, MAX_MESSAGE_METADATA, MAX_METADATA_DEPTH, MAX_TITLE
from app.store import ChatStore
from as_user import append_message, call
from stored_data import counts

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "150"))

fuzz = settings(max_examples=EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Text that has broken software before.
AWKWARD = [
    "", " ", "\t\r\n", "👩‍👩‍👧‍👦", "🇺🇦🏳️‍🌈", "e\u0301", "Z̷̢̛̛a̵l̶g̸o̴", "\u202eevil\u202c", "مرحبا بالعالم",
    "שלום", "\u200b\u200d\ufeff", "\U0010ffff", "\ufffe\uffff", "'; drop table chat.messages; --", "\\x00",
    "\x00", "a\x00b", "\ud800", "a\udfffb", "\x7f\x1b[31m",
]

# Any code point, surrogates included (Python strings can hold them; UTF-8 cannot).
ANY_CHARACTER = st.characters(exclude_categories=())
TEXT = st.one_of(st.text(ANY_CHARACTER, max_size=300), st.sampled_from(AWKWARD),
                 st.lists(st.sampled_from(AWKWARD), max_size=20).map("".join))


def sized(limit: int):
    """Text of one repeated code point of 1 to 4 UTF-8 bytes, its length around ``limit``."""
    return st.builds(lambda character, length: character * length,
                     st.sampled_from(["a", "é", "€", "𝄞"]), st.integers(limit - 3, limit + 3))


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
                    max_leaves=30)


def nested(depth: int) -> dict:
    """An object ``depth`` levels deep: {"k": {"k": … {} …}}."""
    value: dict = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def large(size: int) -> dict:
    """An object of about ``size`` bytes as JSON text."""
    return {"blob": "x" * max(0, size - 12)}


METADATA = st.one_of(
    st.dictionaries(TEXT, JSON, max_size=8),
    JSON,  # mostly not an object: refused
    st.sampled_from([10, MAX_METADATA_DEPTH, MAX_METADATA_DEPTH + 1, 1000, 5000, 30_000]).map(nested),
    st.integers(MAX_MESSAGE_METADATA - 8, MAX_MESSAGE_METADATA + 8).map(large),
    st.just({"nan": float("nan")}), st.just({"big": 10**400}), st.just({"tiny": 1e-300}),
)


def storable(text: str) -> bool:
    """PostgreSQL text holds any Unicode but NUL; lone surrogates are not Unicode."""
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def same_json(sent, stored) -> bool:
    """Equal as JSON values: jsonb keeps a number's decimal value, not its spelling (5.4e+16 comes back as
    54000000000000000, which Python reads as an int), so numbers compare as decimals."""
    def decimal_json(value):
        text = value if isinstance(value, str) else json.dumps(value)
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)

    return decimal_json(sent) == decimal_json(stored)


def refused_clearly(error: BaseException) -> bool:
    """A refusal a person understands: PostgreSQL's class 22/23 (or 54 for JSON too deep to parse), psycopg
    refusing text PostgreSQL cannot hold (NUL) before sending it, or text that is not Unicode at all."""
    if isinstance(error, psycopg.Error) and error.sqlstate:
        return error.sqlstate[:2] in ("22", "23") or error.sqlstate == "54001"
    return isinstance(error, psycopg.DataError | UnicodeEncodeError)


@pytest.fixture
def tried(record_property):
    """Counts the examples a property tried, into the run's figures."""
    counts = Counter()
    yield counts
    for outcome, count in sorted(counts.items()):
        record_property(outcome, count)


# the SQL functions, as the runtime role

# What append_message answers here.
STORED = "content, metadata, client_msg_id, seq"


@fuzz
@given(content=st.one_of(TEXT, sized(MAX_CONTENT)))
def test_sql_content_is_stored_exactly_or_refused(app_conn, db, user_a, conversation, tried, content):
    before = counts(db, conversation)
    try:
        stored = append_message(app_conn, user_a, conversation, content=content, returning=STORED)
    except Exception as error:  # noqa: BLE001 - what it was is the assertion
        assert refused_clearly(error), repr(error)
        assert counts(db, conversation) == before
        assert not storable(content) or len(content) > MAX_CONTENT
        tried["content refused"] += 1
        return
    assert storable(content) and len(content) <= MAX_CONTENT
    assert stored[0] == content
    (fetched,) = call(app_conn, user_a, "select content from chat.fetch_recent(%s, 1)", [conversation])
    assert fetched == (content,)
    tried["content stored exactly"] += 1


@fuzz
@given(metadata=METADATA)
def test_sql_message_metadata_is_stored_exactly_or_refused(app_conn, db, user_a, conversation, tried, metadata):
    before = counts(db, conversation)
    try:
        text = json.dumps(metadata)
    except (ValueError, RecursionError):
        tried["metadata Python cannot even write as JSON"] += 1
        return
    try:
        stored = append_message(app_conn, user_a, conversation, metadata=text, returning=STORED)
    except Exception as error:  # noqa: BLE001
        assert refused_clearly(error), repr(error)
        assert counts(db, conversation) == before
        tried["metadata refused"] += 1
        return
    assert isinstance(metadata, dict)
    assert same_json(text, stored[1])
    tried["metadata stored exactly"] += 1


@fuzz
@given(title=st.one_of(TEXT, sized(MAX_TITLE)), client_msg_id=st.one_of(TEXT, sized(MAX_CLIENT_MSG_ID)))
def test_sql_title_and_client_msg_id_are_stored_exactly_or_refused(app_conn, db, user_a, tried, title, client_msg_id):
    rows = db.execute("select count(*) from chat.conversations").fetchone()
    try:
        (created,) = call(app_conn, user_a, "select title from chat.create_conversation(%s)", [title])
    except Exception as error:  # noqa: BLE001
        assert refused_clearly(error), repr(error)
        assert db.execute("select count(*) from chat.conversations").fetchone() == rows
        tried["title refused"] += 1
    else:
        assert created == (title,) and storable(title) and len(title) <= MAX_TITLE
        tried["title stored exactly"] += 1

    # a conversation of this example's own: keys are unique per conversation
    conversation = call(app_conn, user_a, "select id from chat.create_conversation()")[0][0]
    before = counts(db, conversation)
    try:
        first = append_message(app_conn, user_a, conversation, content="x", client_msg_id=client_msg_id,
                               returning=STORED)
    except Exception as error:  # noqa: BLE001
        assert refused_clearly(error), repr(error)
        assert counts(db, conversation) == before
        tried["client_msg_id refused"] += 1
        return
    assert first[2] == client_msg_id and 1 <= len(client_msg_id) <= MAX_CLIENT_MSG_ID
    # the same key and payload again: the stored message, nothing written
    again = call(app_conn, user_a, "select seq, replayed from chat.append_message(%s, 'user', 'x', '{}', %s)",
                 [conversation, client_msg_id])
    assert again == [(first[3], True)]
    assert counts(db, conversation) == (before[0] + 1, before[1] + 1)
    tried["client_msg_id stored exactly"] += 1


# the Python layer: the store, as a backend calls it

@fuzz
@given(content=TEXT, metadata=st.dictionaries(TEXT, JSON, max_size=5))
async def test_store_stores_exactly_or_refuses(settings, db, user_a, conversation, tried, content, metadata):
    before = counts(db, conversation)
    async with create_pool(settings) as pool:
        store = ChatStore(pool)
        try:
            stored = await store.append_message(User(user_a), conversation, "user", content, metadata)
        except Exception as error:  # noqa: BLE001
            assert refused_clearly(error), repr(error)
            assert counts(db, conversation) == before
            tried["store refused"] += 1
            return
        assert stored.content == content and same_json(metadata, stored.metadata)
        (recent,) = await store.fetch_recent(User(user_a), conversation, 1)
        assert recent.content == content and same_json(metadata, recent.metadata)
    tried["store stored exactly"] += 1


# the HTTP service: 201 and read back, or 422 naming the field; never a 500

def body_bytes(body: dict) -> bytes:
    """JSON as a hostile client may send it: lone surrogates escaped, NaN as a bare token."""
    return json.dumps(body).encode()


@fuzz
@given(content=st.one_of(TEXT, sized(MAX_CONTENT)), metadata=METADATA,
       client_msg_id=st.none() | TEXT)
async def test_http_stores_exactly_or_answers_422_naming_the_field(api, db, auth, user_a, conversation, tried,
                                                                   content, metadata, client_msg_id):
    try:
        raw = body_bytes({"role": "user", "content": content, "metadata": metadata, "client_msg_id": client_msg_id})
    except (ValueError, RecursionError):
        tried["http bodies Python cannot even write"] += 1
        return
    before = counts(db, conversation)
    response = await api.post(f"/api/conversations/{conversation}/messages", content=raw,
                              headers={**auth(user_a), "content-type": "application/json"})
    assert response.status_code in (201, 200, 400, 409, 422), response.text
    if response.status_code in (201, 200):
        message = response.json()
        assert (message["content"], message["client_msg_id"]) == (content, client_msg_id)
        assert same_json(metadata, message["metadata"])
        tried["http stored exactly"] += 1
        return
    assert counts(db, conversation) == before
    if response.status_code == 422:
        fields = {str(part) for error in response.json()["detail"] for part in error["loc"]}
        assert fields & {"content", "metadata", "client_msg_id"}, response.text
        tried["http 422 naming the field"] += 1
    else:
        tried[f"http {response.status_code}"] += 1


@pytest.mark.parametrize("depth", [MAX_METADATA_DEPTH, MAX_METADATA_DEPTH + 1, 900, 5_000, 100_000])
async def test_deep_metadata_over_http_is_stored_or_a_422(api, db, auth, user_a, conversation, depth):
    raw = '{"role": "user", "content": "deep", "metadata": ' + '{"k": ' * (depth - 1) + "{}" + "}" * (depth - 1) + "}"
    before = counts(db, conversation)
    response = await api.post(f"/api/conversations/{conversation}/messages", content=raw.encode(),
                              headers={**auth(user_a), "content-type": "application/json"})
    if depth <= MAX_METADATA_DEPTH:
        assert response.status_code == 201, response.text
        assert json.dumps(response.json()["metadata"]).count("{") == depth
    else:
        assert response.status_code == 422, response.text
        assert counts(db, conversation) == before


@pytest.mark.parametrize(("depth", "sqlstate"), [(MAX_METADATA_DEPTH, None), (MAX_METADATA_DEPTH + 1, "22023"),
                                               (5_000, "22023"), (30_000, "54001")])
def test_deep_metadata_in_sql_is_stored_or_a_clear_refusal(app_conn, db, user_a, conversation, depth, sqlstate):
    """Depth counts the top-level object as 1; past some ten thousand levels jsonb's own parser gives up."""
    text = '{"k": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    before = counts(db, conversation)
    try:
        (stored,) = call(app_conn, user_a, "select metadata::text from chat.append_message(%s, 'user', 'x', %s)",
                         [conversation, text])
    except psycopg.Error as error:
        assert error.sqlstate == sqlstate, error
        assert counts(db, conversation) == before
    else:
        assert sqlstate is None and stored == (text,)


def test_the_tables_refuse_deep_metadata_written_around_the_functions(app_conn, user_a, conversation):
    deep = '{"k": ' + "[" * MAX_METADATA_DEPTH + "]" * MAX_METADATA_DEPTH + "}"
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        call(app_conn, user_a, "insert into chat.messages (conversation_id, seq, role, content, metadata)"
                               " values (%s, 1000, 'user', 'x', %s)", [conversation, deep])
    # the domain's one check of a metadata, whose validator says the depth too
    assert raised.value.diag.constraint_name == "messages_metadata_valid"


def test_awkward_text_round_trips_through_every_field(app_conn, user_a, conversation):
    for text in (t for t in AWKWARD if storable(t)):
        stored = append_message(app_conn, user_a, conversation, content=text, metadata=Jsonb({text: text}),
                                client_msg_id=text or None, returning=STORED)
        assert stored[:3] == (text, {text: text}, text or None)
