"""Agent sessions compacted: the SDK's ``OpenAIResponsesCompactionSession`` over ``ChatStoreSession`` (its
fixtures in agent_sessions.py), with the fake ``responses.compact`` client of the SDK's own compaction tests
(no network), on a real PostgreSQL as the runtime role.

What is proven, the SDK's own cases (tests/memory/test_sqlalchemy_compaction.py, test_compaction_suffix.py and
test_openai_responses_compaction_session.py in the openai-agents 0.24.0 sdist) brought over to the store: an
automatic compaction after a turn replaces the suffix of the model's view that the turn matched, a manual one the
whole view, each in one ``chat.compact_messages`` and never by ``clear_session`` + ``add_items``; a tail changed
meanwhile (an append, a pop, a clear, another compaction, from another session) refuses the replacement and
writes nothing; a second compaction covers the first; compactions racing eight appending sessions lose nothing;
a compaction to no item writes nothing. On both views
every time: the model's (``get_items``) shows the summary in place of what it covers, people's
(``fetch_messages``) still every message, the summary's rows marked by ``summary_from``/``summary_through``.
And the SDK's private hooks this rests on are the ones the pinned SDK calls: a test fails when an upgrade
changes them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import logging
import tomllib
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from agents import Agent, RunConfig, Runner, function_tool
from agents.extensions.memory.encrypt_session import EncryptedSession
from agents.memory import OpenAIResponsesCompactionSession, SQLiteSession
from agents.memory.session import _CompactionSnapshot
from agents.testing import ScriptedModel, assistant_message, function_call

from agent_sessions import RUN, Spy, compaction_client, peoples_view, summary
from app.agent_session import ITEM_KEY, ChatStoreSession, EmptyCompaction
from conftest import ROOT


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


def reply(text: str = "done", item_id: str = "msg_done") -> dict[str, Any]:
    """The item an assistant_message step is stored as."""
    return assistant_message(text, item_id=item_id).model_dump(exclude_unset=True)


async def turn(session, text: str, answer: str = "done", *, streamed: bool = False, run_config: RunConfig = RUN):
    """One turn of an agent whose scripted model answers ``answer``."""
    agent = Agent(name="worker", model=ScriptedModel([[assistant_message(answer, item_id="msg_done")]]))
    if streamed:
        result = Runner.run_streamed(agent, text, session=session, run_config=run_config)
        async for _ in result.stream_events():
            pass
        return result
    return await Runner.run(agent, text, session=session, run_config=run_config)


def never_cleared(store, monkeypatch) -> None:
    """Compaction over this session must never fall back to the SDK's destructive clear_session + add_items."""

    async def refuse(*args, **kwargs):
        raise AssertionError("compaction cleared the conversation")

    monkeypatch.setattr(store, "clear_conversation", refuse)


def summaries(messages) -> list[tuple[int, int, int]]:
    """The summary rows of people's view: (seq, summary_from, summary_through)."""
    return [(m.seq, m.summary_from, m.summary_through) for m in messages if m.summary_from is not None]


def items_of(messages) -> list[Any]:
    return [m.metadata.get(ITEM_KEY) for m in messages]


# automatic compaction after a turn


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
async def test_automatic_compaction_replaces_the_visible_suffix_and_keeps_every_message(
        store, alices_conversation, alice, monkeypatch, sound, streamed):
    """SQLAlchemy's test_limited_sqlalchemy_compacts_visible_suffix: an older message the session's limit (20)
    hides, then 20 visible; the default decision compacts once, after the first turn, what that turn's model
    saw (22 items); the older one stays before the summary. Every message is still there for people."""
    session = ChatStoreSession(store, alices_conversation, alice, session_settings={"limit": 20})
    hidden = message("user", "older hidden history")
    visible = [message("assistant" if i % 2 else "user", f"visible {i}") for i in range(20)]
    await session.add_items([hidden, *visible])
    never_cleared(store, monkeypatch)
    client = compaction_client(summary())
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client)

    for number in range(5):
        await turn(compacting, f"turn {number}", streamed=streamed)

    client.responses.compact.assert_awaited_once()
    sent = client.responses.compact.call_args.kwargs["input"]
    assert len(sent) == 22 and sent[:20] == visible
    assert "older hidden history" not in json.dumps(client.responses.compact.call_args.kwargs)

    later = [item for number in range(1, 5) for item in (message("user", f"turn {number}"), reply())]
    assert await session.get_items(limit=100) == [hidden, summary(), *later]
    people = await peoples_view(store, alice, alices_conversation)
    assert items_of(people) == [hidden, *visible, message("user", "turn 0"), reply(), summary(), *later]
    assert summaries(people) == [(24, 2, 23)]
    assert people[23].role == "assistant" and people[23].content == "[compaction]"
    sound(alices_conversation, 32)


