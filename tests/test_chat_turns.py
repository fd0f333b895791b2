"""The chat turn over HTTP, made to survive flaky networks: with a ``client_msg_id``, a retried turn returns
the stored turn and never stores the message twice nor calls the responder again once the reply is stored;
racing duplicates, on one instance or two, call it once, the others answered 409 with Retry-After while it
runs; a turn that failed (502, a responder too slow, a shutdown) runs again when retried. A turn is not its
request's: a client that goes away leaves it running, and shutdown waits for it before the pool closes.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from http_api import MESSAGE_KEYS
from serving import duplicates_on_two, serve
from stored_data import conversations_of, counts, stored_messages


# What the checks here read of a stored message.
WITH_CLIENT_MSG_ID = "seq, role, content, client_msg_id"


class Gated:
    """Replies once ``gate`` is open; counts its calls, and ``called`` is set at the first."""

    def __init__(self, reply: str = "noted"):
        self.calls = 0
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.text = reply

    async def reply(self, history):
        self.calls += 1
        self.called.set()
        await self.gate.wait()
        return f"{self.text} ({history[-1].content})"


class FailsFirst:
    """Raises on its first call, answers after."""

    def __init__(self):
        self.calls = 0

    async def reply(self, history):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("the model is down")
        return "answered at last"


class SlowFirst:
    """Takes ten seconds the first time, answers at once after."""

    def __init__(self):
        self.calls = 0

    async def reply(self, history):
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(10)
        return "quick this time"


def turn_of(db, conversation_id, seq=1) -> tuple:
    """(attempts, running, reply_seq) of the turn of the user message seq."""
    return db.execute("select attempts, running_until is not null, reply_seq from chat.turns"
                      " where conversation_id = %s and seq = %s", [conversation_id, seq]).fetchone()


async def test_a_retried_turn_returns_the_stored_turn_and_the_responder_answers_once(settings, db, auth, user_a):
    responder = Gated()
    responder.gate.set()
    async with serve(settings, responder) as client:
        body = {"message": "add milk", "client_msg_id": "turn-1"}
        first = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert first.status_code == 200, first.text
        turn = first.json()
        assert set(turn["user_message"]) == MESSAGE_KEYS and turn["user_message"]["client_msg_id"] == "turn-1"

        # the answer was lost: the client retries without the conversation it never learnt, then with it
        again = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert (again.status_code, again.json()) == (200, turn)
        with_id = await client.post("/api/chat", json={**body, "conversation_id": turn["conversation_id"]},
                                    headers=auth(user_a))
        assert (with_id.status_code, with_id.json()) == (200, turn)
    assert responder.calls == 1
    assert conversations_of(db, user_a) == 1
    assert stored_messages(db, turn["conversation_id"], WITH_CLIENT_MSG_ID) == [
        (1, "user", "add milk", "turn-1"), (2, "assistant", "noted (add milk)", None)]
    assert turn_of(db, turn["conversation_id"]) == (1, False, 2)


async def test_a_key_used_for_another_message_is_409_and_stores_nothing(api, db, auth, user_a):
    first = await api.post("/api/chat", json={"message": "add milk", "client_msg_id": "turn-1"}, headers=auth(user_a))
    conversation_id = first.json()["conversation_id"]
    for body in ({"message": "add eggs", "client_msg_id": "turn-1"},
                 {"message": "add eggs", "client_msg_id": "turn-1", "conversation_id": conversation_id}):
        refused = await api.post("/api/chat", json=body, headers=auth(user_a))
        assert refused.status_code == 409, refused.text
        assert "client_msg_id" in refused.json()["detail"]
    assert counts(db, conversation_id) == (2, 2)
    assert conversations_of(db, user_a) == 1


@pytest.mark.parametrize("where", ["existing", "new"], ids=["in a conversation", "opening one"])
async def test_five_racing_duplicates_call_the_responder_once(settings, api, db, auth, user_a, where):
    """While the first is answering, the four others are answered 409 with Retry-After, and write nothing; once
    the reply is stored, a retry gets the turn."""
    responder = Gated()
    body = {"message": "add milk", "client_msg_id": "race-1"}
    if where == "existing":
        created = await api.post("/api/conversations", json={}, headers=auth(user_a))
        body["conversation_id"] = created.json()["id"]
    async with serve(settings, responder) as client:
        racing = [asyncio.create_task(client.post("/api/chat", json=body, headers=auth(user_a))) for _ in range(5)]
        answered: list = []
        pending = set(racing)
        while len(answered) < 4:
            done, pending = await asyncio.wait(pending, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            assert done, "the duplicates were not answered while the first one ran"
            answered += [task.result() for task in done]
        assert responder.calls == 1
        for response in answered:
            assert response.status_code == 409, response.text
            assert response.headers["Retry-After"] == "1"
            assert set(response.json()) == {"detail", "conversation_id"}
        (conversation_id,) = {response.json()["conversation_id"] for response in answered}
        assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [(1, "user", "add milk", "race-1")]

        responder.gate.set()
        (first,) = [await task for task in pending]
        assert first.status_code == 200, first.text
        assert first.json()["conversation_id"] == conversation_id
        retried = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert (retried.status_code, retried.json()) == (200, first.json())
    assert responder.calls == 1
    assert conversations_of(db, user_a) == 1
    assert counts(db, conversation_id) == (2, 2)


async def test_racing_duplicates_on_two_instances_call_the_responder_once(settings, db, auth, user_a):
    """What decides is in the database: two instances of the service, each its own responder, six duplicates
    between them; one responder call in all."""
    first_responder, second_responder = Gated(), Gated()
    body = {"message": "add milk", "client_msg_id": "race-2"}
    async with serve(settings, first_responder) as one, serve(settings, second_responder) as other:
        responses = await duplicates_on_two(one, other, (first_responder, second_responder), body, auth(user_a))
    assert first_responder.calls + second_responder.calls == 1
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}, statuses
    (conversation_id,) = {response.json()["conversation_id"] for response in responses}
    assert counts(db, conversation_id) == (2, 2)
    assert conversations_of(db, user_a) == 1


async def test_a_retry_after_a_502_runs_the_turn_again(settings, db, auth, user_a):
    responder = FailsFirst()
    async with serve(settings, responder) as client:
        body = {"message": "remember the milk", "client_msg_id": "turn-3"}
        failed = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert failed.status_code == 502, failed.text
        conversation_id = failed.json()["conversation_id"]
        assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [(1, "user", "remember the milk", "turn-3")]
        assert turn_of(db, conversation_id) == (1, False, None)

        retried = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert retried.status_code == 200, retried.text
        assert retried.json()["conversation_id"] == conversation_id
        assert retried.json()["user_message"]["id"] == retried.json()["user_message"]["id"]
        assert retried.json()["assistant_message"]["content"] == "answered at last"
    assert responder.calls == 2
    assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [(1, "user", "remember the milk", "turn-3"),
                                                                        (2, "assistant", "answered at last", None)]
    assert turn_of(db, conversation_id) == (2, False, 2)


async def test_a_responder_past_its_timeout_is_a_502_and_a_retry_runs_again(settings, db, auth, user_a):
    responder = SlowFirst()
    async with serve(settings, responder, responder_timeout=0.3) as client:
        body = {"message": "think hard", "client_msg_id": "turn-4"}
        failed = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert failed.status_code == 502, failed.text
        retried = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert retried.status_code == 200, retried.text
    assert responder.calls == 2
    assert stored_messages(db, failed.json()["conversation_id"], WITH_CLIENT_MSG_ID)[-1][1:3] == (
        "assistant", "quick this time")


async def test_a_client_that_goes_away_leaves_the_turn_running_and_shutdown_waits_for_it(settings, db, auth,
                                                                                          user_a):
    responder = Gated("finished anyway")
    async with serve(settings, responder) as client:
        request = asyncio.create_task(client.post("/api/chat", json={"message": "add milk"}, headers=auth(user_a)))
        await asyncio.wait_for(responder.called.wait(), 30)
        request.cancel()  # the client is gone
        with pytest.raises(asyncio.CancelledError):
            await request
        assert len(client.app.state.turns) == 1
        asyncio.get_running_loop().call_later(0.3, responder.gate.set)
    # the service has shut down: it waited for the turn, which stored its reply before the pool closed
    (conversation_id,) = [row[0] for row in db.execute("select id from chat.conversations where user_id = %s",
                                                       [user_a])]
    assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [
        (1, "user", "add milk", None), (2, "assistant", "finished anyway (add milk)", None)]


async def test_a_turn_still_running_at_the_shutdown_timeout_is_cancelled_and_released(settings, db, auth, user_a):
    """Its user message stays, nothing half-written, and its claim is released: a retry on another instance
    runs it at once instead of waiting for the lease to run out."""
    never = Gated()
    body = {"message": "add milk", "client_msg_id": "turn-5"}
    async with serve(settings, never, shutdown_timeout=0.2) as client:
        request = asyncio.create_task(client.post("/api/chat", json=body, headers=auth(user_a)))
        await asyncio.wait_for(never.called.wait(), 30)
    interrupted = await request
    assert interrupted.status_code == 503, interrupted.text
    assert interrupted.headers["Retry-After"] == "1"
    conversation_id = interrupted.json()["conversation_id"]
    assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [(1, "user", "add milk", "turn-5")]
    assert turn_of(db, conversation_id) == (1, False, None)

    answering = Gated()
    answering.gate.set()
    async with serve(settings, answering) as client:
        retried = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert retried.status_code == 200, retried.text
    assert answering.calls == 1
    assert turn_of(db, conversation_id) == (2, False, 2)


async def test_a_turn_of_another_users_conversation_is_404_and_stores_nothing(api, db, auth, user_a, user_b,
                                                                             snapshot):
    theirs = (await api.post("/api/conversations", json={}, headers=auth(user_b))).json()["id"]
    before = snapshot()
    for conversation_id in (theirs, str(uuid.uuid4())):
        response = await api.post("/api/chat", json={"conversation_id": conversation_id, "message": "hi",
                                                     "client_msg_id": "k"}, headers=auth(user_a))
        assert (response.status_code, response.json()) == (404, {"detail": "conversation not found"})
    assert snapshot() == before


@pytest.mark.parametrize(("key", "field"), [("", "client_msg_id"), ("x" * 201, "client_msg_id"),
                                            ("a\x00b", "client_msg_id")])
async def test_a_bad_client_msg_id_is_a_422_naming_it(api, db, auth, user_a, key, field):
    response = await api.post("/api/chat", json={"message": "hi", "client_msg_id": key}, headers=auth(user_a))
    assert response.status_code == 422, response.text
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert conversations_of(db, user_a) == 0


class NamesTheUsersMessage:
    """Claims to have stored its reply, naming the user's own message: a responder's bug, not the client's."""

    async def reply(self, history, *, turn):
        turn.reply_message = turn.user_message
        return "whatever"


async def test_a_responder_naming_no_reply_of_its_own_is_a_502_not_a_422(settings, db, auth, user_a):
    async with serve(settings, NamesTheUsersMessage()) as client:
        response = await client.post("/api/chat", json={"message": "hi", "client_msg_id": "turn-6"},
                                     headers=auth(user_a))
    assert response.status_code == 502, response.text
    conversation_id = response.json()["conversation_id"]
    assert stored_messages(db, conversation_id, WITH_CLIENT_MSG_ID) == [(1, "user", "hi", "turn-6")]
    assert turn_of(db, conversation_id) == (1, False, None)
