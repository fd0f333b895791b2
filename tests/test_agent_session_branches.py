"""Agent sessions' branches: ``ChatStoreSession.create_branch_from_turn``, ``switch_to_branch``, ``list_branches``
and ``pop_item`` on a conversation's tree (its fixtures in agent_sessions.py), under the SDK's Runner with a
scripted model (no network), on a real PostgreSQL as the runtime role.

What is proven: a run after a branch from an earlier turn stores its input as a new version of that turn's user
message (a sibling in the database) and its items after it, in one round trip; each path gives back exactly the
items added to it; a run after a switch continues the chosen branch; the branches are listed with their leaves,
sizes and the current one; every operation is one round trip, refuses another user's conversation as a missing
one and changes nothing; bad arguments; pop_item on an older branch is this module's error; long conversations.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from agents import Agent, RunContextWrapper, Runner
from agents.testing import ScriptedModel, assistant_message, function_call

from agent_sessions import RUN, get_weather
from app.agent_session import (
    BranchPoint,
    BranchStartsWithUserMessage,
    ChatStoreSession,
    NoSessionUser,
    NotNewestItem,
)
from stored_data import head_of


def json_round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


class RecordingSession(ChatStoreSession):
    """Remembers every batch of items added, as the database gives them back (after a JSON round trip)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[list[dict[str, Any]]] = []

    async def add_items(self, items, *, wrapper=None) -> None:
        await super().add_items(items, wrapper=wrapper)
        self.batches.append(json_round_trip(items))


def tree(db, conversation) -> list[tuple]:
    """(seq, parent_seq, role, content) of every message, by seq, as the superuser sees them."""
    return db.execute("select seq, parent_seq, role, content from chat.messages where conversation_id = %s"
                      " order by seq", [conversation]).fetchall()