@pytest.mark.parametrize("operation", ["append", "pop", "clear", "compaction"])
async def test_a_tail_changed_meanwhile_refuses_the_replacement(store, alices_conversation, alice, monkeypatch,
                                                                operation):
    """SQLAlchemy's test_other_instance_mutation_invalidates_suffix (and the suffix tests'
    test_new_backend_write_invalidates_snapshot): while responses.compact runs, another session of the same
    conversation appends, pops, clears, or compacts. The snapshot's replacement is refused: no summary is
    written, and the history is what the other session left."""
    session = ChatStoreSession(store, alices_conversation, alice, session_settings={"limit": 20})
    original = [message("user", f"item {i}") for i in range(24)]
    await session.add_items(original)
    other = ChatStoreSession(store, alices_conversation, alice)
    newer = message("user", "concurrent")
    expected = [*original, message("user", "continue"), reply()]

    async def compact(**kwargs):
        if operation == "append":
            await other.add_items([newer])
            expected.append(newer)
        elif operation == "pop":
            assert await other.pop_item() == expected.pop()
        elif operation == "clear":
            await other.clear_session()
            expected.clear()
        else:
            assert await other._atomic_replace_items([summary(0)])
            expected[:] = [summary(0)]
        return SimpleNamespace(output=[summary()])

    client = compaction_client(side_effect=compact)
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client,
                                                  should_trigger_compaction=lambda _: True)
    await turn(compacting, "continue")

    client.responses.compact.assert_awaited_once()
    assert await session.get_items(limit=100) == expected
    people = await peoples_view(store, alice, alices_conversation)
    assert summary() not in items_of(people)
    if operation == "compaction":
        assert summaries(people) == [(27, 1, 26)]
    else:
        assert summaries(people) == []
        assert items_of(people) == expected


async def test_a_partial_snapshot_replaces_from_a_user_message(store, alices_conversation, alice, monkeypatch,
                                                               sound):
    """The suffix tests' limited case: the run's history is the latest item only, so the snapshot is partial and
    the SDK replaces from the turn's user message on; what came before stays, for the model too."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [message("user", "0"), message("assistant", "1"), message("user", "2"), message("assistant", "3")]
    await session.add_items(history)
    never_cleared(store, monkeypatch)
    client = compaction_client(summary())
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client, compaction_mode="input",
                                                  should_trigger_compaction=lambda _: True)
    await turn(compacting, "continue", run_config=RunConfig(tracing_disabled=True, session_settings={"limit": 1}))

    assert client.responses.compact.call_args.kwargs["input"] == [message("user", "continue"), reply()]
    assert await session.get_items() == [*history, summary()]
    people = await peoples_view(store, alice, alices_conversation)
    assert items_of(people) == [*history, message("user", "continue"), reply(), summary()]
    assert summaries(people) == [(7, 5, 6)]
    sound(alices_conversation, 7)


async def test_a_tool_call_and_its_output_are_never_split(store, alices_conversation, alice):
    """The suffix tests' test_partial_compaction_does_not_split_tool_call_and_output: a call and its output
    before the turn stay, whole, outside the replaced suffix."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [{"type": "function_call", "call_id": "call", "name": "lookup", "arguments": "{}"},
               {"type": "function_call_output", "call_id": "call", "output": "synthetic"}]
    await session.add_items(history)
    client = compaction_client(summary())
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client, compaction_mode="input",
                                                  should_trigger_compaction=lambda _: True)
    await turn(compacting, "continue", run_config=RunConfig(tracing_disabled=True, session_settings={"limit": 1}))

    client.responses.compact.assert_awaited_once()
    assert client.responses.compact.call_args.kwargs["input"][0] == message("user", "continue")
    assert await session.get_items() == [*history, summary()]


