"""Agent sessions and their users: ``ChatStoreSession`` (its fixtures in agent_sessions.py) on a real
PostgreSQL as the runtime role.

What is proven: another user's session, given or from the run's context, sees, writes, pops, clears and
compacts nothing, with a budget or without, refused as a conversation that does not exist; no user is an error before any SQL; the user the
session was made for wins over the run's context.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from agents import Agent, RunContextWrapper, Runner
from agents.memory import OpenAIResponsesCompactionSession
from agents.testing import ScriptedModel, assistant_message

from agent_sessions import ITEMS, RUN, RequestContext, compaction_client, summary, weather_agent
from app.agent_session import ChatStoreSession, NoSessionUser
from app.database import create_pool
from app.store import ChatStore
from stored_data import MESSAGE_FIELDS, stored_messages


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


async def test_another_users_session_sees_and_changes_nothing(store, alices_conversation, bob, alices_history):
    """Bob's session on Alice's conversation: every method is refused with the store's not-found error,
    the same as for a conversation that does not exist: the reads of the model's view, with a budget too, and the
    SDK's compaction hooks, directly or through its compaction session (which never reaches responses.compact);
    nothing of Alice's changes."""
    missing = uuid.uuid4()
    for target in (alices_conversation, missing):
        intruder = ChatStoreSession(store, target, bob)
        budgeted = ChatStoreSession(store, target, bob, max_tokens=100)
        client = compaction_client(summary())
        compacting = OpenAIResponsesCompactionSession(intruder.session_id, intruder, client=client,
                                                      compaction_mode="input")
        messages = [await assert_not_found(intruder.get_items()),
                    await assert_not_found(intruder.get_items(5000)),
                    await assert_not_found(budgeted.get_items()),
                    await assert_not_found(budgeted.get_items(3)),
                    await assert_not_found(intruder.add_items([{"role": "user", "content": "mine now"}])),
                    await assert_not_found(intruder.pop_item()),
                    await assert_not_found(intruder.clear_session()),
                    await assert_not_found(intruder._get_compaction_snapshot(10)),
                    await assert_not_found(intruder._atomic_replace_items([summary()])),
                    await assert_not_found(compacting.run_compaction({"force": True}))]
        assert all(messages)
        client.responses.compact.assert_not_called()
        if target == alices_conversation:
            seen = [message.replace(str(alices_conversation), "<id>") for message in messages]
        else:
            assert [message.replace(str(missing), "<id>") for message in messages] == seen


@pytest.mark.parametrize("as_context", [lambda user: user, RequestContext], ids=["user", "object-with-user"])
async def test_another_user_in_the_run_context_gets_nothing(store, alices_conversation, bob, alices_history,
                                                            as_context):
    """A run whose context is Bob, on Alice's conversation: refused before the model is called."""
    model, agent = weather_agent()
    with pytest.raises(psycopg.errors.NoDataFound):
        await Runner.run(agent, "show me", session=ChatStoreSession(store, alices_conversation),
                         context=as_context(bob), run_config=RUN)
    assert model.calls == ()

    intruder = ChatStoreSession(store, alices_conversation)
    wrapper = RunContextWrapper(as_context(bob))
    for operation in (intruder.get_items(wrapper=wrapper), intruder.add_items(ITEMS, wrapper=wrapper),
                      intruder.pop_item(wrapper=wrapper), intruder.clear_session(wrapper=wrapper)):
        await assert_not_found(operation)


async def test_no_user_is_an_error_before_any_sql(settings, alices_conversation):
    """Without a user (none given, no run context, a context with none), every method raises NoSessionUser,
    which says how to give one; the store's pool was never opened, so no SQL could have run."""
    never_opened = ChatStore(create_pool(settings))
    session = ChatStoreSession(never_opened, alices_conversation)
    contexts = [None, RunContextWrapper(None), RunContextWrapper({"user": "alice"}),
                RunContextWrapper(RequestContext(user="alice"))]
    for wrapper in contexts:
        for operation in (session.get_items(wrapper=wrapper), session.get_items(3, wrapper=wrapper),
                          session.add_items(ITEMS, wrapper=wrapper), session.add_items([], wrapper=wrapper),
                          session.pop_item(wrapper=wrapper), session.clear_session(wrapper=wrapper)):
            with pytest.raises(NoSessionUser, match=r"pass user=User\(\.\.\.\).*context="):
                await operation
    # the budget's read; the compaction hooks, which the SDK calls without a run context: only the session's user
    budgeted = ChatStoreSession(never_opened, alices_conversation, max_tokens=100)
    for operation in (budgeted.get_items(), session._get_compaction_snapshot(3),
                      session._atomic_replace_items(ITEMS)):
        with pytest.raises(NoSessionUser):
            await operation

    model = ScriptedModel([[assistant_message("never")]])
    with pytest.raises(NoSessionUser):
        await Runner.run(Agent(name="a", model=model), "hi", session=session, run_config=RUN)
    assert model.calls == ()
    assert never_opened.pool.closed


async def test_the_given_user_wins_over_the_run_context(store, alices_conversation, alice, bob, db):
    """A session made for Alice acts for Alice, whatever the run's context says."""
    session = ChatStoreSession(store, alices_conversation, alice)
    await session.add_items([{"role": "user", "content": "hi"}], wrapper=RunContextWrapper(bob))
    assert await session.get_items(wrapper=RunContextWrapper(bob)) == [{"role": "user", "content": "hi"}]
    assert len(stored_messages(db, alices_conversation, MESSAGE_FIELDS)) == 1
