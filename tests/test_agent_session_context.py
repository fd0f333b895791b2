"""Agent sessions' context: what ``ChatStoreSession.get_items`` gives the model (its fixtures in
agent_sessions.py), on a real PostgreSQL as the runtime role.

What is proven: items are read from the model's view (``chat.fetch_context``), where a summary stands in for
what it covers, whole or by ``limit``, in pages back from the newest that never repeat, skip, nor show a
covered message, even when a page starts at a summary; a token budget (``max_tokens``) gives the newest items
that fit it, at, under and over an item's count, the newest always, and never a tool's output without its
call; items carry the database's estimate of their tokens unless a subclass gives a count.
"""

from __future__ import annotations

from typing import Any

import pytest
from agents import Agent, Runner
from agents.testing import ScriptedModel, assistant_message

from agent_sessions import RUN, Spy, peoples_view, summary
from app.agent_session import ITEM_KEY, ChatStoreSession
from app.identity import User
from app.models import MAX_TOKENS, AppendedMessage
from token_counts import estimate


def message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


class Counted(ChatStoreSession):
    """A session whose writer knows each item's count of tokens (as ``app.agent`` may from a model's usage):
    ``counts`` maps an item's readable content to it, and its ``_append`` gives each row its count."""

    def __init__(self, *args, counts: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.counts = counts

    async def _append(self, user: User, rows: list[dict[str, Any]]) -> list[AppendedMessage]:
        for row in rows:
            row["tokens"] = self.counts[row["content"]]
        return await super()._append(user, rows)


# token counts


async def test_items_carry_the_estimate_unless_the_writer_gives_a_count(store, session, alices_conversation, alice,
                                                                         db):
    """add_items gives no count: each row's tokens is the database's estimate of its item (the metadata that
    holds it, longer than its readable content), tokens_given NULL. A subclass that knows the counts gives them
    on the rows it stores."""
    items = [message("user", "What is the weather in Paris?"),
             {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Paris"}'}]
    await session.add_items(items)
    counted = Counted(store, alices_conversation, alice, counts={"sunny": 3})
    await counted.add_items([{"type": "function_call_output", "call_id": "c1", "output": "sunny"}])

    rows = db.execute("select content, metadata::text, tokens_given, tokens from chat.messages"
                      " where conversation_id = %s order by seq", [alices_conversation]).fetchall()
    contents = ["What is the weather in Paris?", 'get_weather({"city": "Paris"})', "sunny"]
    assert [row[0] for row in rows] == contents
    assert [row[2:] for row in rows] == [(None, estimate(contents[0], rows[0][1])),
                                         (None, estimate(contents[1], rows[1][1])), (3, 3)]
    assert estimate(contents[1], rows[1][1]) > estimate(contents[1])
    assert await session.get_items() == [*items, {"type": "function_call_output", "call_id": "c1", "output": "sunny"}]


def test_the_budget_is_checked_before_any_database_call(store, alices_conversation, alice):
    for wrong in (-1, MAX_TOKENS + 1):
        with pytest.raises(ValueError, match=f"max_tokens must be from 0 to {MAX_TOKENS}"):
            ChatStoreSession(store, alices_conversation, alice, max_tokens=wrong)
    for wrong in ("100", 1.5, True):
        with pytest.raises(TypeError, match="max_tokens must be an int or None"):
            ChatStoreSession(store, alices_conversation, alice, max_tokens=wrong)
    assert ChatStoreSession(store, alices_conversation, alice, max_tokens=MAX_TOKENS).max_tokens == MAX_TOKENS


# a token budget

TEN = {f"message {n}": 10 for n in range(5)}


@pytest.fixture
async def five_of_ten(store, alices_conversation, alice) -> list[dict[str, Any]]:
    """Five messages of 10 tokens each."""
    items = [message("assistant" if n % 2 else "user", f"message {n}") for n in range(5)]
    await Counted(store, alices_conversation, alice, counts=TEN).add_items(items)
    return items


@pytest.mark.parametrize(("max_tokens", "newest"), [
    (30, 3), (29, 2), (31, 3), (10, 1), (9, 1), (0, 1), (49, 4), (50, 5), (1000, 5)])
async def test_a_budget_gives_the_newest_items_that_fit(store, alices_conversation, alice, five_of_ten, monkeypatch,
                                                        max_tokens, newest):
    """At, under and over an item's count: the newest items whose counts sum to at most the budget; the newest
    one even alone over it. One call."""
    budgeted = ChatStoreSession(store, alices_conversation, alice, max_tokens=max_tokens)
    spy = Spy(store, monkeypatch)
    assert await budgeted.get_items() == five_of_ten[-newest:]
    assert spy.params == [("fetch_context", [alices_conversation, max_tokens, 1000, None])]


async def test_a_budget_within_a_limit(store, alices_conversation, alice, five_of_ten):
    """limit, or SessionSettings.limit, bounds the count as well; the budget still bounds the tokens."""
    budgeted = ChatStoreSession(store, alices_conversation, alice, max_tokens=1000)
    assert await budgeted.get_items(2) == five_of_ten[-2:]
    assert await budgeted.get_items(0) == []
    assert await budgeted.get_items(5000) == five_of_ten
    limited = ChatStoreSession(store, alices_conversation, alice, max_tokens=30, session_settings={"limit": 2})
    assert await limited.get_items() == five_of_ten[-2:]
    assert await limited.get_items(4) == five_of_ten[-3:]


CALL = {"type": "function_call", "call_id": "call_big", "name": "read_log", "arguments": "{}"}
OUTPUT = {"type": "function_call_output", "call_id": "call_big", "output": "the log"}


async def test_a_cut_never_starts_with_a_tool_output_without_its_call(store, alices_conversation, alice):
    """A call of 100 tokens, its output and a reply of 10: a budget that holds the reply and the output but not
    the call leaves the output out too; with the output newest, its call comes with it, over the budget."""
    counts = {"hello": 10, "read_log({})": 100, "the log": 10, "It is short.": 10}
    writer = Counted(store, alices_conversation, alice, counts=counts)
    await writer.add_items([message("user", "hello"), CALL, OUTPUT])
    budgeted = ChatStoreSession(store, alices_conversation, alice, max_tokens=15)
    assert await budgeted.get_items() == [CALL, OUTPUT]

    await writer.add_items([message("assistant", "It is short.")])
    cut = ChatStoreSession(store, alices_conversation, alice, max_tokens=25)
    assert await cut.get_items() == [message("assistant", "It is short.")]
    assert await ChatStoreSession(store, alices_conversation, alice, max_tokens=130).get_items() == [
        message("user", "hello"), CALL, OUTPUT, message("assistant", "It is short.")]

    model = ScriptedModel([[assistant_message("ok")]])
    await Runner.run(Agent(name="a", model=model), "and now?", session=cut, run_config=RUN)
    assert model.calls[0].input == [message("assistant", "It is short."), message("user", "and now?")]


async def test_a_budget_reads_the_summary_in_place_of_what_it_covers(store, alices_conversation, alice,
                                                                     five_of_ten):
    """After a compaction of messages 3..5, the budget reads the summary, then the messages before it."""
    await store.compact_messages(alice, alices_conversation, 3, [
        {"role": "assistant", "content": "[compaction]", "metadata": {ITEM_KEY: summary()}, "tokens": 10}])
    budgeted = ChatStoreSession(store, alices_conversation, alice, max_tokens=20)
    assert await budgeted.get_items() == [five_of_ten[1], summary()]
    assert len(await peoples_view(store, alice, alices_conversation)) == 6


# the model's view, in pages


async def test_the_whole_view_is_read_in_pages_that_step_over_a_summary(store, session, alices_conversation, alice,
                                                                        monkeypatch):
    """1,100 messages, a summary of 101..1100, then 999 more: the view is 1..100, the summary, 1102..2100
    (1,100 items). Read whole, its newest page of 1,000 starts at the summary, and the page before it is the
    view before the summary's range (1..100), not the messages it covers; with limits across the boundary the
    same. Never a covered message, never one twice."""
    items = [message("user", f"m{seq}") for seq in range(1, 2101)]
    await session.add_items(items[:1000])
    await session.add_items(items[1000:1100])
    await store.compact_messages(alice, alices_conversation, 101, [
        {"role": "assistant", "content": "[compaction]", "metadata": {ITEM_KEY: summary()}}])
    await session.add_items(items[1101:2100])  # seq 1102..2100: the item of seq n is items[n - 1]
    view = [*items[:100], summary(), *items[1101:2100]]

    spy = Spy(store, monkeypatch)
    assert await session.get_items() == view
    assert [params[3] for _, params in spy.params] == [None, 101]
    assert await session.get_items(1000) == view[-1000:]
    assert await session.get_items(1001) == view[-1001:]
    assert await session.get_items(1050) == view[-1050:]
    assert await session.get_items(5000) == view
    assert len(await peoples_view(store, alice, alices_conversation)) == 2100


async def test_a_summary_of_everything_ends_the_view(store, session, alices_conversation, alice, monkeypatch):
    """1,000 messages and a summary of all of them, then 999 more: the whole view, 1,000 items, comes in one
    call, the page starting at a summary of everything."""
    await session.add_items([message("user", f"m{n}") for n in range(1000)])
    assert await session._atomic_replace_items([summary()])
    later = [message("user", f"later {n}") for n in range(999)]
    await session.add_items(later)

    spy = Spy(store, monkeypatch)
    assert await session.get_items() == [summary(), *later]
    assert spy.calls == [("fetch_context", 1000)]
