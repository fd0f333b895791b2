"""The chat turn streamed: with ``Accept: text/event-stream``, ``POST /api/chat`` answers Server-Sent Events:
``user_message`` (the stored message), ``delta`` per piece of the reply, then ``assistant_message`` (the
stored reply, whose content the deltas add up to) or ``error``. Through httpx against the ASGI app and
through uvicorn over HTTP. A responder that fails mid-stream ends the stream with ``error``: the user's
message is kept, the partial reply is not stored, and a retry runs the turn again. A client that goes away
mid-stream does not stop the turn: the whole reply is stored afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from app.database import PoolExhausted
from app.main import create_app
from app.models import MAX_CONTENT
from app.problems import EXHAUSTED, problem
from http_api import MESSAGE_KEYS, STREAM, events_of
from serving import over_http, serve
from stored_data import stored_messages

class Words:
    """Streams a fixed reply in pieces, ``pause`` seconds apart; counts its calls."""

    def __init__(self, pieces: list[str], pause: float = 0.0):
        self.pieces = pieces
        self.pause = pause
        self.calls = 0
        self.done = asyncio.Event()

    async def reply(self, history):
        return "".join(self.pieces)

    async def stream(self, history):
        self.calls += 1
        for piece in self.pieces:
            await asyncio.sleep(self.pause)
            yield piece
        self.done.set()


class BreaksMidStream:
    """Streams two pieces, then fails; answers whole the next time."""

    def __init__(self):
        self.calls = 0

    async def reply(self, history):
        return "whole this time"

    async def stream(self, history):
        self.calls += 1
        yield "half "
        yield "a reply"
        if self.calls == 1:
            raise RuntimeError("the model stream broke")
        yield " and the rest"


class HoldsThePool:
    """Streams a piece, then keeps every connection of the service's pool busy for ``hold`` seconds: the reply
    cannot be stored meanwhile."""

    def __init__(self, hold: float):
        self.hold = hold
        self.pool = None  # the service's, once it runs
        self.holding: asyncio.Task | None = None

    async def reply(self, history):
        return "never stored"

    async def stream(self, history):
        yield "a piece"
        held = [await self.pool.getconn() for _ in range(self.pool.max_size)]
        self.holding = asyncio.create_task(self._release(held))

    async def _release(self, held):
        await asyncio.sleep(self.hold)
        for conn in held:
            await self.pool.putconn(conn)


class Plain:
    """No stream of its own: the reply comes as one delta."""

    async def reply(self, history):
        return "in one piece"


async def test_a_streamed_turn_is_user_message_deltas_then_the_stored_reply(api, db, auth, user_a):
    response = await api.post("/api/chat", json={"message": "what is due on Friday?"},
                              headers={**auth(user_a), **STREAM})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "user_message" and kinds[-1] == "assistant_message"
    assert set(kinds[1:-1]) == {"delta"} and len(kinds) > 3
    user_message, assistant_message = events[0][1], events[-1][1]
    assert set(user_message) == set(assistant_message) == MESSAGE_KEYS
    assert (user_message["seq"], user_message["role"], user_message["content"]) == (1, "user",
                                                                                    "what is due on Friday?")
    assert "".join(data["text"] for kind, data in events if kind == "delta") == assistant_message["content"]
    assert stored_messages(db, user_message["conversation_id"]) == [
        (1, "user", "what is due on Friday?"), (2, "assistant", "You said: what is due on Friday?")]


async def test_a_responder_without_a_stream_streams_its_reply_as_one_delta(settings, db, auth, user_a):
    async with serve(settings, Plain()) as client:
        response = await client.post("/api/chat", json={"message": "hi"}, headers={**auth(user_a), **STREAM})
    events = events_of(response.text)
    assert [(kind, data.get("text")) for kind, data in events] == [
        ("user_message", None), ("delta", "in one piece"), ("assistant_message", None)]


async def test_a_streamed_retry_replays_the_stored_turn(settings, db, auth, user_a):
    responder = Words(["one ", "two ", "three"])
    body = {"message": "count", "client_msg_id": "s-1"}
    async with serve(settings, responder) as client:
        first = events_of((await client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM})).text)
        again = events_of((await client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM})).text)
        plain = (await client.post("/api/chat", json=body, headers=auth(user_a))).json()
    assert [kind for kind, _ in first] == ["user_message", "delta", "delta", "delta", "assistant_message"]
    assert again == [first[0], ("delta", {"text": "one two three"}), first[-1]]
    assert (plain["user_message"], plain["assistant_message"]) == (first[0][1], first[-1][1])
    assert responder.calls == 1


async def test_a_responder_failing_mid_stream_ends_it_with_an_error_and_stores_no_partial_reply(settings, db,
                                                                                                 auth, user_a):
    responder = BreaksMidStream()
    body = {"message": "tell me", "client_msg_id": "s-2"}
    async with serve(settings, responder) as client:
        response = await client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM})
        assert response.status_code == 200
        events = events_of(response.text)
        assert [kind for kind, _ in events] == ["user_message", "delta", "delta", "error"]
        error = events[-1][1]
        conversation_id = events[0][1]["conversation_id"]
        assert set(error) == {"detail", "conversation_id"} and error["conversation_id"] == conversation_id
        assert "stored" in error["detail"]
        assert stored_messages(db, conversation_id) == [(1, "user", "tell me")]

        retried = await client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM})
        events = events_of(retried.text)
    assert [kind for kind, _ in events][-1] == "assistant_message"
    assert events[-1][1]["content"] == "half a reply and the rest"
    assert stored_messages(db, conversation_id) == [(1, "user", "tell me"),
                                                  (2, "assistant", "half a reply and the rest")]


async def test_a_reply_the_database_cannot_store_ends_the_stream_with_an_error_naming_why(settings, db, auth, user_a,
                                                                                           caplog):
    caplog.set_level(logging.WARNING, "app")
    responder = HoldsThePool(hold=3.0)
    async with serve(settings, responder, pool_max_size=2, pool_timeout=0.5) as client:
        responder.pool = client.app.state.store.pool
        response = await client.post("/api/chat", json={"message": "tell me"}, headers={**auth(user_a), **STREAM})
        await responder.holding
    events = events_of(response.text)
    assert [kind for kind, _ in events] == ["user_message", "delta", "error"]
    assert events[-1][1]["detail"] == problem(PoolExhausted()) == EXHAUSTED.detail
    assert stored_messages(db, events[0][1]["conversation_id"]) == [(1, "user", "tell me")]
    [line] = [record.getMessage() for record in caplog.records if record.name == "app"]
    assert line.startswith("POST /api/chat, streamed: no database connection free (PoolExhausted: "), line


async def test_a_reply_past_the_limit_is_cut_and_the_deltas_add_up_to_what_is_stored(settings, db, auth, user_a):
    responder = Words(["😀" * 3000] * 4 + ["never sent"])
    async with serve(settings, responder) as client:
        response = await client.post("/api/chat", json={"message": "long"}, headers={**auth(user_a), **STREAM})
    events = events_of(response.text)
    streamed = "".join(data["text"] for kind, data in events if kind == "delta")
    assert len(streamed) == MAX_CONTENT and "never" not in streamed
    assert events[-1][1]["content"] == streamed
    assert stored_messages(db, events[0][1]["conversation_id"])[-1] == (2, "assistant", streamed)


async def test_a_duplicate_while_a_streamed_turn_runs_is_409_before_any_stream(settings, db, auth, user_a):
    responder = Words(["slow ", "reply"], pause=0.5)
    body = {"message": "hi", "client_msg_id": "s-3"}
    async with serve(settings, responder) as client:
        first = asyncio.create_task(client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM}))
        await asyncio.sleep(0.2)
        duplicate = await client.post("/api/chat", json=body, headers={**auth(user_a), **STREAM})
        assert duplicate.status_code == 409, duplicate.text
        assert duplicate.headers["content-type"] == "application/json"
        assert (await first).status_code == 200
    assert responder.calls == 1


# over HTTP, through uvicorn

async def test_through_uvicorn_the_events_come_in_order(settings, db, auth, user_a):
    responder = Words(["streamed ", "over ", "HTTP"], pause=0.05)
    with over_http(create_app(settings, responder)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post("/api/chat", json={"message": "hi"}, headers={**auth(user_a), **STREAM})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    events = events_of(response.text)
    assert [(kind, data.get("text")) for kind, data in events] == [
        ("user_message", None), ("delta", "streamed "), ("delta", "over "), ("delta", "HTTP"),
        ("assistant_message", None)]
    assert events[-1][1]["content"] == "streamed over HTTP"


async def test_a_client_that_goes_away_mid_stream_still_gets_the_whole_reply_stored(settings, db, auth, user_a):
    pieces = [f"piece {n} " for n in range(20)]
    responder = Words(pieces, pause=0.05)
    with over_http(create_app(settings, responder)) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            async with client.stream("POST", "/api/chat", json={"message": "tell me a story"},
                                     headers={**auth(user_a), **STREAM}) as response:
                seen = []
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        seen.append(line.removeprefix("event: "))
                    if seen.count("delta") == 2:
                        break  # and the connection closes: the client is gone
        assert seen == ["user_message", "delta", "delta"]
        deadline = time.monotonic() + 30
        stored = []
        while time.monotonic() < deadline:
            stored = db.execute("select m.role, m.content from chat.messages m join chat.conversations c"
                                " on c.id = m.conversation_id where c.user_id = %s order by m.seq", [user_a]).fetchall()
            if len(stored) == 2:
                break
            await asyncio.sleep(0.1)
    assert stored == [("user", "tell me a story"), ("assistant", "".join(pieces))]
    assert responder.calls == 1


@pytest.mark.parametrize("accept", ["text/event-stream", "application/json, text/event-stream;q=0.9",
                                    "TEXT/EVENT-STREAM"])
async def test_the_accept_header_asks_for_the_stream(api, auth, user_a, accept):
    response = await api.post("/api/chat", json={"message": "hi"}, headers={**auth(user_a), "Accept": accept})
    assert response.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize("accept", [None, "application/json", "*/*", "text/html"])
async def test_without_asking_for_the_stream_the_answer_is_json(api, auth, user_a, accept):
    headers = auth(user_a) | ({"Accept": accept} if accept else {})
    response = await api.post("/api/chat", json={"message": "hi"}, headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"conversation_id", "user_message", "assistant_message"}
