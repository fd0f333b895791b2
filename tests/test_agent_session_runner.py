"""Agent sessions under the Runner: ``ChatStoreSession`` (its fixtures in agent_sessions.py) with the SDK's
scripted model (no network), on a real PostgreSQL as the runtime role.

What is proven: the Runner (``run``, ``run_sync``, ``run_streamed``) finds the turn before in the database; the
user comes from the run's context when the session has none; a run's ``SessionSettings`` bound the history;
the README's example runs as written.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from agents import Agent, RunConfig, RunContextWrapper, Runner
from agents.memory import SessionSettings
from agents.testing import ScriptedModel, assistant_message, function_call

from agent_sessions import RUN, RequestContext, weather_agent
from app.agent_session import ChatStoreSession
from app.database import create_pool
from app.settings import get_settings
from app.store import ChatStore
from conftest import ROOT
from stored_data import MESSAGE_FIELDS, stored_messages


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


async def test_runner_run_remembers_the_turn_before(session, alices_conversation, db, sound):
    model, agent = weather_agent()
    first = await Runner.run(agent, "What is the weather in Paris?", session=session, run_config=RUN)
    second = await Runner.run(agent, "What did I ask?", session=session, run_config=RUN)

    assert (first.final_output, second.final_output) == ("It is sunny in Paris.", "You asked about Paris.")
    history = await session.get_items()
    assert_turn_two_saw_turn_one(model, history)
    assert [row[1] for row in stored_messages(db, alices_conversation, MESSAGE_FIELDS)] == [
        "user", "assistant", "tool", "assistant", "user", "assistant"]
    sound(alices_conversation, 6)


async def test_runner_run_streamed_remembers_the_turn_before(session, alices_conversation, sound):
    model, agent = weather_agent()
    for text in ("What is the weather in Paris?", "What did I ask?"):
        result = Runner.run_streamed(agent, text, session=session, run_config=RUN)
        async for _ in result.stream_events():
            pass
    assert result.final_output == "You asked about Paris."
    assert_turn_two_saw_turn_one(model, await session.get_items())
    sound(alices_conversation, 6)


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


@pytest.mark.parametrize("as_context", [lambda user: user, RequestContext], ids=["user", "object-with-user"])
async def test_the_user_comes_from_the_run_context(store, alices_conversation, alice, db, as_context):
    """A session made without a user acts for the run's context: a User, or an object whose .user is one."""
    _, agent = weather_agent()
    session = ChatStoreSession(store, alices_conversation)
    await Runner.run(agent, "What is the weather in Paris?", session=session, context=as_context(alice),
                     run_config=RUN)

    assert len(stored_messages(db, alices_conversation, MESSAGE_FIELDS)) == 4
    assert len(await session.get_items(wrapper=RunContextWrapper(as_context(alice)))) == 4


async def test_runner_session_settings_limit_bounds_the_history(session):
    """A run's ``SessionSettings(limit=2)`` sends the model the latest 2 items and the new message."""
    history = [{"role": "user", "content": f"turn {n}"} for n in range(5)]
    await session.add_items(history)
    model = ScriptedModel([[assistant_message("ok")]])
    await Runner.run(Agent(name="a", model=model), "now", session=session,
                     run_config=RunConfig(tracing_disabled=True, session_settings=SessionSettings(limit=2)))

    assert model.calls[-1].input == history[-2:] + [{"role": "user", "content": "now"}]


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
