"""Input the HTTP API refuses on every route, through httpx against the ASGI app and a real database: a
malformed conversation id in the path or the body; a text one past its limit, however the body is sent, is a
422 that names the field and echoes little of it; a body that is not UTF-8, not JSON, or names an unknown
field, and a query parameter nobody declared, are 422s too, with nothing stored.
"""

from __future__ import annotations

import json

import pytest

from app.problems import ECHOED_INPUT
from http_api import assert_refused, locs, new_conversation
from serving import CONVERSATION_ROUTES
from stored_data import conversations_of, counts

pytestmark = pytest.mark.errors_as_500


# a malformed conversation id

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
