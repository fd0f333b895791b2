"""The HTTP API, through httpx against the ASGI app and a real database.

Proves, route by route of the SPEC's table: bearer tokens (HS256 pinned, exp
required, nbf honoured, 30 s of leeway, aud when configured) or 401; first use
provisions the user without ever failing on the email claim; the JSON shapes;
keyset paging that covers every item once; the idempotent append; 422 naming
the field for every kind of bad input, with nothing stored; another user's
conversation answers exactly like a missing one and stays untouched; the chat
turn (history of at most 50, 502 with the user's message kept when the
responder fails); DELETE /api/me takes everything of the user and nothing else.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable

import httpx
import jwt
import pytest

from as_user import acting_as
from app.models import MAX_MESSAGE_METADATA
from app.problems import ECHOED_INPUT
from serving import CONVERSATION_ROUTES, ROUTES, client_of, serve
from stored_data import conversations_of, counts, stored_user
from tokens import b64, b64json, bearer, claims

CONVERSATION_KEYS = {"id", "title", "metadata", "message_count", "created_at", "updated_at"}
MESSAGE_KEYS = {"id", "conversation_id", "seq", "role", "content", "metadata", "client_msg_id", "created_at"}
OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes"


pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


# helpers: tokens

def sign(payload: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(payload: dict) -> str:
    """An ``alg: none`` token, made by hand: no signature at all."""
    return f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(payload)}."


def with_payload(token: str, payload: dict) -> str:
    """The token with its payload replaced and its header and signature kept: a forgery."""
    header, _, signature = token.split(".")
    return f"{header}.{b64json(payload)}.{signature}"


def now_plus(seconds: int) -> int:
    return int(time.time()) + seconds


# helpers: requests and checks

@pytest.fixture
async def api(api):
    """The conftest's client of the service, as client_of makes it."""
    async with client_of(api.app) as client:
        yield client


async def new_conversation(api, headers, **body) -> dict:
    response = await api.post("/api/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def post_message(api, headers, conversation_id, content="hello", role="user", **extra) -> httpx.Response:
    return await api.post(f"/api/conversations/{conversation_id}/messages",
                          json={"role": role, "content": content, **extra}, headers=headers)


async def send_raw(api, method, url, body, headers) -> httpx.Response:
    """``body`` as ASCII JSON text (lone surrogates travel as \\ud800 escapes, as any client may send them)."""
    return await api.request(method, url, content=json.dumps(body),
                             headers={**headers, "content-type": "application/json"})


def seed_messages(app_conn, user, conversation_id, count: int) -> None:
    """Appends ``count`` messages ('message 1', 'message 2', …) as the runtime role, the way the backend does."""
    with acting_as(app_conn, user):
        app_conn.execute("select chat.append_message(%s, case when g %% 2 = 1 then 'user' else 'assistant' end,"
                         " 'message ' || g) from generate_series(1, %s) g", [conversation_id, count])


def locs(response: httpx.Response) -> list[list]:
    return [error["loc"] for error in response.json()["detail"]]


def assert_refused(response: httpx.Response, *loc) -> None:
    """422 with an error whose location is ``loc`` (a field name alone: anywhere in the body)."""
    assert response.status_code == 422, response.text
    if len(loc) == 1:
        assert any(loc[0] in error_loc for error_loc in locs(response)), response.text
    else:
        assert list(loc) in locs(response), response.text


# 401: every /api route needs a valid token

@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_every_api_route_needs_a_token(api, user_a, method, path, body, snapshot):
    before = snapshot()
    assert before["users"], "user_a exists, and stays"
    url = path.format(id=uuid.uuid4())
    response = await api.request(method, url, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot() == before


REFUSED_TOKENS: dict[str, Callable[[uuid.UUID, str], dict[str, str]]] = {
    "no Authorization header": lambda user, key: {},
    "Basic scheme": lambda user, key: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "token without scheme": lambda user, key: {"Authorization": sign(claims(user), key)},
    "Bearer without token": lambda user, key: {"Authorization": "Bearer"},
    "malformed token": lambda user, key: bearer("not-a-jwt"),
    "three garbage segments": lambda user, key: bearer("a.b.c"),
    "wrong signature": lambda user, key: bearer(sign(claims(user), OTHER_SECRET)),
    "payload swapped": lambda user, key: bearer(with_payload(sign(claims(user), key),
                                                             claims(user, exp=now_plus(10**6)))),
    "alg none": lambda user, key: bearer(unsigned(claims(user))),
    "alg none by pyjwt": lambda user, key: bearer(jwt.encode(claims(user), None, algorithm="none")),
    "HS384 with the right secret": lambda user, key: bearer(sign(claims(user), key, "HS384")),
    "HS512 with the right secret": lambda user, key: bearer(sign(claims(user), key, "HS512")),
    "expired beyond leeway": lambda user, key: bearer(sign(claims(user, exp=now_plus(-60)), key)),
    "exp missing": lambda user, key: bearer(sign(claims(user, exp=None), key)),
    "exp not a number": lambda user, key: bearer(sign(claims(user, exp="tomorrow"), key)),
    "sub missing": lambda user, key: bearer(sign(claims(user, sub=None), key)),
    "sub not a uuid": lambda user, key: bearer(sign(claims(user, sub="alice"), key)),
    "sub a number": lambda user, key: bearer(sign(claims(user, sub=42), key)),
    "nbf in the future beyond leeway": lambda user, key: bearer(sign(claims(user, nbf=now_plus(120)), key)),
}


@pytest.mark.parametrize("make_headers", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
async def test_a_bad_token_is_401_and_provisions_nobody(api, db, settings, make_headers):
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=make_headers(user, settings.jwt_secret.get_secret_value()))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)
    assert db.execute("select count(*) from chat.users").fetchone()[0] == 0


@pytest.mark.parametrize("changes", [{"exp": -10}, {"nbf": 10}], ids=["expired 10 s ago", "nbf in 10 s"])
async def test_leeway_of_thirty_seconds_is_allowed(api, db, token, changes):
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=bearer(token(user, **{
        claim: now_plus(offset) for claim, offset in changes.items()})))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}
    assert stored_user(db, user) is not None


