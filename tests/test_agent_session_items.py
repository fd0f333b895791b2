"""Agent sessions' items: ``ChatStoreSession`` (the Agents SDK's session memory over the store, its fixtures
in agent_sessions.py) on a real PostgreSQL as the runtime role.

What is proven: every kind of item comes back exactly as it was added, one message row each, and rows the
HTTP API wrote come back as plain messages; ``limit`` and ``SessionSettings`` give the latest items, long
histories read in pages back from the newest (chat.fetch_context); a batch is stored whole or not at all, its
oversize item named, concurrent batches each adjacent; pop and clear keep ``seq`` gapless and ``message_count`` exact; the SDK's own session cases.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from agents import Agent, Runner
from agents.memory import Session, SessionSettings
from agents.memory.session import _session_accepts_wrapper
from agents.testing import ScriptedModel, assistant_message

from agent_sessions import ITEMS, RUN, Spy
from app.agent_session import ITEM_KEY, MAX_BATCH, ChatStoreSession, ItemNotStorable, TooManyItems
from app.models import MAX_CONTENT, MAX_MESSAGE_METADATA
from stored_data import MESSAGE_FIELDS, stored_messages

KIB = 1024


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


# every kind of item

ROLES = ["user", "system", "system", "assistant", "tool", "assistant", "assistant", "assistant", "assistant"]
CONTENTS = ["What is the weather in Paris?", "You are terse.", "Answer in French.",
            'get_weather({"city": "Paris"})', "sunny, 21 °C", "The tool says sunny.", "web search: Paris weather",
            "file search: forecast, Paris", "Il fait beau (21 °C).\nPas de prévisions à dix jours."]


def test_the_session_is_an_sdk_session_that_takes_the_run_context(session, alices_conversation):
    """The SDK sees a Session whose four methods all take ``wrapper``: it hands them the run context."""
    assert isinstance(session, Session)
    assert _session_accepts_wrapper(session)
    assert session.session_id == str(alices_conversation)
    assert session.session_settings == SessionSettings()
    assert ChatStoreSession(None, str(alices_conversation), session_settings={"limit": 4}).session_settings.limit == 4


async def test_every_kind_of_item_comes_back_exactly(session, alices_conversation, db, sound):
    """Easy, system and developer messages, a function call and its output, reasoning with encrypted
    content, hosted web and file search calls, an output message with annotations and a refusal: each is
    one row with a readable content and a fitting role, and comes back equal, oldest first."""
    await session.add_items(ITEMS)

    assert await session.get_items() == json_round_trip(ITEMS)
    rows = stored_messages(db, alices_conversation, MESSAGE_FIELDS)
    assert [row[1] for row in rows] == ROLES
    assert [row[2] for row in rows] == CONTENTS
    assert [row[3] for row in rows] == [{ITEM_KEY: item} for item in ITEMS]
    assert [row[4] for row in rows] == [None] * len(ITEMS)
    sound(alices_conversation, len(ITEMS))


async def test_large_tool_output_and_encrypted_reasoning_round_trip(session, alices_conversation, db):
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
    rows = stored_messages(db, alices_conversation, MESSAGE_FIELDS)
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


async def test_session_settings_limit_is_the_default(store, alices_conversation, alice):
    """``SessionSettings(limit=3)`` gives the latest 3 when no limit is asked; an explicit one overrides it."""
    await ChatStoreSession(store, alices_conversation, alice).add_items(
        [{"role": "user", "content": f"message {n}"} for n in range(10)])

    limited = ChatStoreSession(store, alices_conversation, alice, session_settings=SessionSettings(limit=3))
    assert [item["content"] for item in await limited.get_items()] == ["message 7", "message 8", "message 9"]
    assert [item["content"] for item in await limited.get_items(limit=1)] == ["message 9"]
    assert len(await limited.get_items(limit=50)) == 10
    nothing = ChatStoreSession(store, alices_conversation, alice, session_settings={"limit": 0})
    assert await nothing.get_items() == []


async def test_a_history_of_one_page_is_read_in_one_round_trip(session, alices_conversation, monkeypatch):
    """1,000 items, a page exactly: the whole history, and the latest 50, each in one call, the page's first
    message, seq 1, telling that nothing comes before it."""
    items = [{"type": "function_call_output", "call_id": f"call_{n}", "output": f"result {n}"} for n in range(1000)]
    await session.add_items(items)
    spy = Spy(session.store, monkeypatch)
    assert await session.get_items() == items
    assert (spy.round_trips, spy.calls) == (1, [("fetch_context", 1000)])
    spy.calls.clear()
    spy.round_trips = 0
    assert await session.get_items(50) == items[-50:]
    assert (spy.round_trips, spy.calls) == (1, [("fetch_context", 50)])


async def test_long_history_is_read_in_pages(session, alices_conversation, monkeypatch, sound):
    """2,500 items: read whole, and with limit 1,500, 1,000 and 3,000, in pages of at most 1,000 rows, back
    from the newest."""
    items = [{"type": "function_call_output", "call_id": f"call_{n}", "output": f"result {n}"} for n in range(2500)]
    for start in range(0, len(items), 1000):
        await session.add_items(items[start:start + 1000])
    spy = Spy(session.store, monkeypatch)

    assert await session.get_items() == items
    assert spy.calls == [("fetch_context", 1000)] * 3
    assert spy.round_trips == 3
    spy.calls.clear()

    assert await session.get_items(1500) == items[-1500:]
    assert spy.calls == [("fetch_context", 1000), ("fetch_context", 500)]
    spy.calls.clear()

    assert await session.get_items(1000) == items[-1000:]
    assert spy.calls == [("fetch_context", 1000)]
    spy.calls.clear()

    assert await session.get_items(3000) == items
    assert max(limit for _, limit in spy.calls) == 1000
    assert await session.get_items(2499) == items[1:]
    sound(alices_conversation, 2500)


# writes: all or nothing


async def test_concurrent_writers_store_adjacent_pairs(session, alices_conversation, db, sound):
    """8 writers each add a function call and its output at once: 16 rows, seq 1..16, each pair adjacent."""
    pairs = [[{"type": "function_call", "call_id": f"call_{n}", "name": "count", "arguments": json.dumps({"n": n})},
              {"type": "function_call_output", "call_id": f"call_{n}", "output": str(n)}] for n in range(8)]
    await asyncio.gather(*(session.add_items(pair) for pair in pairs))

    rows = stored_messages(db, alices_conversation, MESSAGE_FIELDS)
    assert len(rows) == 16
    sound(alices_conversation, 16)
    items = await session.get_items()
    seq_of = {(item["type"], item["call_id"]): position + 1 for position, item in enumerate(items)}
    for n in range(8):
        assert seq_of["function_call_output", f"call_{n}"] == seq_of["function_call", f"call_{n}"] + 1
    def canonical(item) -> str:
        return json.dumps(item, sort_keys=True)

    assert sorted(map(canonical, items)) == sorted(canonical(item) for pair in pairs for item in pair)


def oversize_output(call_id: str = "call_big") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "x" * MAX_MESSAGE_METADATA}


async def test_an_oversize_item_is_refused_by_name_and_its_batch_not_stored(session, alices_conversation, db,
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
    assert len(stored_messages(db, alices_conversation, MESSAGE_FIELDS)) == 1


async def test_the_database_refuses_an_oversize_element_by_name(store, session, alices_conversation, alice, db):
    """Past the Python check, straight to ``append_messages``: SQLSTATE class 22 naming
    messages[1].metadata, and nothing of the batch stored."""
    rows = [{"role": "assistant", "content": "call", "metadata": {ITEM_KEY: ITEMS[3]}},
            {"role": "tool", "content": "big", "metadata": {ITEM_KEY: oversize_output()}},
            {"role": "assistant", "content": "reply", "metadata": {ITEM_KEY: ITEMS[8]}}]
    with pytest.raises(psycopg.DataError) as refused:
        await store.append_messages(alice, alices_conversation, rows)
    assert refused.value.sqlstate.startswith("22")
    assert refused.value.diag.column_name == "messages[1].metadata"
    assert "messages[1].metadata" in str(refused.value)
    assert stored_messages(db, alices_conversation, MESSAGE_FIELDS) == []
    assert await session.get_items() == []


async def test_an_empty_batch_sends_nothing_and_a_batch_over_1000_is_refused(session, alices_conversation, db,
                                                                             monkeypatch):
    """No items: no call. More than one append_messages takes (1000): TooManyItems, nothing sent; 1000 fit."""
    spy = Spy(session.store, monkeypatch)
    await session.add_items([])
    items = [{"role": "user", "content": f"line {n}"} for n in range(MAX_BATCH + 1)]
    with pytest.raises(TooManyItems, match="at most 1000 items"):
        await session.add_items(items)
    assert spy.calls == []
    assert stored_messages(db, alices_conversation, MESSAGE_FIELDS) == []

    await session.add_items(items[:MAX_BATCH])
    assert spy.calls == [("append_messages", None)]
    assert len(stored_messages(db, alices_conversation, MESSAGE_FIELDS)) == MAX_BATCH


async def test_a_cancelled_add_finishes_before_the_cancellation_is_raised(session, alices_conversation, sound):
    """Cancelled while its transaction runs, add_items still stores the whole batch, then raises."""
    adding = asyncio.create_task(session.add_items(ITEMS))
    await asyncio.sleep(0)  # the batch is on its way
    adding.cancel()
    with pytest.raises(asyncio.CancelledError):
        await adding
    assert await session.get_items() == ITEMS
    sound(alices_conversation, len(ITEMS))


# rows written otherwise


async def test_rows_written_through_the_store_come_back_as_plain_messages(store, session, alices_conversation, alice):
    """Rows without an item (the HTTP API's) are {role, content}; a tool row is the assistant's text,
    and a model run on them takes them as they are."""
    for role, content, metadata in [("system", "Be brief.", None), ("user", "hello", {"client": "web"}),
                                    ("assistant", "hi!", None), ("tool", "3 tasks due today", {"tool": "tasks"})]:
        await store.append_message(alice, alices_conversation, role, content, metadata)
    await session.add_items([{"role": "user", "content": "and tomorrow?"}])

    plain = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"},
             {"role": "assistant", "content": "hi!"}, {"role": "assistant", "content": "3 tasks due today"},
             {"role": "user", "content": "and tomorrow?"}]
    assert await session.get_items() == plain

    model = ScriptedModel([[assistant_message("nothing due")]])
    await Runner.run(Agent(name="a", model=model), "thanks", session=session, run_config=RUN)
    assert model.calls[-1].input == plain + [{"role": "user", "content": "thanks"}]


# pop and clear


async def test_pop_returns_the_latest_item_and_keeps_seq_gapless(session, alices_conversation, store, alice, sound):
    assert await session.pop_item() is None

    await session.add_items(ITEMS[:4])
    assert await session.pop_item() == ITEMS[3]
    assert await session.pop_item() == ITEMS[2]
    assert (await store.get_conversation(alice, alices_conversation)).message_count == 2
    sound(alices_conversation, 2)

    await session.add_items([ITEMS[8]])
    assert await session.get_items() == [ITEMS[0], ITEMS[1], ITEMS[8]]
    sound(alices_conversation, 3)

    for expected in (ITEMS[8], ITEMS[1], ITEMS[0]):
        assert await session.pop_item() == expected
    assert await session.pop_item() is None
    assert await session.get_items() == []
    sound(alices_conversation, 0)


async def test_clear_empties_the_session_and_keeps_the_conversation(session, alices_conversation, store, alice, sound):
    await session.add_items(ITEMS)
    await session.clear_session()

    assert await session.get_items() == []
    remaining = await store.get_conversation(alice, alices_conversation)
    assert remaining is not None and remaining.message_count == 0
    sound(alices_conversation, 0)

    await session.add_items(ITEMS[:2])
    assert await session.get_items() == ITEMS[:2]
    sound(alices_conversation, 2)
    await session.clear_session()
    await session.clear_session()
    sound(alices_conversation, 0)


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


async def test_unicode_and_special_characters_are_stored_as_they_are(session, alices_conversation, db):
    texts = ["こんにちは", "😊👍", "Привет", "O'Reilly", "DROP TABLE chat.messages;",
             "Robert'); DROP TABLE students;--", '"SELECT * FROM users WHERE name = "admin";"', "\\x00 \\u0000",
             "e\u0301 \u202eevil\u202c 👩‍👩‍👧‍👦", "tab\tnew\nline"]
    items = [{"role": "user", "content": text} for text in texts]
    await session.add_items(items)
    assert await session.get_items() == items
    assert [row[2] for row in stored_messages(db, alices_conversation, MESSAGE_FIELDS)] == texts


async def test_two_conversations_are_separate_sessions(store, session, alices_conversation, alice):
    other = ChatStoreSession(store, (await store.create_conversation(alice)).id, alice)
    await session.add_items([{"role": "user", "content": "I like cats"}])
    await other.add_items([{"role": "user", "content": "I like dogs"}, {"role": "user", "content": "and birds"}])

    assert await other.pop_item() == {"role": "user", "content": "and birds"}
    assert await session.get_items() == [{"role": "user", "content": "I like cats"}]
    await session.clear_session()
    assert await other.get_items() == [{"role": "user", "content": "I like dogs"}]
    assert other.session_id != session.session_id