async def test_pending_tool_calls_are_not_compacted(store, alices_conversation, alice):
    """test_compaction_skips_when_tool_outputs_present: a run that stops on a tool call leaves nothing the SDK
    compacts, and nothing is written."""
    session = ChatStoreSession(store, alices_conversation, alice)
    client = compaction_client(summary())
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client,
                                                  should_trigger_compaction=lambda _: True)
    model = ScriptedModel([[function_call("lookup", {}, call_id="call-1")]])

    @function_tool
    def lookup() -> str:
        """Looks it up."""
        return "done"

    agent = Agent(name="worker", model=model, tools=[lookup], tool_use_behavior="stop_on_first_tool")
    await Runner.run(agent, "hello", session=compacting, run_config=RUN)

    client.responses.compact.assert_not_called()
    assert summaries(await peoples_view(store, alice, alices_conversation)) == []


# a second compaction over a first


async def test_a_second_automatic_compaction_covers_the_first(store, alices_conversation, alice, monkeypatch, sound):
    """Each turn compacted whole: the second summary's snapshot starts with the first summary, and stands in
    for everything the first one did too; people keep all six messages."""
    session = ChatStoreSession(store, alices_conversation, alice)
    never_cleared(store, monkeypatch)
    client = compaction_client(summary(1))
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client, compaction_mode="input",
                                                  should_trigger_compaction=lambda _: True)
    await turn(compacting, "first", "one")
    assert await session.get_items() == [summary(1)]

    client.responses.compact.return_value.output = [summary(2)]
    await turn(compacting, "second", "two")
    assert client.responses.compact.call_args.kwargs["input"] == [
        summary(1), message("user", "second"), reply("two")]
    assert await session.get_items() == [summary(2)]
    people = await peoples_view(store, alice, alices_conversation)
    assert items_of(people) == [message("user", "first"), reply("one"), summary(1),
                                message("user", "second"), reply("two"), summary(2)]
    assert summaries(people) == [(3, 1, 2), (6, 1, 5)]
    sound(alices_conversation, 6)


async def test_manual_compaction_replaces_the_whole_view_and_keeps_every_message(
        store, alices_conversation, alice, monkeypatch, sound):
    """Issue 25's case: a manual ``run_compaction`` of a 12-message conversation used to leave one row; now one
    compact_messages call writes the summary after the 12, which people still read, and the model's view is
    the summary. A second manual compaction, after two more messages, covers the first."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [message("assistant" if i % 2 else "user", f"message {i}") for i in range(12)]
    await session.add_items(history)
    never_cleared(store, monkeypatch)
    spy = Spy(store, monkeypatch)
    client = compaction_client(summary(1))
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client, compaction_mode="input")

    await compacting.run_compaction({"force": True})
    assert client.responses.compact.call_args.kwargs["input"] == history
    assert [name for name, _ in spy.calls if name != "fetch_context"] == ["compact_messages"]
    assert await compacting.get_items() == [summary(1)]
    people = await peoples_view(store, alice, alices_conversation)
    assert items_of(people) == [*history, summary(1)]
    assert summaries(people) == [(13, 1, 12)]
    assert [m.content for m in people[:12]] == [f"message {i}" for i in range(12)]

    await compacting.add_items([message("user", "more"), message("assistant", "ok")])
    client.responses.compact.return_value.output = [summary(2)]
    await compacting.run_compaction({"force": True})
    assert client.responses.compact.call_args.kwargs["input"] == [
        summary(1), message("user", "more"), message("assistant", "ok")]
    assert await session.get_items() == [summary(2)]
    assert summaries(await peoples_view(store, alice, alices_conversation)) == [(13, 1, 12), (16, 1, 15)]
    sound(alices_conversation, 16)


async def test_manual_compaction_by_previous_response_id(store, alices_conversation, alice, monkeypatch):
    """test_run_compaction_executes_when_threshold_met: with a response id, the server's chain is compacted
    (previous_response_id mode), and the result replaces the view, atomically here."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [message("assistant", f"msg{i}") for i in range(10)]
    await session.add_items(history)
    never_cleared(store, monkeypatch)
    client = compaction_client({"type": "compaction", "summary": "compacted"})
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client)

    await compacting.run_compaction({"response_id": "resp-123"})
    client.responses.compact.assert_awaited_once_with(previous_response_id="resp-123", model="gpt-4.1")
    assert await session.get_items() == [{"type": "compaction", "summary": "compacted"}]
    assert len(await peoples_view(store, alice, alices_conversation)) == 11


