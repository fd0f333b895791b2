"""Token counts and summaries over HTTP, through httpx against the ASGI app and a real database: an appended
message takes its writer's count (``tokens``, 0 to 2147483647) or gets the database's estimate, and a bad count is a
422 naming ``tokens`` with nothing stored; every message's JSON carries ``tokens``, ``summary_from`` and
``summary_through``, and the OpenAPI schema says so; a summary written by compaction shows in people's views (the
message routes, the export) with the range it stands in for, beside every message it covers.
"""

from __future__ import annotations

import pytest

from app.identity import User
from app.models import MAX_TOKENS
from http_api import MESSAGE_KEYS, assert_refused, new_conversation, post_message, send_raw
from stored_data import counts
from token_counts import estimate

pytestmark = pytest.mark.errors_as_500


def stored_counts(db, conversation_id) -> list[tuple]:
    """(seq, tokens_given, tokens) of every message of the conversation."""
    return db.execute("select seq, tokens_given, tokens from chat.messages where conversation_id = %s order by seq",
                      [conversation_id]).fetchall()


# POST /api/conversations/{id}/messages with tokens

@pytest.mark.parametrize("tokens", [0, 57, MAX_TOKENS], ids=["0", "57", "2147483647"])
async def test_a_message_is_stored_with_the_writers_count(api, db, auth, user_a, tokens):
    conversation = await new_conversation(api, auth(user_a))
    response = await post_message(api, auth(user_a), conversation["id"], content="counted", tokens=tokens)
    assert response.status_code == 201, response.text
    assert set(response.json()) == MESSAGE_KEYS
    assert response.json()["tokens"] == tokens
    assert stored_counts(db, conversation["id"]) == [(1, tokens, tokens)]


@pytest.mark.parametrize("body", [{}, {"tokens": None}], ids=["no tokens", "tokens null"])
async def test_without_a_count_a_message_gets_the_databases_estimate(api, db, auth, user_a, body):
    conversation = await new_conversation(api, auth(user_a))
    content = "x" * 401
    response = await post_message(api, auth(user_a), conversation["id"], content=content, **body)
    assert response.status_code == 201, response.text
    assert response.json()["tokens"] == estimate(content) == 105
    assert stored_counts(db, conversation["id"]) == [(1, None, 105)]


async def test_a_replay_with_another_count_returns_the_stored_message(api, db, auth, user_a):
    """The count is the writer's opinion of the message, not part of it: a retry that counts otherwise is the same
    message, and the first count stays."""
    conversation = await new_conversation(api, auth(user_a))
    first = await post_message(api, auth(user_a), conversation["id"], client_msg_id="k-1", tokens=12)
    replay = await post_message(api, auth(user_a), conversation["id"], client_msg_id="k-1", tokens=99)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json() == first.json() and replay.json()["tokens"] == 12
    assert stored_counts(db, conversation["id"]) == [(1, 12, 12)]


@pytest.mark.parametrize("tokens", [-1, MAX_TOKENS + 1, 2**63, 1.5, "many", [], {"n": 1}],
                         ids=["-1", "2147483648", "2**63", "1.5", "text", "a list", "an object"])
async def test_a_bad_count_is_a_422_naming_tokens_and_stores_nothing(api, db, auth, user_a, tokens):
    conversation = await new_conversation(api, auth(user_a))
    assert (await post_message(api, auth(user_a), conversation["id"])).status_code == 201
    response = await send_raw(api, "post", f"/api/conversations/{conversation['id']}/messages",
                              {"role": "user", "content": "hi", "tokens": tokens}, auth(user_a))
    assert_refused(response, "body", "tokens")
    assert counts(db, conversation["id"]) == (1, 1)


async def test_a_count_for_another_users_conversation_is_404_and_stores_nothing(api, auth, user_a, user_b,
                                                                               snapshot):
    theirs = await new_conversation(api, auth(user_b))
    before = snapshot()
    response = await post_message(api, auth(user_a), theirs["id"], tokens=5)
    assert (response.status_code, response.json()) == (404, {"detail": "conversation not found"})
    assert snapshot() == before


# the message's JSON, and the OpenAPI schema

async def test_the_openapi_schema_has_the_counts_and_the_summary_range(api):
    schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
    message = schemas["Message"]
    assert {"tokens", "summary_from", "summary_through"} <= set(message["properties"])
    assert message["properties"]["tokens"]["type"] == "integer" and "tokens" in message["required"]
    for name in ("summary_from", "summary_through"):
        assert {alternative["type"] for alternative in message["properties"][name]["anyOf"]} == {"integer", "null"}
    (count,) = [alternative for alternative in schemas["MessageCreate"]["properties"]["tokens"]["anyOf"]
                if alternative["type"] == "integer"]
    assert (count["minimum"], count["maximum"]) == (0, MAX_TOKENS)
    assert "tokens" not in schemas["MessageCreate"].get("required", [])


async def test_a_summary_shows_with_its_range_beside_every_message_it_covers(api, db, auth, user_a):
    """People's views keep every message: the summary is one more message, marked with the range it stands in for
    in the model's view, which GET messages, recent and the export all show."""
    conversation = await new_conversation(api, auth(user_a))
    for number in range(1, 5):
        response = await post_message(api, auth(user_a), conversation["id"], content=f"message {number}",
                                      role="user" if number % 2 else "assistant")
        assert response.status_code == 201, response.text
    store = api.app.state.store
    (summary,) = await store.compact_messages(User(user_a), conversation["id"], 2,
                                              [{"role": "assistant", "content": "they talked", "tokens": 3}])
    assert (summary.seq, summary.summary_from, summary.summary_through) == (5, 2, 4)

    expected = [(1, "message 1", None, None), (2, "message 2", None, None), (3, "message 3", None, None),
                (4, "message 4", None, None), (5, "they talked", 2, 4)]

    def shown(items):
        assert all(set(item) == MESSAGE_KEYS for item in items)
        return [(item["seq"], item["content"], item["summary_from"], item["summary_through"]) for item in items]

    url = f"/api/conversations/{conversation['id']}/messages"
    page = (await api.get(url, headers=auth(user_a))).json()
    assert shown(page["items"]) == expected and page["next_after"] is None
    assert [item["tokens"] for item in page["items"]] == [estimate("message 1")] * 4 + [3]
    recent = (await api.get(f"{url}/recent", headers=auth(user_a))).json()
    assert shown(recent["items"]) == expected
    (exported,) = (await api.get("/api/me/export", headers=auth(user_a))).json()["conversations"]
    assert shown(exported["messages"]) == expected
    # and the model's view is the first message and the summary
    context = await store.fetch_context(User(user_a), conversation["id"], None)
    assert [message.seq for message in context] == [1, 5]