class RoundTrips:
    """Counts the store's round trips (one ``_exchange`` each)."""

    def __init__(self, store, monkeypatch) -> None:
        self.count = 0
        exchange = store._exchange

        async def counted(*args, **kwargs):
            self.count += 1
            return await exchange(*args, **kwargs)

        monkeypatch.setattr(store, "_exchange", counted)

    async def of(self, operation) -> Any:
        before = self.count
        result = await operation
        assert self.count - before == 1
        return result


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def reply(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


# a run, a branch from an earlier turn, a run on it, a switch back, a run there


async def test_a_branch_from_an_earlier_turn_under_the_runner(store, alices_conversation, alice, db, sound,
                                                              monkeypatch):
    model = ScriptedModel([
        [assistant_message("Hello Ann.", item_id="msg-1")],
        [function_call("get_weather", {"city": "Paris"}, call_id="call-paris")],
        [assistant_message("It is sunny in Paris.", item_id="msg-2")],
        [function_call("get_weather", {"city": "Rome"}, call_id="call-rome")],
        [assistant_message("It is sunny in Rome.", item_id="msg-3")],
        [assistant_message("You asked about Paris.", item_id="msg-4")],
    ])
    agent = Agent(name="weather", model=model, tools=[get_weather])
    session = RecordingSession(store, alices_conversation, alice)
    trips = RoundTrips(store, monkeypatch)

    await Runner.run(agent, "I am Ann.", session=session, run_config=RUN)
    await Runner.run(agent, "What is the weather in Paris?", session=session, run_config=RUN)
    first_path = [item for batch in session.batches for item in batch]
    assert len(first_path) == 6
    assert await session.get_items() == first_path
    assert await trips.of(session.list_branches()) == [
        {"branch_id": 1, "leaf_seq": 6, "item_count": 6, "user_turns": 2, "is_current": True}]

    # the branch from turn 2 holds turn 1; nothing is written until the next run
    before = tree(db, alices_conversation)
    branch = await trips.of(session.create_branch_from_turn(2))
    assert branch == 3 and tree(db, alices_conversation)[2] == (3, 2, "user", "What is the weather in Paris?")
    assert session.branch_point == BranchPoint(turn=2, seq=3, parent_seq=2)
    assert await session.get_items() == first_path[:2]
    assert await session.get_items(1) == first_path[1:2]
    assert tree(db, alices_conversation) == before

    batches = len(session.batches)
    result = await Runner.run(agent, "What is the weather in Rome?", session=session, run_config=RUN)
    assert result.final_output == "It is sunny in Rome."
    assert session.branch_point is None
    # the model saw turn 1 and the new input, not the replaced turn
    assert model.calls[3].input == first_path[:2] + [user("What is the weather in Rome?")]
    second_path = first_path[:2] + [item for batch in session.batches[batches:] for item in batch]
    assert len(second_path) == 6
    assert await session.get_items() == second_path

    # in the database: the new input is a version of the replaced message, beside it; its run follows it
    rows = tree(db, alices_conversation)
    assert rows[:6] == before
    assert rows[6] == (7, 2, "user", "What is the weather in Rome?")
    assert rows[6][1] == rows[2][1]
    assert [row[1] for row in rows[7:]] == [7, 8, 9]
    assert head_of(db, alices_conversation) == 10
    assert await trips.of(session.list_branches()) == [
        {"branch_id": 3, "leaf_seq": 6, "item_count": 6, "user_turns": 2, "is_current": False},
        {"branch_id": 7, "leaf_seq": 10, "item_count": 6, "user_turns": 2, "is_current": True}]

    # back to the first branch: its items, and a run continues it
    await trips.of(session.switch_to_branch(3))
    assert head_of(db, alices_conversation) == 6
    assert await session.get_items() == first_path
    batches = len(session.batches)
    result = await Runner.run(agent, "What did I ask?", session=session, run_config=RUN)
    assert result.final_output == "You asked about Paris."
    assert model.calls[-1].input == first_path + [user("What did I ask?")]
    first_path += [item for batch in session.batches[batches:] for item in batch]
    assert await session.get_items() == first_path
    assert [row[1] for row in tree(db, alices_conversation)[10:]] == [6, 11]
    assert await session.list_branches() == [
        {"branch_id": 3, "leaf_seq": 12, "item_count": 8, "user_turns": 3, "is_current": True},
        {"branch_id": 7, "leaf_seq": 10, "item_count": 6, "user_turns": 2, "is_current": False}]

    # and to the second again
    await session.switch_to_branch(7)
    assert await session.get_items() == second_path
    sound(alices_conversation, 12)


async def test_the_branch_is_written_in_one_round_trip(store, session, alices_conversation, db, monkeypatch):
    """The first item through chat.edit_message, the rest through chat.append_messages: one transaction, one
    round trip; a branch of one item is the edit alone."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    trips = RoundTrips(store, monkeypatch)
    await session.create_branch_from_turn(2)
    await trips.of(session.add_items([user("deux"), reply("2'"), user("trois")]))
    assert tree(db, alices_conversation)[4:] == [(5, 2, "user", "deux"), (6, 5, "assistant", "2'"),
                                                  (7, 6, "user", "trois")]
    await session.create_branch_from_turn(3)
    await trips.of(session.add_items([user("three")]))
    assert tree(db, alices_conversation)[7:] == [(8, 6, "user", "three")]
    assert await session.get_items() == [user("one"), reply("1"), user("deux"), reply("2'"), user("three")]


async def test_a_branch_from_the_first_turn(session, alices_conversation, db, sound):
    """The branch from turn 1 holds nothing; its first message is a second first message."""
    await session.add_items([user("one"), reply("1")])
    assert await session.create_branch_from_turn(1) == 1
    assert await session.get_items() == []
    assert await session.pop_item() is None  # its view is empty
    await session.add_items([user("uno"), reply("I")])
    assert await session.get_items() == [user("uno"), reply("I")]
    assert tree(db, alices_conversation) == [(1, None, "user", "one"), (2, 1, "assistant", "1"),
                                             (3, None, "user", "uno"), (4, 3, "assistant", "I")]
    assert await session.list_branches() == [
        {"branch_id": 1, "leaf_seq": 2, "item_count": 2, "user_turns": 1, "is_current": False},
        {"branch_id": 3, "leaf_seq": 4, "item_count": 2, "user_turns": 1, "is_current": True}]
    await session.switch_to_branch(1)
    assert await session.get_items() == [user("one"), reply("1")]
    sound(alices_conversation, 4)


async def test_the_pending_branch_within_a_token_budget(store, alices_conversation, alice):
    """With max_tokens, the pending branch's view is read within the budget too."""
    session = ChatStoreSession(store, alices_conversation, alice, max_tokens=100_000)
    items = [user("one"), reply("1"), user("two"), reply("2")]
    await session.add_items(items)
    await session.create_branch_from_turn(2)
    assert await session.get_items() == items[:2]
    assert await session.get_items(1) == items[1:2]


async def test_turns_are_numbered_in_the_pending_branch(session):
    """A second create_branch_from_turn numbers the turns of the pending branch, and replaces it."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2"), user("three")])
    await session.create_branch_from_turn(3)
    with pytest.raises(ValueError, match="turn_number 3 is no turn of this session: it has 2 turns"):
        await session.create_branch_from_turn(3)
    assert session.branch_point.turn == 3
    assert await session.create_branch_from_turn(2) == 3
    assert await session.get_items() == [user("one"), reply("1")]


async def test_turns_are_the_users_messages(session):
    """As AdvancedSQLiteSession counts them: items of role user; an MCP approval response, stored as the user's,
    is no turn."""
    approval = {"type": "mcp_approval_response", "approval_request_id": "apr_1", "approve": True}
    await session.add_items([user("one"), approval, reply("1"), user("two")])
    with pytest.raises(ValueError, match="it has 2 turns"):
        await session.create_branch_from_turn(3)
    assert await session.create_branch_from_turn(2) == 4
    with pytest.raises(ValueError, match=r"it has 1 turn \(user messages\)"):
        await session.create_branch_from_turn(2)


# switching, clearing and popping


async def test_a_switch_or_a_clear_drops_the_pending_branch(session, alices_conversation, db):
    items = [user("one"), reply("1"), user("two"), reply("2")]
    await session.add_items(items)
    await session.create_branch_from_turn(2)
    await session.switch_to_branch(1)
    assert session.branch_point is None
    assert await session.get_items() == items
    await session.create_branch_from_turn(2)
    await session.clear_session()
    assert session.branch_point is None
    assert tree(db, alices_conversation) == []
    assert await session.list_branches() == []


async def test_pop_item_on_an_older_branch_is_refused(session, alices_conversation, db, snapshot):
    """Only the conversation's newest message can be popped: after a switch to an older branch, pop_item raises
    NotNewestItem, saying so, and nothing changes; on the newest branch it pops."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    await session.create_branch_from_turn(2)
    await session.add_items([user("deux"), reply("2'")])
    await session.switch_to_branch(3)
    before = snapshot()
    with pytest.raises(NotNewestItem, match="removes only the conversation's newest message") as refused:
        await session.pop_item()
    assert "(message 4; the newest is message 6)" in str(refused.value)
    assert isinstance(refused.value.__cause__, psycopg.errors.ObjectNotInPrerequisiteState)
    assert snapshot() == before

    await session.switch_to_branch(5)
    assert await session.pop_item() == reply("2'")
    assert await session.get_items() == [user("one"), reply("1"), user("deux")]


async def test_pop_item_with_a_pending_branch_is_refused(session, snapshot):
    """The pending branch has nothing stored; its last item has newer messages after it."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    await session.create_branch_from_turn(2)
    before = snapshot()
    with pytest.raises(NotNewestItem, match="branch from turn 2 is pending"):
        await session.pop_item()
    assert snapshot() == before
    assert session.branch_point is not None


async def test_the_head_back_on_a_message_with_versions(session, alices_conversation, db):
    """A branch's input popped (as the SDK's rewind does): the head goes back to the message before it, which the
    older version follows too; it is listed as the current path, with no branch_id, and the next items go on from
    it, beside the older version."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    await session.create_branch_from_turn(2)
    await session.add_items([user("deux")])
    assert await session.pop_item() == user("deux")
    assert head_of(db, alices_conversation) == 2
    assert await session.get_items() == [user("one"), reply("1")]
    assert await session.list_branches() == [
        {"branch_id": 1, "leaf_seq": 4, "item_count": 4, "user_turns": 2, "is_current": False},
        {"branch_id": None, "leaf_seq": 2, "item_count": 2, "user_turns": 1, "is_current": True}]
    await session.add_items([user("dos")])
    assert tree(db, alices_conversation)[4] == (5, 2, "user", "dos")
    assert [entry["branch_id"] for entry in await session.list_branches()] == [3, 5]