@pytest.mark.parametrize(("aud", "status"), [(None, 401), ("other", 401), (["other", "more"], 401),
                                             ("chat", 200), (["other", "chat"], 200)],
                         ids=["no aud", "wrong aud", "wrong auds", "aud chat", "auds with chat"])
async def test_audience_is_checked_when_configured(settings, token, aud, status):
    async with serve(settings, jwt_audience="chat") as client:
        response = await client.get("/api/conversations", headers=bearer(token(uuid.uuid4(), aud=aud)))
    assert response.status_code == status, response.text


async def test_audience_is_ignored_when_not_configured(api, token):
    response = await api.get("/api/conversations", headers=bearer(token(uuid.uuid4(), aud="anything")))
    assert response.status_code == 200, response.text


# provisioning on first use

@pytest.mark.parametrize(("email", "stored"), [
    ("new@example.com", "new@example.com"),
    (None, None),
    ("not an email", None),
    ("x" * 320 + "@example.com", None),
    ("nul\x00@example.com", None),
    (123, None),
    (["a@example.com"], None),
], ids=["well formed", "absent", "malformed", "too long", "with NUL", "a number", "a list"])
async def test_first_use_provisions_the_user_with_a_usable_email(api, db, auth, email, stored):
    user = uuid.uuid4()
    assert stored_user(db, user) is None
    response = await api.post("/api/conversations", json={}, headers=auth(user, email=email))
    assert response.status_code == 201, response.text
    assert stored_user(db, user) == (stored,)
    assert conversations_of(db, user) == 1


async def test_a_taken_email_provisions_the_user_without_it(api, db, auth, make_user):
    owner = make_user("taken@example.com")
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=auth(user, email="taken@example.com"))
    assert response.status_code == 200, response.text
    assert "taken@example.com" not in response.text
    assert stored_user(db, user) == (None,)
    assert stored_user(db, owner) == ("taken@example.com",)


async def test_a_known_user_keeps_the_stored_email(api, db, auth, user_a):
    response = await api.get("/api/conversations", headers=auth(user_a, email="changed@example.com"))
    assert response.status_code == 200
    assert stored_user(db, user_a) == ("a@example.com",)
    assert db.execute("select count(*) from chat.users").fetchone()[0] == 1


# POST /api/conversations

async def test_create_conversation_returns_it(api, db, auth, user_a):
    response = await api.post("/api/conversations", json={"title": "Groceries", "metadata": {"source": "web"}},
                              headers=auth(user_a))
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CONVERSATION_KEYS
    assert body["title"] == "Groceries" and body["metadata"] == {"source": "web"} and body["message_count"] == 0
    assert body["created_at"] == body["updated_at"]
    row = db.execute("select user_id, title, metadata from chat.conversations where id = %s", [body["id"]]).fetchone()
    assert row == (user_a, "Groceries", {"source": "web"})


async def test_create_conversation_defaults_and_limits(api, db, auth, user_a):
    empty = await new_conversation(api, auth(user_a))
    assert empty["title"] is None and empty["metadata"] == {}
    longest = await new_conversation(api, auth(user_a), title="😀" * 200)
    assert longest["title"] == "😀" * 200
    assert conversations_of(db, user_a) == 2


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "x" * 201}, "title"),
    ({"title": "a\x00b"}, "title"),
    pytest.param({"title": "\ud800"}, "title"),
    ({"title": 42}, "title"),
    ({"metadata": ["not", "an", "object"]}, "metadata"),
    ({"metadata": "text"}, "metadata"),
    ({"metadata": {"blob": "x" * 16 * 1024}}, "metadata"),
    ({"metadata": {"k\x00": 1}}, "metadata"),
    ({"title": "t", "owner": "someone else"}, "owner"),
], ids=["title too long", "NUL in title", "lone surrogate in title", "title a number", "metadata a list",
        "metadata a string", "metadata over 16 KiB", "NUL in a metadata key", "unknown field"])
async def test_create_conversation_refuses_bad_input(api, db, auth, user_a, body, field):
    response = await send_raw(api, "post", "/api/conversations", body, auth(user_a))
    assert_refused(response, field)
    assert conversations_of(db, user_a) == 0