# compaction racing appends


async def test_compactions_racing_appends_lose_nothing(store, alices_conversation, alice, sound):
    """Eight sessions append while a whole-view replacement and a snapshot's suffix replacement run, all at once
    (9 connections of the pool): every item is in people's view once; each summary written covers exactly the
    messages before it, and the model's view is the last summary and what came after it. The suffix replacement
    is written only if nothing was appended after its snapshot, otherwise refused."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [message("user", f"old {n}") for n in range(10)]
    await session.add_items(history)
    snapshot = await session._get_compaction_snapshot(4)
    writers = [ChatStoreSession(store, alices_conversation, alice) for _ in range(8)]
    appended = [[message("user", f"writer {w} item {n}") for n in range(3)] for w in range(8)]

    outcomes = await asyncio.gather(
        session._atomic_replace_items([summary(1)]), snapshot.replace_suffix(0, [summary(2)]),
        *(writer.add_items(items) for writer, items in zip(writers, appended, strict=True)))
    replaced_whole, replaced_suffix = outcomes[:2]
    assert replaced_whole is True

    people = await peoples_view(store, alice, alices_conversation)
    stored = items_of(people)
    for item in [*history, *(item for items in appended for item in items)]:
        assert stored.count(item) == 1, item
    written = [(m.seq, m.summary_from, m.summary_through, m.metadata[ITEM_KEY]) for m in people if m.summary_from]
    assert summary(1) in [item for *_, item in written]
    assert (summary(2) in [item for *_, item in written]) is replaced_suffix
    for seq, first, through, item in written:
        assert through == seq - 1
        assert first == (7 if item == summary(2) else 1)
    last_seq, *_, last = written[-1]
    assert await session.get_items() == [last, *stored[last_seq:]]
    sound(alices_conversation, 10 + 24 + len(written))


# a compaction to nothing


async def test_a_compaction_to_no_item_writes_nothing(store, alices_conversation, alice, monkeypatch, caplog):
    """responses.compact answering no item (the SDK's tests' ``output=[]``): a summary of no row cannot stand
    in for anything. Automatic: the replacement is declined, the history kept. Manual: EmptyCompaction, and
    never the SDK's clear_session + add_items. Nothing is written either way."""
    session = ChatStoreSession(store, alices_conversation, alice)
    history = [message("assistant" if i % 2 else "user", f"message {i}") for i in range(4)]
    await session.add_items(history)
    never_cleared(store, monkeypatch)
    client = compaction_client()
    compacting = OpenAIResponsesCompactionSession(session.session_id, session, client=client, compaction_mode="input",
                                                  should_trigger_compaction=lambda _: True)
    with caplog.at_level(logging.WARNING, logger="openai-agents.openai.compaction"):
        await turn(compacting, "continue")
    client.responses.compact.assert_awaited_once()
    assert "Skipped compaction replacement" in caplog.text
    expected = [*history, message("user", "continue"), reply()]
    assert await session.get_items() == expected

    with pytest.raises(EmptyCompaction, match="nothing was written"):
        await compacting.run_compaction({"force": True})
    assert client.responses.compact.await_count == 2
    assert await session.get_items() == expected
    people = await peoples_view(store, alice, alices_conversation)
    assert items_of(people) == expected and summaries(people) == []