# refusals


async def test_the_first_item_of_a_branch_must_be_a_user_message(session, alices_conversation, db):
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    await session.create_branch_from_turn(2)
    before = tree(db, alices_conversation)
    for items in ([reply("not a user's")], [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                                             user("two")]):
        with pytest.raises(BranchStartsWithUserMessage, match="the first item added must be a user message"):
            await session.add_items(items)
    assert tree(db, alices_conversation) == before
    assert session.branch_point.seq == 3
    await session.add_items([])  # nothing to write: the branch point stays
    assert session.branch_point.seq == 3


async def test_bad_arguments(session, alices_conversation, snapshot):
    await session.add_items([user("one"), reply("1"), user("two")])
    before = snapshot()
    for turn in (0, -1):
        with pytest.raises(ValueError, match=f"turn_number must be 1 or more.*not {turn}"):
            await session.create_branch_from_turn(turn)
    with pytest.raises(ValueError, match="turn_number 3 is no turn of this session: it has 2 turns"):
        await session.create_branch_from_turn(3)
    for turn in ("1", 1.0, True, None):
        with pytest.raises(TypeError, match="turn_number must be an int"):
            await session.create_branch_from_turn(turn)
    for branch_id in (99, 0, -3):
        with pytest.raises(ValueError, match=f"branch_id {branch_id}|branch_id must be"):
            await session.switch_to_branch(branch_id)
    for branch_id in ("1", None, False):
        with pytest.raises(TypeError, match="branch_id must be an int"):
            await session.switch_to_branch(branch_id)
    assert session.branch_point is None
    assert snapshot() == before

    empty = ChatStoreSession(session.store, (await session.store.create_conversation(session.user)).id,
                             session.user)
    with pytest.raises(ValueError, match="it has 0 turns"):
        await empty.create_branch_from_turn(1)


