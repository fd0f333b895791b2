"""Agent sessions as their tests use them (a plugin of the suite, registered by conftest.py): ChatStoreSession,
the Agents SDK's session memory over the store, as Alice, on a real PostgreSQL as the runtime role; the SDK's
scripted model (no network, no trace); every kind of item a session stores; the fake OpenAI client the SDK's own
compaction tests use; a spy on the store's round trips.

Fixtures: ``store`` (a ChatStore over a pool of the runtime role), ``alice`` and ``bob`` (Users),
``alices_conversation`` (made through the store, titled "agent"), ``session`` (Alice's, on it) and ``sound``
(asserts a conversation whole: n messages numbered 1..n, message_count n, the integrity audit clean).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import pytest
from agents import Agent, RunConfig, function_tool, set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message, function_call

from app.agent_session import ChatStoreSession
from app.database import create_pool
from app.identity import User
from app.models import Message
from app.store import ChatStore
from audit_scripts import run_integrity

# no trace leaves the process: not from a run given RUN, nor from one as the README writes it
RUN = RunConfig(tracing_disabled=True)
set_tracing_disabled(True)


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def weather_agent() -> tuple[ScriptedModel, Agent]:
    """Turn 1: the model calls get_weather, then replies; turn 2: it replies."""
    model = ScriptedModel([
        [function_call("get_weather", {"city": "Paris"}, call_id="call-paris")],
        [assistant_message("It is sunny in Paris.", item_id="msg-1")],
        [assistant_message("You asked about Paris.", item_id="msg-2")],
    ])
    return model, Agent(name="weather", model=model, tools=[get_weather])


@dataclass
class RequestContext:
    user: User
    request_id: str = "req-1"


# Every kind of item: easy, system and developer messages, a function call and its output, reasoning with
# encrypted content, hosted web and file search calls, an output message with annotations and a refusal.
ITEMS: list[dict[str, Any]] = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"type": "message", "role": "system", "content": "You are terse."},
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
    {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "get_weather",
     "arguments": '{"city": "Paris"}', "status": "completed"},
    {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21 °C"},
    {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "The tool says sunny."}],
     "encrypted_content": "gAAAAABoZ2VuY3J5cHRlZA=="},
    {"id": "ws_1", "type": "web_search_call", "status": "completed",
     "action": {"type": "search", "query": "Paris weather", "sources": [{"type": "url", "url": "https://x.test"}]}},
    {"id": "fs_1", "type": "file_search_call", "status": "completed", "queries": ["forecast", "Paris"],
     "results": [{"file_id": "file_1", "filename": "forecast.txt", "score": 0.75, "text": "sun",
                  "attributes": {"region": "IDF", "year": 2026, "ratio": 1.5, "final": True}}]},
    {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Il fait beau (21 °C).", "logprobs": [],
                  "annotations": [{"type": "url_citation", "url": "https://x.test", "title": "Météo",
                                   "start_index": 0, "end_index": 12}]},
                 {"type": "refusal", "refusal": "Pas de prévisions à dix jours."}]},
]


def summary(n: int = 1) -> dict[str, Any]:
    """A compaction item as ``responses.compact`` returns it (the SDK's tests' synthetic one)."""
    return {"type": "compaction", "id": f"cmp_{n}", "encrypted_content": f"synthetic-summary-{n}"}


def compaction_client(*output: dict[str, Any], side_effect: Any = None) -> MagicMock:
    """The fake OpenAI client of the SDK's own compaction tests: ``responses.compact`` an ``AsyncMock`` that
    answers ``SimpleNamespace(output=[...])`` (or runs ``side_effect``). No network."""
    client = MagicMock()
    client.responses.compact = AsyncMock(return_value=SimpleNamespace(output=list(output)), side_effect=side_effect)
    return client


async def peoples_view(store: ChatStore, user: User, conversation) -> list[Message]:
    """Every message of the conversation as people read it (the HTTP API's ``fetch_messages``), oldest first:
    what compaction must never take away."""
    messages: list[Message] = []
    while page := await store.fetch_messages(user, conversation, messages[-1].seq if messages else 0, 500):
        messages.extend(page)
    return messages


class Spy:
    """Counts the store's round trips for a session, and in them the API functions it calls, with the max_count
    each ``fetch_context`` asks for (``calls``) and its parameters whole (``params``)."""

    def __init__(self, store: ChatStore, monkeypatch) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.params: list[tuple[str, list[Any]]] = []
        self.round_trips = 0
        for name in ("append_messages", "clear_conversation", "compact_messages"):
            original = getattr(store, name)
            monkeypatch.setattr(store, name, self._wrap(name, original))
        run = store.run

        async def spied_run(user, *statements):
            self.round_trips += 1
            for statement in statements:
                text = statement.sql if isinstance(statement.sql, str) else statement.sql.as_string()
                name = re.search(r"chat\.(\w+)\(%s", text).group(1)
                # the limit: fetch_context(conversation, max_tokens, max_count, before_seq)
                limit = {"fetch_context": 2}.get(name)
                self.calls.append((name, None if limit is None else statement.params[limit]))
                self.params.append((name, list(statement.params)))
            return await run(user, *statements)

        monkeypatch.setattr(store, "run", spied_run)

    def _wrap(self, name, original):
        async def call(user, conversation_id, *args, **kwargs):
            self.round_trips += 1
            self.calls.append((name, None))
            self.params.append((name, [conversation_id, *args, *kwargs.values()]))
            return await original(user, conversation_id, *args, **kwargs)

        return call


@pytest.fixture
async def store(settings):
    async with create_pool(settings) as pool:
        yield ChatStore(pool)


@pytest.fixture
def alice(make_user) -> User:
    return User(make_user("alice@example.com"))


@pytest.fixture
def bob(make_user) -> User:
    return User(make_user("bob@example.com"))


@pytest.fixture
async def alices_conversation(store, alice) -> uuid.UUID:
    return (await store.create_conversation(alice, "agent")).id


@pytest.fixture
def session(store, alices_conversation, alice) -> ChatStoreSession:
    """Alice's session on her conversation."""
    return ChatStoreSession(store, alices_conversation, alice)


@pytest.fixture
def sound(db, pg_server, chat_db):
    """``sound(conversation, n)``: asserts n messages numbered 1..n, message_count n, the integrity audit clean."""

    def check(conversation, n: int) -> None:
        seqs = [seq for (seq,) in db.execute(
            "select seq from chat.messages where conversation_id = %s order by seq", [conversation])]
        assert seqs == list(range(1, n + 1))
        count = db.execute("select message_count from chat.conversations where id = %s", [conversation]).fetchone()
        assert count == (n,)
        audit = run_integrity(pg_server, chat_db)
        assert audit.returncode == 0, audit.stdout + audit.stderr

    return check
