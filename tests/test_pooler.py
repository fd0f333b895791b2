"""Behind PgBouncer in transaction mode, as behind Neon's pooled endpoint.

A server connection serves many clients in turn, so anything a client leaves
on a session reaches the next one: the first tests show that this pooler
really does that (a session-level SET leaks, prepared statements break), and
so that the rest would catch a regression. Then the service runs through it
under load: many users, few connections, every row its owner's, every
acknowledged append stored exactly once.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from psycopg.rows import scalar_row

from app.identity import User
from app.store import ChatStore
from app.transport import Statement
from conftest import POOLED_SERVER_CONNECTIONS
from serving import serve
from stored_data import broken_conversations


def runtime_backends(db) -> int:
    return db.execute("select count(*) from pg_stat_activity where usename = 'chat_test_app'"
                      " and datname = current_database()").fetchone()[0]


# what the pooler does to sessions

def test_a_session_setting_leaks_to_another_client_and_a_transaction_local_one_does_not(pgbouncer, pg_server, chat_db,
                                                                                        user_a):
    conninfo = pgbouncer.conninfo(chat_db, "chat_test_app", pg_server.test_password)
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as first, \
            psycopg.connect(conninfo, autocommit=True, prepare_threshold=None) as second:
        with first.transaction():
            first.execute("select set_config('app.user_id', %s, true)", [str(user_a)])
        assert second.execute("select current_setting('app.user_id', true)").fetchone()[0] in (None, "")
        assert second.execute("select count(*) from chat.users").fetchone() == (0,)

        # what the product never does: a session-level setting outlives the client's transaction
        first.execute("select set_config('app.user_id', %s, false)", [str(user_a)])
        assert second.execute("select current_setting('app.user_id', true)").fetchone() == (str(user_a),)
        assert second.execute("select count(*) from chat.users").fetchone() == (1,)
        first.execute("reset app.user_id")


async def test_prepared_statements_break_behind_it_and_the_store_turns_them_off(pgbouncer, pg_server, chat_db,
                                                                                caplog):
    """With psycopg preparing every statement (prepare_threshold=0), statements prepared on one server
    connection are missing on the next, or another client's statement answers to their name. Plain psycopg
    fails; the store notices, says so once, turns them off and answers every call."""
    conninfo = pgbouncer.conninfo(chat_db, "chat_test_app", pg_server.test_password)
    users = [User(uuid.uuid4()) for _ in range(20)]

    async def traffic(call) -> Counter:
        async def one_user(user):
            conversation = await call(user, "select id from chat.create_conversation()", [])
            for n in range(5):
                await call(user, "select id from chat.append_message(%s, 'user', %s)", [conversation, f"{n}"])
                await call(user, "select count(*) from chat.fetch_recent(%s)", [conversation])

        outcomes = await asyncio.gather(*(one_user(user) for user in users), return_exceptions=True)
        return Counter(type(outcome).__name__ for outcome in outcomes if outcome is not None)

    def plain(pool):
        async def call(user, sql, params):
            async with pool.connection() as conn, conn.transaction():
                await conn.execute("select set_config('app.user_id', %s, true)", [str(user.id)])
                return await (await conn.execute(sql, params)).fetchone()
        return call

    def through(store):
        async def call(user, sql, params):
            ((value,),) = await store._run(user, Statement(sql, params, scalar_row))
            return value
        return call

    async with AsyncConnectionPool(conninfo, min_size=4, max_size=8, open=False,
                                   kwargs={"autocommit": True, "prepare_threshold": 0}) as pool:
        await pool.open(wait=True)
        assert sum((await traffic(plain(pool))).values()) > 0

    for threshold in (0, None):
        caplog.clear()
        async with AsyncConnectionPool(conninfo, min_size=4, max_size=8, open=False,
                                       kwargs={"autocommit": True, "prepare_threshold": threshold}) as pool:
            await pool.open(wait=True)
            store = ChatStore(pool)
            assert await traffic(through(store)) == Counter()
        said = [r for r in caplog.records if "prepared statements failed" in r.getMessage()]
        assert (store.prepared_statements_failed, len(said)) == ((True, 1) if threshold == 0 else (False, 0))


# the service through it, under load

USERS = 125
ROUNDS = 10


class Load:
    """What the users of the load test were told, to hold against the database afterwards."""

    def __init__(self):
        self.operations = 0
        self.failures: list[tuple[str, int, str]] = []
        self.conversations_seen: list[tuple[uuid.UUID, str]] = []
        self.messages_seen: list[tuple[uuid.UUID, str]] = []
        self.acknowledged: dict[str, str] = {}  # client_msg_id -> message id


async def one_user(client, auth, user: uuid.UUID, load: Load, rounds: int = ROUNDS) -> None:
    headers = auth(user)
    shuffle = random.Random(user.int)

    async def call(method, url, expected=(200, 201), **kwargs):
        await asyncio.sleep(shuffle.random() / 200)
        response = await client.request(method, url, headers=headers, **kwargs)
        load.operations += 1
        if response.status_code not in expected:
            load.failures.append((f"{method} {url}", response.status_code, response.text[:200]))
            return None
        return response.json()

    def saw_messages(*messages):
        load.messages_seen.extend((user, message["id"]) for message in messages)

    created = await call("POST", "/api/conversations", json={"title": str(user)})
    if created is None:
        return
    conversation = created["id"]
    base = f"/api/conversations/{conversation}"
    for round_ in range(rounds):
        for n in range(3):
            client_msg_id = f"{user}:{round_}:{n}"
            message = await call("POST", f"{base}/messages",
                                 json={"role": "user", "content": f"{user} says {round_}.{n}",
                                       "client_msg_id": client_msg_id})
            if message:
                load.acknowledged[client_msg_id] = message["id"]
                saw_messages(message)
        if recent := await call("GET", f"{base}/messages/recent?limit=10"):
            saw_messages(*recent["items"])
        if page := await call("GET", f"{base}/messages?after={round_ * 3}&limit=20"):
            saw_messages(*page["items"])
        if listed := await call("GET", "/api/conversations?limit=5"):
            load.conversations_seen.extend((user, item["id"]) for item in listed["items"])
        if got := await call("GET", base):
            load.conversations_seen.append((user, got["id"]))
        if turn := await call("POST", "/api/chat", json={"conversation_id": conversation, "message": f"{user} asks"}):
            saw_messages(turn["user_message"], turn["assistant_message"])


@pytest.mark.slow
async def test_ten_thousand_operations_of_125_users_through_pgbouncer(pooled_settings, pgbouncer, db, auth,
                                                                      record_property):
    users = [uuid.uuid4() for _ in range(USERS)]
    load = Load()
    async with serve(pooled_settings) as client:
        await asyncio.gather(*(one_user(client, auth, user, load) for user in users))
        pool_stats = client.app.state.store.pool.get_stats()
    server_connections = runtime_backends(db)

    assert load.failures == []
    assert load.operations >= 10_000
    assert pool_stats["pool_max"] == 10 and pool_stats.get("connections_num", 0) <= 10
    assert server_connections <= POOLED_SERVER_CONNECTIONS
    assert "prepared statement" not in pgbouncer.log()

    # zero rows of another user: every conversation and message anyone got back is their own
    conversation_owner = dict(db.execute("select id, user_id from chat.conversations").fetchall())
    message_owner = dict(db.execute("select id, user_id from chat.messages").fetchall())
    foreign = [(user, cid) for user, cid in load.conversations_seen if conversation_owner[uuid.UUID(cid)] != user]
    foreign += [(user, mid) for user, mid in load.messages_seen if message_owner[uuid.UUID(mid)] != user]
    assert foreign == []

    # zero lost acknowledged appends: each is there, exactly once, with the id it was acknowledged with
    stored = db.execute("select client_msg_id, id::text from chat.messages where client_msg_id is not null").fetchall()
    assert len(stored) == len(load.acknowledged) == USERS * ROUNDS * 3
    assert dict(stored) == load.acknowledged

    # and every conversation is whole: seq 1..n, message_count n
    assert broken_conversations(db) == []

    record_property("operations", load.operations)
    record_property("users", USERS)
    record_property("service pool connections (max)", pool_stats["pool_max"])
    record_property("pgbouncer server connections (max)", POOLED_SERVER_CONNECTIONS)
    record_property("rows of another user returned", len(foreign))
    record_property("acknowledged appends stored exactly once", f"{len(stored)} of {len(load.acknowledged)}")
    record_property("failed requests", len(load.failures))


@pytest.mark.parametrize("prepare_threshold", ["default", 5])
async def test_two_service_instances_behind_it_with_default_settings_answer_every_request(
        settings, pgbouncer, pg_server, chat_db, db, auth, caplog, record_property, prepare_threshold):
    """Two instances of the service share the pooler, as two replicas of a backend share Neon's pooled
    endpoint, with the settings as they come: nothing fails. And with prepared statements turned on, as an
    operator might by mistake: the store turns them off and says so once per instance in its log; before it
    has, PgBouncer 1.18 may lose track of a server connection ("got packet 'E' from server when not linked")
    and leave a request without a reply, which then fails with a 503 once its deadline is past (or meets a
    pool with no free connection, 503 too): every request is answered, none with anything but success or a
    503, and no conversation is broken."""
    changes = {"database_url": pgbouncer.conninfo(chat_db, "chat_test_app", pg_server.test_password),
               "pool_max_size": 10}
    if prepare_threshold != "default":
        changes["prepare_threshold"] = prepare_threshold
    # Every client connection prepares the same statements in the same order, so psycopg's names for them
    # (_pg3_0, _pg3_1, ...) mostly mean the same on whichever server connection a transaction lands: whether one
    # lands where a name is missing, or taken, is a matter of timing. With prepared statements on, the load is
    # run again (on two new instances, by new users) until that has happened, three times at most.
    for _ in range(1 if prepare_threshold == "default" else 3):
        users = [uuid.uuid4() for _ in range(40)]
        load = Load()
        async with serve(settings, **changes) as one, serve(settings, **changes) as two:
            await asyncio.gather(*(one_user(one if n % 2 else two, auth, user, load, rounds=3)
                                   for n, user in enumerate(users)))
            turned_off = [client.app.state.store.prepared_statements_failed for client in (one, two)]
        assert {status for _, status, _ in load.failures} <= {503}
        if any(turned_off):
            break

    assert broken_conversations(db) == []
    said = [r.getMessage() for r in caplog.records if "prepared statements failed" in r.getMessage()]
    if prepare_threshold == "default":
        assert load.failures == []
        assert load.operations == len(users) * (1 + 3 * 8)
        assert (turned_off, said) == ([False, False], [])
    else:
        # every request answered, with success or a 503 (a user whose conversation was not made stops early)
        assert {status for _, status, _ in load.failures} <= {503}
        assert len(said) == sum(turned_off) >= 1
    record_property("requests of 40 users through 2 instances", load.operations)
    record_property("failed requests", len(load.failures))
    record_property("prepared-statement warnings logged", len(said))
