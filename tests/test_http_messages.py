"""Messages over HTTP, through httpx against the ASGI app and a real database: the append returns the
message and bumps its conversation, replays with its client_msg_id (200) and refuses the key for another payload
(409); every limit accepted at its size and refused one past it, with nothing stored; pages forward by seq and
the most recent messages, each bound checked.
"""

from __future__ import annotations

import json

import httpx
import pytest

from app.models import MAX_MESSAGE_METADATA
from as_user import seed_messages
from http_api import MESSAGE_KEYS, assert_refused, new_conversation, post_message, send_raw
from stored_data import counts

pytestmark = pytest.mark.errors_as_500


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
async def conversation_of_101(api, auth, user_a, app_conn):
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


async def test_fetch_messages_defaults_and_bounds(api, auth, user_a, conversation_of_101):
    url = f"/api/conversations/{conversation_of_101}/messages"
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
async def test_fetch_refuses_bounds_out_of_range(api, auth, user_a, conversation_of_101, suffix, params, name):
    response = await api.get(f"/api/conversations/{conversation_of_101}/messages{suffix}", params=params,
                             headers=auth(user_a))
    assert_refused(response, "query", name)


async def test_recent_returns_the_last_messages_ascending(api, auth, user_a, conversation_of_101):
    url = f"/api/conversations/{conversation_of_101}/messages/recent"
    default = await api.get(url, headers=auth(user_a))
    assert default.status_code == 200 and set(default.json()) == {"items"}
    assert [m["seq"] for m in default.json()["items"]] == list(range(52, 102))
    assert all(set(m) == MESSAGE_KEYS for m in default.json()["items"])
    five = (await api.get(url, params={"limit": 5}, headers=auth(user_a))).json()["items"]
    assert [(m["seq"], m["content"]) for m in five] == [(n, f"message {n}") for n in range(97, 102)]
    everything = (await api.get(url, params={"limit": 500}, headers=auth(user_a))).json()["items"]
    assert [m["seq"] for m in everything] == list(range(1, 102))