# the snapshot hook itself


async def test_the_snapshot_is_the_latest_items_of_the_view_without_the_budget(store, alices_conversation, alice):
    """``_get_compaction_snapshot(n)``: the latest n items of the model's view, whatever the session's budget;
    complete when they are all of it; the summary in place of what it covers; a replacement from an index out
    of the snapshot, or by no item, or of an empty conversation, writes nothing."""
    session = ChatStoreSession(store, alices_conversation, alice, max_tokens=1)
    empty = await session._get_compaction_snapshot(4)
    assert (empty.items, empty.complete) == ([], True)
    assert not await empty.replace_suffix(0, [summary()])
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="from_seq"):  # nothing to stand in for
        await session._atomic_replace_items([summary()])
    history = [message("user", f"message {i}") for i in range(6)]
    await session.add_items(history)

    snapshot = await session._get_compaction_snapshot(4)
    assert (snapshot.items, snapshot.complete) == (history[-4:], False)
    whole = await session._get_compaction_snapshot(6)
    assert (whole.items, whole.complete) == (history, True)
    assert not await snapshot.replace_suffix(4, [summary()])
    assert not await snapshot.replace_suffix(-1, [summary()])
    assert not await snapshot.replace_suffix(0, [])

    assert await snapshot.replace_suffix(2, [summary()])
    assert await ChatStoreSession(store, alices_conversation, alice).get_items() == [*history[:4], summary()]
    assert await session.get_items() == [summary()]  # the budget's view: the newest item
    assert not await snapshot.replace_suffix(2, [summary(2)])  # the tail changed: the summary is the last now
    after = await session._get_compaction_snapshot(10)
    assert (after.items, after.complete) == ([*history[:4], summary()], True)
    assert summaries(await peoples_view(store, alice, alices_conversation)) == [(7, 5, 6)]


# the SDK's private hooks, pinned


def test_the_sdk_is_the_pinned_version_whose_compaction_hooks_this_session_implements():
    """``_get_compaction_snapshot`` and ``_atomic_replace_items`` are private to the Agents SDK: when an upgrade
    changes how its compaction session finds or calls them, or what a snapshot is, this fails, and
    app/agent_session.py must be checked against the new SDK before the pin moves."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pinned = next(package["version"] for package in lock["package"] if package["name"] == "openai-agents")
    assert version("openai-agents") == pinned == "0.24.0"

    # what a snapshot is: frozen, its items, whether they are the whole history, replace_suffix(start, output)
    assert dataclasses.is_dataclass(_CompactionSnapshot) and _CompactionSnapshot.__dataclass_params__.frozen
    assert {field.name: field.type for field in dataclasses.fields(_CompactionSnapshot)} == {
        "items": "list[TResponseInputItem]",
        "complete": "bool",
        "replace_suffix": "Callable[[int, list[TResponseInputItem]], Awaitable[bool]]",
    }

    # how the compaction session finds and calls them
    compaction = inspect.getsource(OpenAIResponsesCompactionSession)
    for call in ('getattr(self.underlying_session, "_get_compaction_snapshot", None)',
                 "snapshot = await read_snapshot(len(model_items) + 1)",
                 "await snapshot.replace_suffix(suffix_start, output_items)",
                 'getattr(type(self.underlying_session), "_atomic_replace_items", None)',
                 "await atomic_replace(self.underlying_session, output_items)"):
        assert call in compaction, f"the SDK's compaction session no longer does {call}"
    assert "reader(limit, prune_prefix=is_expired)" in inspect.getsource(EncryptedSession)

    # the signature the SDK's own backends give the snapshot hook, and this session's
    def shape(function) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(ChatStoreSession._get_compaction_snapshot) == shape(SQLiteSession._get_compaction_snapshot)
    assert shape(ChatStoreSession._atomic_replace_items) == [
        ("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty),
        ("items", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty)]