async def test_a_summary_that_opens_with_the_users_message(session):
    """After a compaction whose output opens with a user message (as responses.compact's does), the turns are the
    model's view's; the one that opens the summary cannot be branched from (a new version of it would bring back
    what the summary stands in for); a later one can."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    compacted = [user("one, two"), {"type": "compaction", "id": "cmp_1", "encrypted_content": "x"}]
    assert await session._atomic_replace_items(compacted)
    with pytest.raises(ValueError, match="turn_number 1 cannot be branched from.*opens a compaction summary"):
        await session.create_branch_from_turn(1)
    assert session.branch_point is None
    await session.add_items([reply("ok"), user("three"), reply("3")])
    assert await session.create_branch_from_turn(2) == 8
    assert await session.get_items() == compacted + [reply("ok")]
    await session.add_items([user("tres")])
    assert await session.get_items() == compacted + [reply("ok"), user("tres")]


async def test_another_users_conversation_is_a_missing_one(store, session, alices_conversation, alice, bob,
                                                           snapshot):
    """Bob's session on Alice's conversation: every branch operation raises the store's not-found error, the same
    as for a conversation that does not exist, and nothing of Alice's changes."""
    await session.add_items([user("one"), reply("1"), user("two"), reply("2")])
    await session.create_branch_from_turn(2)
    await session.add_items([user("deux")])
    before = snapshot()
    missing = uuid.uuid4()
    seen = None
    for target in (alices_conversation, missing):
        intruder = ChatStoreSession(store, target, bob)
        messages = []
        for operation in (intruder.create_branch_from_turn(1), intruder.switch_to_branch(3),
                          intruder.switch_to_branch(1), intruder.list_branches(), intruder.pop_item()):
            with pytest.raises(psycopg.errors.NoDataFound) as refused:
                await operation
            messages.append((refused.value.diag.message_primary or "").replace(str(target), "<id>"))
        assert all(messages)
        # a branch point held for Alice's conversation, written as Bob: refused too
        intruder.branch_point = BranchPoint(2, 3, 2)
        with pytest.raises(psycopg.errors.NoDataFound):
            await intruder.add_items([user("mine now"), reply("yes")])
        assert intruder.branch_point is not None
        if seen is None:
            seen = messages
        else:
            assert messages == seen
    assert snapshot() == before