@pytest.mark.parametrize("text", ['{"title": ', "not json", '{"title": "x",}'])
async def test_create_conversation_refuses_malformed_json(api, db, auth, user_a, text):
    response = await api.post("/api/conversations", content=text,
                              headers={**auth(user_a), "content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"
    assert conversations_of(db, user_a) == 0


# GET /api/conversations

async def collect_pages(api, headers, limit) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await api.get("/api/conversations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"items", "next_cursor"}
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 10, "the cursor does not advance"


async def test_conversation_pages_cover_every_one_once_newest_activity_first(api, db, auth, user_a, user_b):
    headers = auth(user_a)
    created = [(await new_conversation(api, headers, title=f"c{i}"))["id"] for i in range(7)]
    await new_conversation(api, auth(user_b), title="not a's")
    # activity moves the third one to the front
    assert (await post_message(api, headers, created[2])).status_code == 201
    pages = await collect_pages(api, headers, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    listed = [item["id"] for page in pages for item in page]
    assert listed == [created[2], *reversed(created[3:]), created[1], created[0]]
    in_db = db.execute("select id::text from chat.conversations where user_id = %s order by updated_at desc, id desc",
                       [user_a]).fetchall()
    assert listed == [row[0] for row in in_db]
    assert all(set(item) == CONVERSATION_KEYS for page in pages for item in page)


async def test_conversation_page_sizes(api, auth, user_a):
    headers = auth(user_a)
    for _ in range(21):
        await new_conversation(api, headers)
    default = (await api.get("/api/conversations", headers=headers)).json()
    assert len(default["items"]) == 20 and default["next_cursor"] is not None
    exact = await collect_pages(api, headers, limit=21)
    assert [len(page) for page in exact] == [21]
    largest = await api.get("/api/conversations", params={"limit": 500}, headers=headers)
    assert largest.status_code == 200 and len(largest.json()["items"]) == 21
    assert largest.json()["next_cursor"] is None


@pytest.mark.parametrize("cursor", [
    "garbage!",
    "x" * 201,
    b64(b"no separator"),
    b64(b"2024-01-01T00:00:00+00:00|not-a-uuid"),
    b64(b"yesterday|" + str(uuid.uuid4()).encode()),
    b64(b"a|b|c"),
    b64(b"\xff\xfe|\xff"),
], ids=["not base64", "too long", "no separator", "bad uuid", "bad time", "three parts", "not utf-8"])
async def test_a_garbage_cursor_is_422_naming_cursor(api, auth, user_a, cursor):
    await new_conversation(api, auth(user_a))
    response = await api.get("/api/conversations", params={"cursor": cursor}, headers=auth(user_a))
    assert_refused(response, "query", "cursor")


async def test_a_well_formed_foreign_cursor_is_harmless(api, auth, user_a, user_b):
    """A cursor is only a position: pointing it at someone else's conversation shows nothing of theirs."""
    await new_conversation(api, auth(user_b))
    await new_conversation(api, auth(user_b))
    page = (await api.get("/api/conversations", params={"limit": 1}, headers=auth(user_b))).json()
    response = await api.get("/api/conversations", params={"cursor": page["next_cursor"]}, headers=auth(user_a))
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("limit", [0, -1, 501, 10**12, "ten", 1.5])
async def test_conversation_limit_out_of_range_is_422(api, auth, user_a, limit):
    response = await api.get("/api/conversations", params={"limit": limit}, headers=auth(user_a))
    assert_refused(response, "query", "limit")


# GET / PATCH / DELETE /api/conversations/{id}

async def test_get_rename_and_delete_a_conversation(api, db, auth, user_a):
    headers = auth(user_a)
    created = await new_conversation(api, headers, title="old", metadata={"k": 1})
    url = f"/api/conversations/{created['id']}"

    got = await api.get(url, headers=headers)
    assert got.status_code == 200 and got.json() == created

    renamed = await api.patch(url, json={"title": "new"}, headers=headers)
    assert renamed.status_code == 200
    assert set(renamed.json()) == CONVERSATION_KEYS
    assert renamed.json()["title"] == "new" and renamed.json()["metadata"] == {"k": 1}
    assert renamed.json()["updated_at"] > created["updated_at"], "a rename counts as activity"
    assert db.execute("select title from chat.conversations where id = %s", [created["id"]]).fetchone() == ("new",)

    cleared = await api.patch(url, json={"title": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["title"] is None
    assert db.execute("select title from chat.conversations where id = %s", [created["id"]]).fetchone() == (None,)

    await post_message(api, headers, created["id"])
    deleted = await api.delete(url, headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert conversations_of(db, user_a) == 0
    assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                      [created["id"]]).fetchone() == (0,)
    assert (await api.get(url, headers=headers)).status_code == 404
    assert (await api.delete(url, headers=headers)).status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "title"),
    ({"name": "x"}, "name"),
    ({"title": "x" * 201}, "title"),
    ({"title": "x\x00"}, "title"),
    ({"title": "ok", "metadata": {}}, "metadata"),
], ids=["no title key", "unknown field", "title too long", "NUL in title", "metadata not renamable"])
async def test_rename_refuses_bad_input(api, db, auth, user_a, body, field):
    created = await new_conversation(api, auth(user_a), title="kept")
    response = await send_raw(api, "patch", f"/api/conversations/{created['id']}", body, auth(user_a))
    assert_refused(response, field)
    assert db.execute("select title from chat.conversations where id = %s", [created["id"]]).fetchone() == ("kept",)


@pytest.mark.parametrize(("method", "path", "body"), CONVERSATION_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in CONVERSATION_ROUTES])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g"])
async def test_a_malformed_conversation_id_is_422(api, auth, user_a, method, path, body, bad_id):
    response = await api.request(method, path.format(id=bad_id), json=body, headers=auth(user_a))
    assert_refused(response, "path", "conversation_id")


async def test_a_malformed_conversation_id_in_chat_is_422(api, db, auth, user_a):
    response = await api.post("/api/chat", json={"conversation_id": "nope", "message": "hi"}, headers=auth(user_a))
    assert_refused(response, "body", "conversation_id")
    assert conversations_of(db, user_a) == 0


# another user's conversation looks exactly like a missing one

FOREIGN_REQUESTS = {
    "get": lambda cid: ("get", f"/api/conversations/{cid}", None),
    "patch": lambda cid: ("patch", f"/api/conversations/{cid}", {"title": "mine now"}),
    "delete": lambda cid: ("delete", f"/api/conversations/{cid}", None),
    "post message": lambda cid: ("post", f"/api/conversations/{cid}/messages", {"role": "user", "content": "x"}),
    "get messages": lambda cid: ("get", f"/api/conversations/{cid}/messages", None),
    "get recent": lambda cid: ("get", f"/api/conversations/{cid}/messages/recent", None),
    "chat": lambda cid: ("post", "/api/chat", {"conversation_id": str(cid), "message": "x"}),
}


@pytest.mark.parametrize("request_for", FOREIGN_REQUESTS.values(), ids=FOREIGN_REQUESTS.keys())
async def test_someone_elses_conversation_answers_like_a_missing_one(api, auth, user_a, user_b, snapshot,
                                                                      request_for):
    theirs = await new_conversation(api, auth(user_a), title="a's secret")
    assert (await post_message(api, auth(user_a), theirs["id"], content="a's message")).status_code == 201
    before = snapshot()

    async def send(conversation_id):
        method, url, body = request_for(conversation_id)
        return await api.request(method, url, json=body, headers=auth(user_b))

    foreign = await send(theirs["id"])
    missing = await send(uuid.uuid4())
    assert missing.status_code == 404
    assert foreign.status_code == 404
    assert foreign.content == missing.content
    assert foreign.json() == missing.json() == {"detail": "conversation not found"}
    assert foreign.headers["content-type"] == missing.headers["content-type"] == "application/json"
    assert snapshot() == before


# POST /api/conversations/{id}/messages

async def test_append_returns_the_message_and_bumps_the_conversation(api, db, auth, user_a):
    conversation = await new_conversation(api, auth(user_a))
    first = await post_message(api, auth(user_a), conversation["id"], content="hi", metadata={"tool": "x"})
    assert first.status_code == 201
    body = first.json()
    assert set(body) == MESSAGE_KEYS
    assert body["conversation_id"] == conversation["id"]
    assert (body["seq"], body["role"], body["content"]) == (1, "user", "hi")
    assert body["metadata"] == {"tool": "x"} and body["client_msg_id"] is None
    second = await post_message(api, auth(user_a), conversation["id"], role="assistant", content="")
    assert second.status_code == 201 and second.json()["seq"] == 2 and second.json()["content"] == ""
    assert counts(db, conversation["id"]) == (2, 2)
    got = (await api.get(f"/api/conversations/{conversation['id']}", headers=auth(user_a))).json()
    assert got["message_count"] == 2 and got["updated_at"] >= second.json()["created_at"]


async def test_append_replay_returns_the_stored_message(api, db, auth, user_a):
    conversation = await new_conversation(api, auth(user_a))
    payload = {"content": "hello", "metadata": {"k": [1, 2]}, "client_msg_id": "client-1"}
    first = await post_message(api, auth(user_a), conversation["id"], **payload)
    replay = await post_message(api, auth(user_a), conversation["id"], **payload)
    assert first.status_code == 201 and replay.status_code == 200
    assert replay.json() == first.json()
    assert first.json()["client_msg_id"] == "client-1"
    assert counts(db, conversation["id"]) == (1, 1)


@pytest.mark.parametrize("changed", [{"content": "other"}, {"role": "assistant"}, {"metadata": {"k": 2}}],
                         ids=["content", "role", "metadata"])
async def test_append_reusing_a_client_msg_id_for_another_payload_is_409(api, db, auth, user_a, changed):
    conversation = await new_conversation(api, auth(user_a))
    payload = {"role": "user", "content": "hello", "metadata": {"k": 1}, "client_msg_id": "client-1"}
    assert (await post_message(api, auth(user_a), conversation["id"], **payload)).status_code == 201
    conflict = await post_message(api, auth(user_a), conversation["id"], **{**payload, **changed})
    assert conflict.status_code == 409, conflict.text
    assert "client_msg_id" in conflict.json()["detail"]
    assert counts(db, conversation["id"]) == (1, 1)
    assert db.execute("select role, content from chat.messages where conversation_id = %s",
                      [conversation["id"]]).fetchall() == [("user", "hello")]


async def test_a_client_msg_id_is_scoped_to_its_conversation(api, db, auth, user_a):
    one, two = await new_conversation(api, auth(user_a)), await new_conversation(api, auth(user_a))
    assert (await post_message(api, auth(user_a), one["id"], client_msg_id="same")).status_code == 201
    assert (await post_message(api, auth(user_a), two["id"], client_msg_id="same")).status_code == 201
    assert counts(db, one["id"]) == (1, 1) and counts(db, two["id"]) == (1, 1)


@pytest.mark.parametrize(("content", "metadata", "client_msg_id"), [
    ("x" * 10_000, {}, None),
    ("😀" * 10_000, {}, None),
    ("ok", {"blob": "x" * (MAX_MESSAGE_METADATA - len('{"blob": ""}'))}, None),
    ("ok", {}, "c" * 200),
], ids=["10,000 characters", "10,000 emoji", "metadata of 1 MiB", "client_msg_id of 200"])
async def test_append_accepts_the_limits_themselves(api, db, auth, user_a, content, metadata, client_msg_id):
    conversation = await new_conversation(api, auth(user_a))
    response = await post_message(api, auth(user_a), conversation["id"], content=content, metadata=metadata,
                                  client_msg_id=client_msg_id)
    assert response.status_code == 201, response.text[:500]
    assert db.execute("select content = %s, metadata = %s::jsonb, client_msg_id is not distinct from %s"
                      " from chat.messages where conversation_id = %s",
                      [content, json.dumps(metadata), client_msg_id, conversation["id"]]).fetchone() == (True,) * 3


@pytest.mark.parametrize(("body", "field"), [
    ({"role": "user", "content": "x" * 10_001}, "content"),
    ({"role": "user", "content": "😀" * 10_001}, "content"),
    ({"role": "robot", "content": "hi"}, "role"),
    ({"content": "hi"}, "role"),
    ({"role": "user"}, "content"),
    ({"role": "user", "content": None}, "content"),
    ({"role": "user", "content": "a\x00b"}, "content"),
    pytest.param({"role": "user", "content": "\ud800"}, "content"),
    ({"role": "user", "content": "hi", "metadata": {"blob": "x" * MAX_MESSAGE_METADATA}}, "metadata"),
    ({"role": "user", "content": "hi", "metadata": [1]}, "metadata"),
    ({"role": "user", "content": "hi", "metadata": {"nested": ["\x00"]}}, "metadata"),
    pytest.param({"role": "user", "content": "hi", "metadata": {"k": "\udfff"}}, "metadata"),
    ({"role": "user", "content": "hi", "client_msg_id": "c" * 201}, "client_msg_id"),
    ({"role": "user", "content": "hi", "client_msg_id": ""}, "client_msg_id"),
    ({"role": "user", "content": "hi", "client_msg_id": "a\x00"}, "client_msg_id"),
    ({"role": "user", "content": "hi", "seq": 7}, "seq"),
], ids=["content 10,001", "emoji 10,001", "unknown role", "no role", "no content", "content null", "NUL in content",
        "lone surrogate in content", "metadata over 1 MiB", "metadata a list", "NUL in metadata",
        "lone surrogate in metadata", "client_msg_id 201", "client_msg_id empty", "NUL in client_msg_id",
        "unknown field"])
async def test_append_refuses_bad_input_and_stores_nothing(api, db, auth, user_a, body, field):
    conversation = await new_conversation(api, auth(user_a))
    assert (await post_message(api, auth(user_a), conversation["id"])).status_code == 201
    response = await send_raw(api, "post", f"/api/conversations/{conversation['id']}/messages", body, auth(user_a))
    assert_refused(response, field)
    assert counts(db, conversation["id"]) == (1, 1)


async def test_append_refuses_a_lone_surrogate_sent_as_raw_json_text(api, db, auth, user_a):
    conversation = await new_conversation(api, auth(user_a))
    response = await api.post(f"/api/conversations/{conversation['id']}/messages",
                              content='{"role":"user","content":"\\ud800"}',
                              headers={**auth(user_a), "content-type": "application/json"})
    assert_refused(response, "body", "content")
    assert counts(db, conversation["id"]) == (0, 0)


DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize("text", [b'{"role":"user","content":"\xff\xfe"}',
                                  b'{"role":"user","content":"hi","metadata":{"x":' + DEEP + b"}}"],
                         ids=["not utf-8", "nested 5000 deep"])
async def test_append_refuses_an_unparsable_body_without_a_500(api, db, auth, user_a, text):
    conversation = await new_conversation(api, auth(user_a))
    response = await api.post(f"/api/conversations/{conversation['id']}/messages", content=text,
                              headers={**auth(user_a), "content-type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert counts(db, conversation["id"]) == (0, 0)


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]


async def post_number_in_metadata(api, headers, conversation_id, number: str) -> httpx.Response:
    """Python's json module reads NaN, Infinity and 1e400 (as inf); JSON and jsonb have no such numbers."""
    return await api.post(f"/api/conversations/{conversation_id}/messages",
                          content=f'{{"role":"user","content":"hi","metadata":{{"x":{number}}}}}',
                          headers={**headers, "content-type": "application/json"})


@pytest.mark.parametrize("number", NON_FINITE)
async def test_a_non_finite_number_in_metadata_is_422_and_stores_nothing(api, db, auth, user_a, number):
    conversation = await new_conversation(api, auth(user_a))
    response = await post_number_in_metadata(api, auth(user_a), conversation["id"], number)
    assert response.status_code == 422, response.text
    assert counts(db, conversation["id"]) == (0, 0)


@pytest.mark.parametrize("number", NON_FINITE)
async def test_a_non_finite_number_in_metadata_is_422_naming_metadata(api, auth, user_a, number):
    conversation = await new_conversation(api, auth(user_a))
    response = await post_number_in_metadata(api, auth(user_a), conversation["id"], number)
    assert_refused(response, "metadata")


# GET /api/conversations/{id}/messages and /messages/recent

@pytest.fixture
async def long_conversation(api, auth, user_a, app_conn):
    """A conversation of user_a with 101 messages: 'message N' at seq N."""
    conversation = await new_conversation(api, auth(user_a))
    seed_messages(app_conn, user_a, conversation["id"], 101)
    return conversation["id"]


async def test_fetch_messages_pages_forward_by_seq(api, auth, user_a):
    conversation = await new_conversation(api, auth(user_a))
    for i in range(1, 8):
        assert (await post_message(api, auth(user_a), conversation["id"], content=f"m{i}")).status_code == 201
    url = f"/api/conversations/{conversation['id']}/messages"
    pages, after = [], 0
    while after is not None:
        response = await api.get(url, params={"after": after, "limit": 3}, headers=auth(user_a))
        assert response.status_code == 200 and set(response.json()) == {"items", "next_after"}
        items = response.json()["items"]
        assert all(set(item) == MESSAGE_KEYS for item in items)
        pages.append([(item["seq"], item["content"]) for item in items])
        after = response.json()["next_after"]
        if after is not None:
            assert after == items[-1]["seq"]
    assert pages == [[(1, "m1"), (2, "m2"), (3, "m3")], [(4, "m4"), (5, "m5"), (6, "m6")], [(7, "m7")]]
    exact = await api.get(url, params={"after": 1, "limit": 6}, headers=auth(user_a))
    assert [item["seq"] for item in exact.json()["items"]] == [2, 3, 4, 5, 6, 7]
    assert exact.json()["next_after"] is None, "a page that ends exactly at the last message is the last page"


async def test_fetch_messages_defaults_and_bounds(api, auth, user_a, long_conversation):
    url = f"/api/conversations/{long_conversation}/messages"
    default = (await api.get(url, headers=auth(user_a))).json()
    assert [m["seq"] for m in default["items"]] == list(range(1, 101)) and default["next_after"] == 100
    rest = (await api.get(url, params={"after": 100}, headers=auth(user_a))).json()
    assert [(m["seq"], m["content"]) for m in rest["items"]] == [(101, "message 101")] and rest["next_after"] is None
    largest = (await api.get(url, params={"limit": 500}, headers=auth(user_a))).json()
    assert len(largest["items"]) == 101 and largest["next_after"] is None
    beyond = await api.get(url, params={"after": 2**63 - 1}, headers=auth(user_a))
    assert beyond.status_code == 200 and beyond.json() == {"items": [], "next_after": None}


async def test_fetch_of_an_empty_conversation_is_empty_not_missing(api, auth, user_a):
    conversation = await new_conversation(api, auth(user_a))
    url = f"/api/conversations/{conversation['id']}/messages"
    assert (await api.get(url, headers=auth(user_a))).json() == {"items": [], "next_after": None}
    assert (await api.get(f"{url}/recent", headers=auth(user_a))).json() == {"items": []}


@pytest.mark.parametrize(("suffix", "params", "name"), [
    ("", {"after": -1}, "after"),
    ("", {"after": 2**63}, "after"),
    ("", {"after": "first"}, "after"),
    ("", {"limit": 0}, "limit"),
    ("", {"limit": 501}, "limit"),
    ("/recent", {"limit": 0}, "limit"),
    ("/recent", {"limit": 501}, "limit"),
    ("/recent", {"limit": "all"}, "limit"),
], ids=["after -1", "after 2**63", "after text", "limit 0", "limit 501", "recent limit 0", "recent limit 501",
        "recent limit text"])
async def test_fetch_refuses_bounds_out_of_range(api, auth, user_a, long_conversation, suffix, params, name):
    response = await api.get(f"/api/conversations/{long_conversation}/messages{suffix}", params=params,
                             headers=auth(user_a))
    assert_refused(response, "query", name)


async def test_recent_returns_the_last_messages_ascending(api, auth, user_a, long_conversation):
    url = f"/api/conversations/{long_conversation}/messages/recent"
    default = await api.get(url, headers=auth(user_a))
    assert default.status_code == 200 and set(default.json()) == {"items"}
    assert [m["seq"] for m in default.json()["items"]] == list(range(52, 102))
    assert all(set(m) == MESSAGE_KEYS for m in default.json()["items"])
    five = (await api.get(url, params={"limit": 5}, headers=auth(user_a))).json()["items"]
    assert [(m["seq"], m["content"]) for m in five] == [(n, f"message {n}") for n in range(97, 102)]
    everything = (await api.get(url, params={"limit": 500}, headers=auth(user_a))).json()["items"]
    assert [m["seq"] for m in everything] == list(range(1, 102))


# POST /api/chat

async def test_chat_creates_then_continues_a_conversation(api, db, auth, user_a):
    message = "Plan my week: " + "😀" * 300
    first = await api.post("/api/chat", json={"message": message}, headers=auth(user_a))
    assert first.status_code == 200, first.text
    turn = first.json()
    assert set(turn) == {"conversation_id", "user_message", "assistant_message"}
    assert set(turn["user_message"]) == set(turn["assistant_message"]) == MESSAGE_KEYS
    user_message, assistant_message = turn["user_message"], turn["assistant_message"]
    assert (user_message["seq"], user_message["role"], user_message["content"]) == (1, "user", message)
    assert (assistant_message["seq"], assistant_message["role"]) == (2, "assistant")
    assert user_message["conversation_id"] == assistant_message["conversation_id"] == turn["conversation_id"]
    assert db.execute("select user_id, title, message_count from chat.conversations where id = %s",
                      [turn["conversation_id"]]).fetchone() == (user_a, message[:200], 2)

    second = await api.post("/api/chat", json={"conversation_id": turn["conversation_id"], "message": "and then?"},
                            headers=auth(user_a))
    assert second.status_code == 200, second.text
    assert second.json()["conversation_id"] == turn["conversation_id"]
    assert (second.json()["user_message"]["seq"], second.json()["assistant_message"]["seq"]) == (3, 4)
    assert counts(db, turn["conversation_id"]) == (4, 4)
    assert conversations_of(db, user_a) == 1
    stored = db.execute("select seq, role, content from chat.messages where conversation_id = %s order by seq",
                        [turn["conversation_id"]]).fetchall()
    assert stored == [(1, "user", message), (2, "assistant", assistant_message["content"]),
                      (3, "user", "and then?"), (4, "assistant", second.json()["assistant_message"]["content"])]


async def test_the_builtin_responder_is_deterministic(api, auth, user_a, user_b):
    replies = []
    for user in (user_a, user_a, user_b):
        response = await api.post("/api/chat", json={"message": "what is on my list?"}, headers=auth(user))
        assert response.status_code == 200
        replies.append(response.json()["assistant_message"]["content"])
    assert replies[0] and replies[0] == replies[1] == replies[2]


@pytest.mark.parametrize(("body", "field"), [
    ({"message": ""}, "message"),
    ({"message": "x" * 10_001}, "message"),
    ({"message": "a\x00b"}, "message"),
    pytest.param({"message": "\ud800"}, "message"),
    ({}, "message"),
    ({"message": "hi", "title": "t"}, "title"),
], ids=["empty", "10,001 characters", "NUL", "lone surrogate", "no message", "unknown field"])
async def test_chat_refuses_bad_input(api, db, auth, user_a, body, field):
    response = await send_raw(api, "post", "/api/chat", body, auth(user_a))
    assert_refused(response, field)
    assert conversations_of(db, user_a) == 0


async def test_chat_accepts_a_message_of_10000_characters(api, db, auth, user_a):
    response = await api.post("/api/chat", json={"message": "😀" * 10_000}, headers=auth(user_a))
    assert response.status_code == 200, response.text[:500]
    assert len(response.json()["user_message"]["content"]) == 10_000
    assert len(response.json()["assistant_message"]["content"]) <= 10_000
    assert db.execute("select role, char_length(content) from chat.messages where user_id = %s order by seq",
                      [user_a]).fetchall() == [("user", 10_000), ("assistant", 10_000)]


# a 422 echoes the refused input briefly, however it was sent

TOO_LONG = "x" * 10_001
SMALL_ANSWER = 1024


def too_long(route: str, conversation_id: str) -> tuple[str, dict, str]:
    """The route's URL, a body with 10,001 characters in its text field, and that field."""
    if route == "messages":
        return f"/api/conversations/{conversation_id}/messages", {"role": "user", "content": TOO_LONG}, "content"
    return "/api/chat", {"conversation_id": conversation_id, "message": TOO_LONG}, "message"


@pytest.mark.parametrize("content_type", ["application/json", None, "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("route", ["messages", "chat"])
async def test_a_422_for_10001_characters_names_the_field_and_echoes_little(api, db, auth, user_a, route,
                                                                             content_type):
    conversation = await new_conversation(api, auth(user_a))
    url, body, field = too_long(route, conversation["id"])
    headers = auth(user_a) | ({"content-type": content_type} if content_type else {})
    response = await api.post(url, content=json.dumps(body), headers=headers)
    if content_type == "application/json":
        assert_refused(response, "body", field)
    else:  # a body of any other type is not read as JSON (FastAPI's strict content type): the body is refused whole
        assert_refused(response, "body")
        assert locs(response) == [["body"]]
    assert len(response.content) < SMALL_ANSWER, response.text[:500]
    assert counts(db, conversation["id"]) == (0, 0)


async def test_a_body_not_in_utf8_nor_sent_as_json_is_a_422(api, auth, user_a):
    response = await api.post("/api/chat", content=b'{"message": "\xff\xfe"}',
                              headers={**auth(user_a), "content-type": "text/plain"})
    assert_refused(response, "body")
    assert response.json()["detail"][0]["input"] == '{"message": "\ufffd\ufffd"}'


async def test_a_422_names_an_unknown_field_or_parameter_briefly(api, auth, user_a):
    body = await api.post("/api/chat", json={"message": "hi", "k" * 10_001: 1}, headers=auth(user_a))
    query = await api.get(f"/api/conversations?{'k' * 10_001}=1", headers=auth(user_a))
    for response in (body, query):
        assert response.status_code == 422, response.text[:500]
        assert any(error["type"] == "extra_forbidden" and error["loc"][1] == "k" * ECHOED_INPUT
                   for error in response.json()["detail"]), response.text[:500]
        assert len(response.content) < SMALL_ANSWER, response.text[:500]


class Failing:
    async def reply(self, history):
        raise RuntimeError("the model is down")


class Nonsense:
    async def reply(self, history):
        return None


class Recorder:
    def __init__(self):
        self.histories: list[list] = []

    async def reply(self, history):
        self.histories.append(list(history))
        return f"heard {len(history)}"


@pytest.mark.parametrize("responder", [Failing(), Nonsense()], ids=["raises", "returns None"])
async def test_a_failing_responder_is_502_and_the_user_message_is_kept(settings, db, auth, user_a, responder):
    async with serve(settings, responder) as client:
        response = await client.post("/api/chat", json={"message": "remember the milk"}, headers=auth(user_a))
        assert response.status_code == 502, response.text
        body = response.json()
        assert set(body) == {"detail", "conversation_id"} and body["detail"]
        assert db.execute("select user_id, message_count from chat.conversations where id = %s",
                          [body["conversation_id"]]).fetchone() == (user_a, 1)
        assert db.execute("select seq, role, content from chat.messages where conversation_id = %s",
                          [body["conversation_id"]]).fetchall() == [(1, "user", "remember the milk")]

        again = await client.post("/api/chat", json={"conversation_id": body["conversation_id"], "message": "eggs"},
                                  headers=auth(user_a))
        assert again.status_code == 502
        assert again.json()["conversation_id"] == body["conversation_id"]
    assert db.execute("select seq, role, content from chat.messages where conversation_id = %s order by seq",
                      [body["conversation_id"]]).fetchall() == [(1, "user", "remember the milk"), (2, "user", "eggs")]


async def test_the_responder_sees_at_most_the_last_50_messages(settings, db, auth, user_a, app_conn):
    recorder = Recorder()
    async with serve(settings, recorder) as client:
        first = await client.post("/api/chat", json={"message": "hello"}, headers=auth(user_a))
        assert first.status_code == 200 and first.json()["assistant_message"]["content"] == "heard 1"
        conversation_id = first.json()["conversation_id"]
        assert [(m.seq, m.role, m.content) for m in recorder.histories[0]] == [(1, "user", "hello")]

        seed_messages(app_conn, user_a, conversation_id, 58)  # seq 3 … 60
        turn = await client.post("/api/chat", json={"conversation_id": conversation_id, "message": "the 61st"},
                                 headers=auth(user_a))
        assert turn.status_code == 200, turn.text
    history = recorder.histories[1]
    assert [m.seq for m in history] == list(range(12, 62))
    assert (history[-1].role, history[-1].content) == ("user", "the 61st")
    assert all(str(m.conversation_id) == conversation_id for m in history)
    assert counts(db, conversation_id) == (62, 62)


# GET /api/search

async def test_search_finds_the_users_own_messages_only(api, auth, user_a, user_b):
    for user in (user_a, user_b):
        await api.post("/api/chat", json={"message": f"the comet of {user} is green"}, headers=auth(user))
    response = await api.get("/api/search", params={"q": "comet green"}, headers=auth(user_b))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {item["content"] for item in items} == {f"the comet of {user_b} is green",
                                                    f"You said: the comet of {user_b} is green"}
    assert all(set(item) == MESSAGE_KEYS for item in items)
    response = await api.get("/api/search", params={"q": str(user_a)}, headers=auth(user_b))
    assert response.json() == {"items": []}


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 1001}, "q"), ({"q": "a\x00b"}, "q"),
    ({"q": "moon", "limit": 0}, "limit"), ({"q": "moon", "limit": 501}, "limit"),
])
async def test_search_refuses_bad_input(api, auth, user_a, params, field):
    response = await api.get("/api/search", params=params, headers=auth(user_a))
    assert_refused(response, "query", field)


# GET /api/me/export

async def test_export_holds_everything_of_the_user(api, auth, user_a, user_b):
    turn = (await api.post("/api/chat", json={"message": "remember this"}, headers=auth(user_a))).json()
    await api.post("/api/chat", json={"message": "and not this"}, headers=auth(user_b))
    response = await api.get("/api/me/export", headers=auth(user_a))
    assert response.status_code == 200, response.text
    exported = response.json()
    assert exported["user"]["id"] == str(user_a)
    (conversation,) = exported["conversations"]
    assert conversation["id"] == turn["conversation_id"]
    assert [m["content"] for m in conversation["messages"]] == ["remember this", "You said: remember this"]
    assert set(conversation["messages"][0]) == MESSAGE_KEYS
    assert "and not this" not in response.text and str(user_b) not in response.text


# DELETE /api/me

async def test_delete_me_takes_everything_of_the_user_and_nothing_else(api, db, auth, user_a, user_b, snapshot):
    for user in (user_a, user_b):
        await api.post("/api/chat", json={"message": f"hello from {user}"}, headers=auth(user))
        await new_conversation(api, auth(user), title="empty")
    theirs = {table: [row for row in rows if user_a not in row] for table, rows in snapshot().items()}

    response = await api.delete("/api/me", headers=auth(user_a))
    assert response.status_code == 204 and response.content == b""
    assert stored_user(db, user_a) is None
    assert conversations_of(db, user_a) == 0
    assert db.execute("select count(*) from chat.messages where user_id = %s", [user_a]).fetchone() == (0,)
    after = snapshot()
    # what is left of A: the tombstone of the deletion, the id and the time (tests/test_account_deletion.py)
    assert [row[0] for row in after.pop("deleted_users")] == [user_a]
    assert after == {table: rows for table, rows in theirs.items() if table != "deleted_users"}
    assert conversations_of(db, user_b) == 2

    # the same token brings nothing back (tests/test_account_deletion.py: and a newer one makes a new user)
    again = await api.get("/api/conversations", headers=auth(user_a, email="a@example.com"))
    assert again.status_code == 401
    assert stored_user(db, user_a) is None


# input that is not even JSON, and query parameters nobody declared

async def test_a_body_that_is_not_utf8_is_a_422(api, db, auth, user_a, snapshot):
    before = snapshot()
    response = await api.post("/api/conversations", content=b'{"title": "\xff\xfe"}',
                              headers={**auth(user_a), "content-type": "application/json"})
    assert_refused(response, "body")
    assert snapshot() == before


@pytest.mark.parametrize("query", ["limt=5", "=true", "limit=5&cursor=&extra=1"])
async def test_an_unknown_query_parameter_is_a_422_naming_it(api, auth, user_a, query):
    response = await api.get(f"/api/conversations?{query}", headers=auth(user_a))
    assert response.status_code == 422, response.text
    unknown = [error["loc"] for error in response.json()["detail"] if error["type"] == "extra_forbidden"]
    assert unknown and all(loc[0] == "query" for loc in unknown)


# health and the schema

async def test_healthz(api):
    response = await api.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_healthz_is_503_without_the_database(settings):
    async with serve(settings, database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"
    assert "retry-after" in response.headers


def spec_operations(paths: dict) -> set[tuple[str, str]]:
    return {(method, re.sub(r"\{[^}]+\}", "{id}", path)) for path, item in paths.items() for method in item}


API_OPERATIONS = {(method, path.split("?")[0]) for method, path, _ in ROUTES}


async def test_openapi_lists_every_api_route_of_the_spec_each_secured_by_bearer(api):
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    listed = spec_operations(paths)
    assert {operation for operation in listed if operation[1].startswith("/api")} == API_OPERATIONS
    assert len(API_OPERATIONS) == 12  # the SPEC's table, /healthz aside
    for path, item in paths.items():
        if path.startswith("/api"):
            for method, operation in item.items():
                assert operation.get("security") == [{"HTTPBearer": []}], f"{method} {path}"
