"""Prepared statements never fail a request.

psycopg 3.3 records a statement as prepared at the execution that is to
prepare it, and forgets to take that back when an earlier statement of the
same pipeline fails: the Parse never ran, and every later use of the
statement on that connection is ``prepared statement "_pg3_N" does not
exist``. One 404 could spoil a pooled connection for everyone after it. So
the service prepares nothing by default, and when prepared statements are
turned on and the server refuses one, the store turns them off, says so once,
and runs the operation again (its transaction was rolled back whole).

Each test runs the failure at every point of psycopg's count (the statement
to be prepared at its 1st to 10th use) on a pool of one connection, with the
default settings and with prepared statements on (``PREPARE_THRESHOLD=5``).
"""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest
from psycopg.rows import scalar_row
from psycopg_pool import AsyncConnectionPool

from app.identity import User
from app.models import Conversation, Message
from app.settings import Settings
from app.store import ChatStore
from app.transport import Statement, model_row
from serving import serve

DEFAULT = Settings.model_fields["prepare_threshold"].default
THRESHOLDS = pytest.mark.parametrize("threshold", [DEFAULT, 5], ids=["default", "prepared"])

WARNING = "prepared statements failed"


def test_the_default_prepares_nothing():
    assert DEFAULT is None


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and WARNING in r.getMessage()]


# through the HTTP service: the chat turn of the report

@THRESHOLDS
@pytest.mark.parametrize("failing_turn", range(1, 11))
async def test_a_failed_chat_turn_never_spoils_the_connection(settings, auth, caplog, record_property, threshold,
                                                             failing_turn):
    """Turns in a conversation, the failing_turn-th names a conversation that does not exist (404), then 50
    more turns on the same pooled connection: every one answered, numbered right after the last."""
    user = uuid.uuid4()
    headers = auth(user)
    async with serve(settings, pool_min_size=1, pool_max_size=1, prepare_threshold=threshold) as client:
        conversation = (await client.post("/api/conversations", json={}, headers=headers)).json()["id"]
        statuses = []
        for turn in range(1, failing_turn + 51):
            target = str(uuid.uuid4()) if turn == failing_turn else conversation
            response = await client.post("/api/chat", json={"conversation_id": target, "message": f"turn {turn}"},
                                         headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 200:
                body = response.json()
                assert body["assistant_message"]["content"] == f"You said: turn {turn}"
                assert body["assistant_message"]["seq"] == 2 * len([s for s in statuses if s == 200])
        connections = client.app.state.store.pool.get_stats()["connections_num"]
        stored = (await client.get(f"/api/conversations/{conversation}", headers=headers)).json()

    assert statuses == [200] * (failing_turn - 1) + [404] + [200] * 50
    assert stored["message_count"] == 2 * (failing_turn + 49)
    assert connections == 1  # the same connection all along: none was dropped to get past a failure
    assert len(warnings(caplog)) <= (0 if threshold is None else 1)
    record_property("turns after the 404 answered 200", f"{statuses[failing_turn:].count(200)} of 50")


# through the store: several statements in one transaction, any of them failing

@pytest.fixture
async def pool_of_one(settings):
    pools = []

    async def make(threshold) -> AsyncConnectionPool:
        pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=1, open=False,
                                   kwargs={"autocommit": True, "prepare_threshold": threshold})
        await pool.open(wait=True)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def operation(conversation: uuid.UUID, failing: int | None = None, failure: str = "missing") -> list[Statement]:
    """Four statements of one transaction; the one at ``failing`` raises (P0002 or 22023)."""
    statements = [
        Statement("select * from chat.get_conversation(%s)", [conversation], model_row(Conversation)),
        Statement("select * from chat.fetch_recent(%s, %s)", [conversation, 5], model_row(Message)),
        Statement("select count(*) from chat.fetch_messages(%s, %s, %s)", [conversation, 0, 100], scalar_row),
        Statement("select * from chat.list_conversations(%s)", [3], model_row(Conversation)),
    ]
    if failing is not None:
        bad = [uuid.uuid4(), 5] if failure == "missing" else [conversation, 0]
        statements[failing] = Statement("select * from chat.fetch_recent(%s, %s)", bad, model_row(Message))
    return statements


@THRESHOLDS
@pytest.mark.parametrize("failure", ["missing", "bad input"])
@pytest.mark.parametrize("failing", range(4))
async def test_a_failed_statement_at_any_position_never_spoils_the_connection(pool_of_one, caplog, threshold,
                                                                              failing, failure):
    for uses in range(10):  # the statements' use count when the failure comes
        user = User(uuid.uuid4())
        pool = await pool_of_one(threshold)
        store = ChatStore(pool)
        conversation = (await store.create_conversation(user, "one")).id
        await store.append_message(user, conversation, "user", "hello")
        for _ in range(uses):
            await store._run(user, *operation(conversation))

        expected = psycopg.errors.NoDataFound if failure == "missing" else psycopg.DataError
        with pytest.raises(expected):
            await store._run(user, *operation(conversation, failing, failure))

        for _ in range(50):
            got, recent, count, listed = await store._run(user, *operation(conversation))
            assert [c.id for c in got] == [conversation]
            assert [(m.seq, m.content) for m in recent] == [(1, "hello")]
            assert count == [1]
            assert [c.id for c in listed] == [conversation]
        assert pool.get_stats()["connections_num"] == 1, uses
    assert len(warnings(caplog)) <= (0 if threshold is None else 10)


async def test_turned_off_once_and_the_operation_runs_again(pool_of_one, caplog):
    """A connection whose prepared statements the server does not have (as behind a transaction-mode
    pooler, or after psycopg lost count): the operation is answered, not failed, and from then on nothing
    is prepared; the log says so once."""
    pool = await pool_of_one(0)  # prepare every statement at its first use
    store = ChatStore(pool)
    user = User(uuid.uuid4())
    conversation = (await store.create_conversation(user, "one")).id
    async with pool.connection() as conn:
        prepared = await (await conn.execute("select count(*) from pg_prepared_statements", prepare=False)).fetchone()
        # behind psycopg's back (it would notice a DEALLOCATE of its own): its record now lies
        await conn.execute("do $$ begin execute 'deallocate all'; end $$", prepare=False)
    assert prepared[0] >= 2

    for _ in range(3):
        assert (await store.get_conversation(user, conversation)).id == conversation
    async with pool.connection() as conn:
        assert conn.prepare_threshold is None
        left = await (await conn.execute("select count(*) from pg_prepared_statements", prepare=False)).fetchone()
        assert left == (0,)
    assert store.prepared_statements_failed
    assert len(warnings(caplog)) == 1
    assert "PREPARE_THRESHOLD=none" in warnings(caplog)[0]


async def test_a_failure_unrelated_to_prepared_statements_is_not_run_again(pool_of_one, db):
    pool = await pool_of_one(0)
    store = ChatStore(pool)
    user = User(uuid.uuid4())
    conversation = (await store.create_conversation(user, "one")).id
    with pytest.raises(psycopg.errors.UniqueViolation):
        for _ in range(2):
            await store.append_message(user, conversation, "user", f"{_}", client_msg_id="same")
    assert db.execute("select count(*) from chat.messages").fetchone() == (1,)
    assert not store.prepared_statements_failed