async def test_the_user_of_the_run_context(store, alices_conversation, alice, bob, db):
    """A session made without a user acts for the run's context in every branch operation; with none, NoSessionUser
    before any SQL."""
    session = ChatStoreSession(store, alices_conversation)
    as_alice = RunContextWrapper(alice)
    await session.add_items([user("one"), reply("1"), user("two")], wrapper=as_alice)
    assert await session.create_branch_from_turn(2, wrapper=as_alice) == 3
    await session.add_items([user("deux")], wrapper=as_alice)
    assert [entry["leaf_seq"] for entry in await session.list_branches(wrapper=as_alice)] == [3, 4]
    await session.switch_to_branch(3, wrapper=as_alice)
    with pytest.raises(psycopg.errors.NoDataFound):
        await session.switch_to_branch(4, wrapper=RunContextWrapper(bob))
    for operation in (session.create_branch_from_turn(1), session.switch_to_branch(1), session.list_branches()):
        with pytest.raises(NoSessionUser):
            await operation
    assert head_of(db, alices_conversation) == 3


# long conversations


async def test_a_long_conversation_is_read_in_one_call(store, session, alices_conversation, db, monkeypatch):
    """Over 1000 messages of the view and of the log: a turn in the oldest page and one in the newest are found,
    the tree listed whole, each in one round trip."""
    items = [user(f"q{n}") if n % 2 == 0 else reply(f"a{n}") for n in range(1300)]
    await session.add_items(items[:650])
    await session.add_items(items[650:])
    trips = RoundTrips(store, monkeypatch)

    assert await trips.of(session.create_branch_from_turn(1)) == 1
    assert await session.get_items() == []
    await session.switch_to_branch(1)
    assert await trips.of(session.create_branch_from_turn(600)) == 1199
    assert await session.get_items() == items[:1198]
    assert await trips.of(session.create_branch_from_turn(3)) == 5
    assert await session.get_items() == items[:4]
    assert await trips.of(session.create_branch_from_turn(2)) == 3  # numbered in the pending branch
    await session.switch_to_branch(1)
    assert await trips.of(session.create_branch_from_turn(650)) == 1299
    assert await session.get_items() == items[:1298]
    await session.add_items([user("last"), reply("!")])
    assert await trips.of(session.list_branches()) == [
        {"branch_id": 1299, "leaf_seq": 1300, "item_count": 1300, "user_turns": 650, "is_current": False},
        {"branch_id": 1301, "leaf_seq": 1302, "item_count": 1300, "user_turns": 650, "is_current": True}]
    assert len(tree(db, alices_conversation)) == 1302
