"""The chat turn over HTTP, POST /api/chat, through httpx against the ASGI app and a real database: it
creates then continues a conversation, stores the user's message and the reply; the built-in responder is
deterministic; a responder that fails is a 502 with the user's message kept. (What the responder sees, a token
budget: test_chat_context.py; retries, races and shutdown: test_chat_turns.py; streaming: test_streaming.py.)
"""

from __future__ import annotations

import pytest

from http_api import MESSAGE_KEYS, assert_refused, send_raw
from serving import serve
from stored_data import conversations_of, counts

pytestmark = pytest.mark.errors_as_500


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


class Failing:
    async def reply(self, history):
        raise RuntimeError("the model is down")


class Nonsense:
    async def reply(self, history):
        return None


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
