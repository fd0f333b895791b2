"""Conversations over HTTP, through httpx against the ASGI app and a real database: create, list in keyset
pages that cover every one once, get, rename and delete, each in the SPEC's JSON shape; bad input a 422 naming
the field, nothing stored; another user's conversation answers exactly like a missing one, on every route, and
stays untouched.
"""

from __future__ import annotations

import uuid

import pytest

from http_api import CONVERSATION_KEYS, assert_refused, new_conversation, post_message, send_raw
from stored_data import conversations_of
from tokens import b64

pytestmark = pytest.mark.errors_as_500


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
