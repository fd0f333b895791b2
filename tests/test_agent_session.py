"""Agent sessions: ``ChatStoreSession`` is the Agents SDK's session memory over the store, proven on a
real PostgreSQL as the runtime role (``chat_test_app``, RLS applies), with the SDK's scripted model (no
network).

What is proven: the Runner (``run``, ``run_sync``, ``run_streamed``) finds the turn before in the
database; every kind of item comes back exactly as it was added, one message row each; ``limit`` and
``SessionSettings`` give the latest items, long histories read in pages; pop and clear keep ``seq``
gapless and ``message_count`` exact; another user's session sees, writes, pops and clears nothing; no
user is an error before any SQL; a batch is stored whole or not at all, its oversize item named.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from agents import Agent, RunConfig, RunContextWrapper, Runner, function_tool, set_tracing_disabled
from agents.memory import Session, SessionSettings
from agents.memory.session import _session_accepts_wrapper
from agents.testing import ScriptedModel, assistant_message, function_call

from app.agent_session import ITEM_KEY, MAX_BATCH, ChatStoreSession, ItemNotStorable, NoSessionUser, TooManyItems
from app.database import create_pool
from app.identity import User
from app.models import MAX_CONTENT, MAX_MESSAGE_METADATA
from app.settings import get_settings
from app.store import ChatStore
from conftest import ROOT
from audit_scripts import run_integrity

# no trace leaves the process: not from a run given RUN, nor from one as the README writes it
RUN = RunConfig(tracing_disabled=True)
set_tracing_disabled(True)

KIB = 1024


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


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


# fixtures


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
async def conversation(store, alice) -> uuid.UUID:
    return (await store.create_conversation(alice, "agent")).id


@pytest.fixture
def session(store, conversation, alice) -> ChatStoreSession:
    return ChatStoreSession(store, conversation, alice)


@pytest.fixture
def stored(db):
    """``stored(conversation)``: its rows (seq, role, content, metadata, client_msg_id) as the superuser sees them."""

    def rows(conversation) -> list[tuple]:
        return db.execute("select seq, role, content, metadata, client_msg_id from chat.messages"
                          " where conversation_id = %s order by seq", [conversation]).fetchall()

    return rows


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


class Spy:
    """Counts the store's round trips for the session, and in them the API functions it calls, with the limit
    each fetch asks for."""

    def __init__(self, store: ChatStore, monkeypatch) -> None:
        self.calls: list[tuple[str, int | None]] = []
        self.round_trips = 0
        for name in ("append_messages", "clear_conversation"):
            original = getattr(store, name)
            monkeypatch.setattr(store, name, self._wrap(name, original))
        run = store.run

        async def spied_run(user, *statements):
            self.round_trips += 1
            for statement in statements:
                text = statement.sql if isinstance(statement.sql, str) else statement.sql.as_string()
                name = re.search(r"chat\.(\w+)\(%s", text).group(1)
                # the limit: fetch_recent(conversation, max_count), fetch_messages(conversation, after, max_count)
                limit = {"fetch_recent": 1, "fetch_messages": 2}.get(name)
                self.calls.append((name, None if limit is None else statement.params[limit]))
            return await run(user, *statements)

        monkeypatch.setattr(store, "run", spied_run)

    def _wrap(self, name, original):
        async def call(user, conversation_id, *args, **kwargs):
            self.round_trips += 1
            self.calls.append((name, None))
            return await original(user, conversation_id, *args, **kwargs)

        return call


# every kind of item

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

ROLES = ["user", "system", "system", "assistant", "tool", "assistant", "assistant", "assistant", "assistant"]
CONTENTS = ["What is the weather in Paris?", "You are terse.", "Answer in French.",
            'get_weather({"city": "Paris"})', "sunny, 21 °C", "The tool says sunny.", "web search: Paris weather",
            "file search: forecast, Paris", "Il fait beau (21 °C).\nPas de prévisions à dix jours."]


def test_the_session_is_an_sdk_session_that_takes_the_run_context(session, conversation):
    """The SDK sees a Session whose four methods all take ``wrapper``: it hands them the run context."""
    assert isinstance(session, Session)
    assert _session_accepts_wrapper(session)
    assert session.session_id == str(conversation)
    assert session.session_settings == SessionSettings()
    assert ChatStoreSession(None, str(conversation), session_settings={"limit": 4}).session_settings.limit == 4


async def test_every_kind_of_item_comes_back_exactly(session, conversation, stored, sound):
    """Easy, system and developer messages, a function call and its output, reasoning with encrypted
    content, hosted web and file search calls, an output message with annotations and a refusal: each is
    one row with a readable content and a fitting role, and comes back equal, oldest first."""
    await session.add_items(ITEMS)

    assert await session.get_items() == json_round_trip(ITEMS)
    rows = stored(conversation)
    assert [row[1] for row in rows] == ROLES
    assert [row[2] for row in rows] == CONTENTS
    assert [row[3] for row in rows] == [{ITEM_KEY: item} for item in ITEMS]
    assert [row[4] for row in rows] == [None] * len(ITEMS)
    sound(conversation, len(ITEMS))


async def test_large_tool_output_and_encrypted_reasoning_round_trip(session, conversation, stored):
    """A tool output of 200 KiB and reasoning with 40 KiB of encrypted content fit a message's metadata;
    the row's content is the output cut to 10,000 characters."""
    output = "".join(f"line {n:06d}: ☀ sunny\n" for n in range(200 * KIB // 21))[:200 * KIB]
    items = [
        {"type": "function_call", "call_id": "call_big", "name": "read_log", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_big", "output": output},
        {"id": "rs_big", "type": "reasoning", "summary": [], "encrypted_content": "A" * (40 * KIB)},
    ]
    await session.add_items(items)

    assert await session.get_items() == items
    rows = stored(conversation)
    assert [row[1] for row in rows] == ["assistant", "tool", "assistant"]
    assert rows[1][2] == output[:MAX_CONTENT] and len(rows[1][2]) == MAX_CONTENT
    assert rows[2][2] == "[reasoning]"


async def test_limit_gives_the_latest_items_oldest_first(session):
    """``limit`` n: the latest n; more than stored: all; 0 or less: none."""
    items = [{"role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}"} for n in range(6)]
    await session.add_items(items)

    assert await session.get_items() == items
    assert await session.get_items(2) == items[-2:]
    assert await session.get_items(limit=4) == items[-4:]
    assert await session.get_items(limit=100) == items
    assert await session.get_items(0) == []
    assert await session.get_items(-3) == []


async def test_session_settings_limit_is_the_default(store, conversation, alice):
    """``SessionSettings(limit=3)`` gives the latest 3 when no limit is asked; an explicit one overrides it."""
    await ChatStoreSession(store, conversation, alice).add_items(
        [{"role": "user", "content": f"message {n}"} for n in range(10)])

    limited = ChatStoreSession(store, conversation, alice, session_settings=SessionSettings(limit=3))
    assert [item["content"] for item in await limited.get_items()] == ["message 7", "message 8", "message 9"]
    assert [item["content"] for item in await limited.get_items(limit=1)] == ["message 9"]
    assert len(await limited.get_items(limit=50)) == 10
    nothing = ChatStoreSession(store, conversation, alice, session_settings={"limit": 0})
    assert await nothing.get_items() == []


async def test_a_history_of_one_page_is_read_in_one_round_trip(session, conversation, monkeypatch):
    """1,000 items, a page exactly: the whole history, and the latest 50, each in one call, the count of the
    conversation's messages telling that nothing follows the page."""
    items = [{"type": "function_call_output", "call_id": f"call_{n}", "output": f"result {n}"} for n in range(1000)]
    await session.add_items(items)
    spy = Spy(session.store, monkeypatch)
    assert await session.get_items() == items
    assert (spy.round_trips, spy.calls) == (1, [("fetch_messages", 1000), ("get_conversation", None)])
    spy.calls.clear()
    spy.round_trips = 0
    assert await session.get_items(50) == items[-50:]
    assert (spy.round_trips, spy.calls) == (1, [("fetch_recent", 50)])


async def test_long_history_is_read_in_pages(session, conversation, monkeypatch, sound):
    """2,500 items: read whole, and with limit 1,500, 1,000 and 3,000, in pages of at most 1,000 rows."""
    items = [{"type": "function_call_output", "call_id": f"call_{n}", "output": f"result {n}"} for n in range(2500)]
    for start in range(0, len(items), 1000):
        await session.add_items(items[start:start + 1000])
    spy = Spy(session.store, monkeypatch)

    assert await session.get_items() == items
    assert spy.calls == [("fetch_messages", 1000), ("get_conversation", None)] + [("fetch_messages", 1000)] * 2
    assert spy.round_trips == 3
    spy.calls.clear()

    assert await session.get_items(1500) == items[-1500:]
    assert spy.calls == [("fetch_recent", 1000), ("fetch_messages", 500)]
    spy.calls.clear()

    assert await session.get_items(1000) == items[-1000:]
    assert spy.calls == [("fetch_recent", 1000)]
    spy.calls.clear()

    assert await session.get_items(3000) == items
    assert max(limit for _, limit in spy.calls) == 1000
    assert await session.get_items(2499) == items[1:]
    sound(conversation, 2500)


# the Runner


def assert_turn_two_saw_turn_one(model: ScriptedModel, history: list[dict]) -> None:
    """The model's input of turn 2: turn 1's user message, function call, its output and the reply, in
    order, as the session stored them, then turn 2's message."""
    assert len(model.calls) == 3
    second = model.calls[-1].input
    assert [item.get("type", "message") for item in history] == [
        "message", "function_call", "function_call_output", "message", "message", "message"]
    assert history[0] == {"role": "user", "content": "What is the weather in Paris?"}
    assert history[1]["name"] == "get_weather" and history[1]["call_id"] == "call-paris"
    assert history[2] == {"type": "function_call_output", "call_id": "call-paris", "output": "sunny in Paris"}
    assert history[3]["content"][0]["text"] == "It is sunny in Paris."
    assert history[4] == {"role": "user", "content": "What did I ask?"}
    assert history[5]["content"][0]["text"] == "You asked about Paris."
    assert second == history[:5]


async def test_runner_run_remembers_the_turn_before(session, conversation, stored, sound):
    model, agent = weather_agent()
    first = await Runner.run(agent, "What is the weather in Paris?", session=session, run_config=RUN)
    second = await Runner.run(agent, "What did I ask?", session=session, run_config=RUN)

    assert (first.final_output, second.final_output) == ("It is sunny in Paris.", "You asked about Paris.")
    history = await session.get_items()
    assert_turn_two_saw_turn_one(model, history)
    assert [row[1] for row in stored(conversation)] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    sound(conversation, 6)


async def test_runner_run_streamed_remembers_the_turn_before(session, conversation, sound):
    model, agent = weather_agent()
    for text in ("What is the weather in Paris?", "What did I ask?"):
        result = Runner.run_streamed(agent, text, session=session, run_config=RUN)
        async for _ in result.stream_events():
            pass
    assert result.final_output == "You asked about Paris."
    assert_turn_two_saw_turn_one(model, await session.get_items())
    sound(conversation, 6)


def test_runner_run_sync_remembers_the_turn_before(settings, alice, sound):
    """``run_sync`` drives its own event loop, the thread's default one, and the pool's connections
    belong to the loop that opened them: so a worker thread sets a fresh default loop, opens the pool on
    it, and runs both turns with ``run_sync`` on that same loop."""
    model, agent = weather_agent()

    def world():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            pool = create_pool(settings)
            loop.run_until_complete(pool.open(wait=True))
            try:
                store = ChatStore(pool)
                conversation = loop.run_until_complete(store.create_conversation(alice)).id
                session = ChatStoreSession(store, conversation, alice)
                outputs = [Runner.run_sync(agent, text, session=session, run_config=RUN).final_output
                           for text in ("What is the weather in Paris?", "What did I ask?")]
                return conversation, outputs, loop.run_until_complete(session.get_items())
            finally:
                loop.run_until_complete(pool.close())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        conversation, outputs, history = worker.submit(world).result(timeout=120)

    assert outputs == ["It is sunny in Paris.", "You asked about Paris."]
    assert_turn_two_saw_turn_one(model, history)
    sound(conversation, 6)


@dataclass
class RequestContext:
    user: User
    request_id: str = "req-1"


@pytest.mark.parametrize("as_context", [lambda user: user, RequestContext], ids=["user", "object-with-user"])
async def test_the_user_comes_from_the_run_context(store, conversation, alice, stored, as_context):
    """A session made without a user acts for the run's context: a User, or an object whose .user is one."""
    _, agent = weather_agent()
    session = ChatStoreSession(store, conversation)
    await Runner.run(agent, "What is the weather in Paris?", session=session, context=as_context(alice),
                     run_config=RUN)

    assert len(stored(conversation)) == 4
    assert len(await session.get_items(wrapper=RunContextWrapper(as_context(alice)))) == 4


async def test_runner_session_settings_limit_bounds_the_history(session):
    """A run's ``SessionSettings(limit=2)`` sends the model the latest 2 items and the new message."""
    history = [{"role": "user", "content": f"turn {n}"} for n in range(5)]
    await session.add_items(history)
    model = ScriptedModel([[assistant_message("ok")]])
    await Runner.run(Agent(name="a", model=model), "now", session=session,
                     run_config=RunConfig(tracing_disabled=True, session_settings=SessionSettings(limit=2)))

    assert model.calls[-1].input == history[-2:] + [{"role": "user", "content": "now"}]


# rows written otherwise


async def test_rows_written_through_the_store_come_back_as_plain_messages(store, session, conversation, alice):
    """Rows without an item (the HTTP API's) are {role, content}; a tool row is the assistant's text,
    and a model run on them takes them as they are."""
    for role, content, metadata in [("system", "Be brief.", None), ("user", "hello", {"client": "web"}),
                                    ("assistant", "hi!", None), ("tool", "3 tasks due today", {"tool": "tasks"})]:
        await store.append_message(alice, conversation, role, content, metadata)
    await session.add_items([{"role": "user", "content": "and tomorrow?"}])

    plain = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"},
             {"role": "assistant", "content": "hi!"}, {"role": "assistant", "content": "3 tasks due today"},
             {"role": "user", "content": "and tomorrow?"}]
    assert await session.get_items() == plain

    model = ScriptedModel([[assistant_message("nothing due")]])
    await Runner.run(Agent(name="a", model=model), "thanks", session=session, run_config=RUN)
    assert model.calls[-1].input == plain + [{"role": "user", "content": "thanks"}]


# pop and clear


async def test_pop_returns_the_latest_item_and_keeps_seq_gapless(session, conversation, store, alice, sound):
    assert await session.pop_item() is None

    await session.add_items(ITEMS[:4])
    assert await session.pop_item() == ITEMS[3]
    assert await session.pop_item() == ITEMS[2]
    assert (await store.get_conversation(alice, conversation)).message_count == 2
    sound(conversation, 2)

    await session.add_items([ITEMS[8]])
    assert await session.get_items() == [ITEMS[0], ITEMS[1], ITEMS[8]]
    sound(conversation, 3)

    for expected in (ITEMS[8], ITEMS[1], ITEMS[0]):
        assert await session.pop_item() == expected
    assert await session.pop_item() is None
    assert await session.get_items() == []
    sound(conversation, 0)


async def test_clear_empties_the_session_and_keeps_the_conversation(session, conversation, store, alice, sound):
    await session.add_items(ITEMS)
    await session.clear_session()

    assert await session.get_items() == []
    remaining = await store.get_conversation(alice, conversation)
    assert remaining is not None and remaining.message_count == 0
    sound(conversation, 0)

    await session.add_items(ITEMS[:2])
    assert await session.get_items() == ITEMS[:2]
    sound(conversation, 2)
    await session.clear_session()
    await session.clear_session()
    sound(conversation, 0)


# isolation


@pytest.fixture
async def alices_history(session, snapshot):
    """Alice's conversation with a turn in it, and a check that not one row of anyone changed."""
    await session.add_items(ITEMS[:5])
    before = snapshot()
    yield
    assert snapshot() == before


async def assert_not_found(operation) -> str:
    with pytest.raises(psycopg.errors.NoDataFound) as refused:
        await operation
    assert refused.value.sqlstate == "P0002"
    return refused.value.diag.message_primary or ""


async def test_another_users_session_sees_and_changes_nothing(store, conversation, bob, alices_history):
    """Bob's session on Alice's conversation: every method is refused with the store's not-found error,
    the same as for a conversation that does not exist; nothing of Alice's changes."""
    missing = uuid.uuid4()
    for target in (conversation, missing):
        intruder = ChatStoreSession(store, target, bob)
        messages = [await assert_not_found(intruder.get_items()),
                    await assert_not_found(intruder.get_items(5000)),
                    await assert_not_found(intruder.add_items([{"role": "user", "content": "mine now"}])),
                    await assert_not_found(intruder.pop_item()),
                    await assert_not_found(intruder.clear_session())]
        assert all(messages)
        if target == conversation:
            seen = [message.replace(str(conversation), "<id>") for message in messages]
        else:
            assert [message.replace(str(missing), "<id>") for message in messages] == seen


@pytest.mark.parametrize("as_context", [lambda user: user, RequestContext], ids=["user", "object-with-user"])
async def test_another_user_in_the_run_context_gets_nothing(store, conversation, bob, alices_history, as_context):
    """A run whose context is Bob, on Alice's conversation: refused before the model is called."""
    model, agent = weather_agent()
    with pytest.raises(psycopg.errors.NoDataFound):
        await Runner.run(agent, "show me", session=ChatStoreSession(store, conversation), context=as_context(bob),
                         run_config=RUN)
    assert model.calls == ()

    intruder = ChatStoreSession(store, conversation)
    wrapper = RunContextWrapper(as_context(bob))
    for operation in (intruder.get_items(wrapper=wrapper), intruder.add_items(ITEMS, wrapper=wrapper),
                      intruder.pop_item(wrapper=wrapper), intruder.clear_session(wrapper=wrapper)):
        await assert_not_found(operation)


async def test_no_user_is_an_error_before_any_sql(settings, conversation):
    """Without a user (none given, no run context, a context with none), every method raises NoSessionUser,
    which says how to give one; the store's pool was never opened, so no SQL could have run."""
    never_opened = ChatStore(create_pool(settings))
    session = ChatStoreSession(never_opened, conversation)
    contexts = [None, RunContextWrapper(None), RunContextWrapper({"user": "alice"}),
                RunContextWrapper(RequestContext(user="alice"))]
    for wrapper in contexts:
        for operation in (session.get_items(wrapper=wrapper), session.get_items(3, wrapper=wrapper),
                          session.add_items(ITEMS, wrapper=wrapper), session.add_items([], wrapper=wrapper),
                          session.pop_item(wrapper=wrapper), session.clear_session(wrapper=wrapper)):
            with pytest.raises(NoSessionUser, match=r"pass user=User\(\.\.\.\).*context="):
                await operation

    model = ScriptedModel([[assistant_message("never")]])
    with pytest.raises(NoSessionUser):
        await Runner.run(Agent(name="a", model=model), "hi", session=session, run_config=RUN)
    assert model.calls == ()
    assert never_opened.pool.closed


async def test_the_given_user_wins_over_the_run_context(store, conversation, alice, bob, stored):
    """A session made for Alice acts for Alice, whatever the run's context says."""
    session = ChatStoreSession(store, conversation, alice)
    await session.add_items([{"role": "user", "content": "hi"}], wrapper=RunContextWrapper(bob))
    assert await session.get_items(wrapper=RunContextWrapper(bob)) == [{"role": "user", "content": "hi"}]
    assert len(stored(conversation)) == 1


# writes: all or nothing


async def test_concurrent_writers_store_adjacent_pairs(session, conversation, stored, sound):
    """8 writers each add a function call and its output at once: 16 rows, seq 1..16, each pair adjacent."""
    pairs = [[{"type": "function_call", "call_id": f"call_{n}", "name": "count", "arguments": json.dumps({"n": n})},
              {"type": "function_call_output", "call_id": f"call_{n}", "output": str(n)}] for n in range(8)]
    await asyncio.gather(*(session.add_items(pair) for pair in pairs))

    rows = stored(conversation)
    assert len(rows) == 16
    sound(conversation, 16)
    items = await session.get_items()
    seq_of = {(item["type"], item["call_id"]): position + 1 for position, item in enumerate(items)}
    for n in range(8):
        assert seq_of["function_call_output", f"call_{n}"] == seq_of["function_call", f"call_{n}"] + 1
    def canonical(item) -> str:
        return json.dumps(item, sort_keys=True)

    assert sorted(map(canonical, items)) == sorted(canonical(item) for pair in pairs for item in pair)


def oversize_output(call_id: str = "call_big") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "x" * MAX_MESSAGE_METADATA}


async def test_an_oversize_item_is_refused_by_name_and_its_batch_not_stored(session, conversation, stored,
                                                                            monkeypatch):
    """metadata over 1 MiB: ItemNotStorable names items[1] and its kind; nothing was sent, nothing stored."""
    await session.add_items([ITEMS[0]])
    spy = Spy(session.store, monkeypatch)
    too_large = rf"^items\[1\] \(function_call_output\): .* {MAX_MESSAGE_METADATA} bytes"
    with pytest.raises(ItemNotStorable, match=too_large) as refused:
        await session.add_items([ITEMS[3], oversize_output(), ITEMS[8]])
    assert (refused.value.index, refused.value.kind) == (1, "function_call_output")
    assert spy.calls == []

    with pytest.raises(ItemNotStorable, match=r"^items\[2\] \(message\): .*NUL"):
        await session.add_items([ITEMS[3], ITEMS[4], {"role": "user", "content": "a\x00b"}])
    with pytest.raises(ItemNotStorable, match=r"^items\[0\] \(reasoning\): .*NaN"):
        await session.add_items([{"type": "reasoning", "summary": [], "score": float("nan")}])
    with pytest.raises(ItemNotStorable, match=r"^items\[1\] \(str\): .*a JSON object"):
        await session.add_items([ITEMS[0], "hello"])
    assert spy.calls == []
    assert len(stored(conversation)) == 1


async def test_the_database_refuses_an_oversize_element_by_name(store, session, conversation, alice, stored):
    """Past the Python check, straight to ``append_messages``: SQLSTATE class 22 naming
    messages[1].metadata, and nothing of the batch stored."""
    rows = [{"role": "assistant", "content": "call", "metadata": {ITEM_KEY: ITEMS[3]}},
            {"role": "tool", "content": "big", "metadata": {ITEM_KEY: oversize_output()}},
            {"role": "assistant", "content": "reply", "metadata": {ITEM_KEY: ITEMS[8]}}]
    with pytest.raises(psycopg.DataError) as refused:
        await store.append_messages(alice, conversation, rows)
    assert refused.value.sqlstate.startswith("22")
    assert refused.value.diag.column_name == "messages[1].metadata"
    assert "messages[1].metadata" in str(refused.value)
    assert stored(conversation) == []
    assert await session.get_items() == []


async def test_an_empty_batch_sends_nothing_and_a_batch_over_1000_is_refused(session, conversation, stored,
                                                                             monkeypatch):
    """No items: no call. More than one append_messages takes (1000): TooManyItems, nothing sent; 1000 fit."""
    spy = Spy(session.store, monkeypatch)
    await session.add_items([])
    items = [{"role": "user", "content": f"line {n}"} for n in range(MAX_BATCH + 1)]
    with pytest.raises(TooManyItems, match="at most 1000 items"):
        await session.add_items(items)
    assert spy.calls == []
    assert stored(conversation) == []

    await session.add_items(items[:MAX_BATCH])
    assert spy.calls == [("append_messages", None)]
    assert len(stored(conversation)) == MAX_BATCH


async def test_a_cancelled_add_finishes_before_the_cancellation_is_raised(session, conversation, sound):
    """Cancelled while its transaction runs, add_items still stores the whole batch, then raises."""
    adding = asyncio.create_task(session.add_items(ITEMS))
    await asyncio.sleep(0)  # the batch is on its way
    adding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await adding
    assert await session.get_items() == ITEMS
    sound(conversation, len(ITEMS))


# the SDK's own session cases, on the store


async def test_an_empty_session_has_nothing(session):
    assert await session.get_items() == []
    assert await session.get_items(3) == []
    assert await session.pop_item() is None


async def test_adds_keep_their_order(session):
    batches = [[{"role": "user", "content": "Hello"}], [{"role": "assistant", "content": "Hi there!"}],
               [{"role": "user", "content": "How are you?"}, {"role": "assistant", "content": "Fine."}]]
    for batch in batches:
        await session.add_items(batch)
    assert await session.get_items() == [item for batch in batches for item in batch]


async def test_unicode_and_special_characters_are_stored_as_they_are(session, conversation, stored):
    texts = ["こんにちは", "😊👍", "Привет", "O'Reilly", "DROP TABLE chat.messages;",
             "Robert'); DROP TABLE students;--", '"SELECT * FROM users WHERE name = "admin";"', "\\x00 \\u0000",
             "e\u0301 \u202eevil\u202c 👩‍👩‍👧‍👦", "tab\tnew\nline"]
    items = [{"role": "user", "content": text} for text in texts]
    await session.add_items(items)
    assert await session.get_items() == items
    assert [row[2] for row in stored(conversation)] == texts


async def test_two_conversations_are_separate_sessions(store, session, conversation, alice):
    other = ChatStoreSession(store, (await store.create_conversation(alice)).id, alice)
    await session.add_items([{"role": "user", "content": "I like cats"}])
    await other.add_items([{"role": "user", "content": "I like dogs"}, {"role": "user", "content": "and birds"}])

    assert await other.pop_item() == {"role": "user", "content": "and birds"}
    assert await session.get_items() == [{"role": "user", "content": "I like cats"}]
    await session.clear_session()
    assert await other.get_items() == [{"role": "user", "content": "I like dogs"}]
    assert other.session_id != session.session_id


# the README's example

def readme_example() -> str:
    """The Python block of the README's section "As an agent's memory", as it is written there."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## As an agent's memory"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("\n```\n")]


async def test_the_readme_example_works_as_written(settings, monkeypatch, alice, db):
    """The example runs unchanged against the database the service is configured for (its settings from the
    environment, as get_settings reads them); only the agent's model is swapped for a scripted one, offline."""
    for name, value in {"DATABASE_URL": settings.database_url, "JWT_SECRET": "s" * 32}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    namespace: dict[str, Any] = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    model = ScriptedModel([
        [function_call("add_task", {"title": "milk"}, call_id="call-milk")],
        [assistant_message("Added milk.")],
        [assistant_message("You added milk.")],
    ])
    namespace["agent"].model = model
    try:
        assert await namespace["chat"](alice) == ["Added milk.", "You added milk."]
    finally:
        get_settings.cache_clear()
    (conversation,) = db.execute("select id from chat.conversations where user_id = %s and title = 'groceries'",
                                 [alice.id]).fetchone()
    assert db.execute("select role, content from chat.messages where conversation_id = %s order by seq",
                      [conversation]).fetchall() == [
        ("user", "Add milk to my list"), ("assistant", 'add_task({"title":"milk"})'), ("tool", "added 'milk'"),
        ("assistant", "Added milk."), ("user", "What did I just add?"), ("assistant", "You added milk.")]
    # the second turn's model input held the first turn, read back from the database
    assert [item.get("type", "message") for item in model.calls[-1].input] == [
        "message", "function_call", "function_call_output", "message", "message"]
