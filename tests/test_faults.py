"""Faults: connections killed under traffic, the server restarted under
traffic, the pool exhausted, statements stuck behind a lock.

The promise under test: the service keeps answering (503 with Retry-After
while it cannot, never a 500 and never a hang), a client that retries with
the same ``client_msg_id`` never stores a message twice, no chat turn is left
half-written, and nothing acknowledged is lost. Each 503 names its cause (the
database unreachable, the pool exhausted, no reply in time), and so does the
log, in one line with the error underneath.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections import Counter

import psycopg
import pytest
from psycopg import sql

from app.database import create_pool
from app.identity import User
from app.problems import CONNECTION_FAILED, EXHAUSTED, NO_REPLY, UNREACHABLE, Unavailable
from app.store import ChatStore
from app.transport import NoReply
from ports import free_port
from own_server import OwnServer
from serving import ROUTES, serve, wait_for_health
from stored_data import broken_conversations

ACKNOWLEDGED = (200, 201)

# Every server process of the runtime login in this database, terminated.
TERMINATE = """
select count(*) filter (where pg_terminate_backend(pid))
  from pg_stat_activity
 where usename = 'chat_test_app' and datname = current_database() and pid <> pg_backend_pid()
"""

# Assistant messages not directly preceded by their user message: a half-written turn.
ORPHAN_REPLIES = """
select a.id from chat.messages a
 where a.role = 'assistant'
   and not exists (select from chat.messages u
                    where u.user_id = a.user_id and u.conversation_id = a.conversation_id
                      and u.seq = a.seq - 1 and u.role = 'user')
"""


def assert_unavailable(response, reason: Unavailable) -> None:
    """A 503 with Retry-After that names ``reason``."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json() == {"detail": reason.detail}


def warnings_of(caplog) -> list[str]:
    """The warning lines of the service's own log (app), not of its modules' nor of psycopg's."""
    return [record.getMessage() for record in caplog.records
            if record.name == "app" and record.levelno == logging.WARNING]


async def until_acknowledged(client, method, url, statuses: Counter, attempts=300, **kwargs):
    """What a well-behaved client does: on 503, wait and send the very same request again."""
    for _ in range(attempts):
        response = await client.request(method, url, **kwargs)
        statuses[response.status_code] += 1
        if response.status_code in ACKNOWLEDGED:
            return response
        assert response.status_code == 503, response.text
        assert response.headers.get("retry-after"), response.headers
        await asyncio.sleep(0.05)
    raise AssertionError(f"{method} {url}: never acknowledged in {attempts} attempts")


class Traffic:
    """Users appending with client_msg_ids and taking chat turns, each in a conversation of their own."""

    def __init__(self, client, auth, users: int, appends: int, turns: int = 0):
        self.client, self.auth = client, auth
        self.users = [uuid.uuid4() for _ in range(users)]
        self.appends, self.turns = appends, turns
        self.statuses: Counter = Counter()
        self.acknowledged: dict[str, str] = {}  # client_msg_id -> id
        self.turns_acknowledged: list[tuple[str, str]] = []  # (user message id, assistant message id)
        self.replays = 0

    async def run(self) -> None:
        await asyncio.gather(*(self.one_user(user) for user in self.users))

    async def one_user(self, user: uuid.UUID) -> None:
        headers = self.auth(user)
        conversation = (await until_acknowledged(self.client, "POST", "/api/conversations", self.statuses,
                                                 json={}, headers=headers)).json()
        url = f"/api/conversations/{conversation['id']}"
        every = self.appends // self.turns if self.turns else 0
        for n in range(self.appends):
            client_msg_id = f"{user}:{n}"
            response = await until_acknowledged(self.client, "POST", f"{url}/messages", self.statuses,
                                                headers=headers,
                                                json={"role": "user", "content": f"{n}", "client_msg_id": client_msg_id})
            self.acknowledged[client_msg_id] = response.json()["id"]
            self.replays += response.status_code == 200  # a retry found its message stored already
            if every and n % every == every - 1:
                await self.turn(conversation["id"], headers)

    async def turn(self, conversation_id: str, headers) -> None:
        response = await self.client.post("/api/chat", json={"conversation_id": conversation_id, "message": "hi"},
                                          headers=headers)
        self.statuses[response.status_code] += 1
        if response.status_code == 200:
            body = response.json()
            self.turns_acknowledged.append((body["user_message"]["id"], body["assistant_message"]["id"]))
        else:
            assert response.status_code == 503, response.text

    def check(self, db) -> None:
        """Nothing lost, nothing twice, nothing half-written, never an answer but 2xx or 503."""
        assert set(self.statuses) <= {200, 201, 503}, self.statuses
        stored = db.execute("select client_msg_id, id::text from chat.messages where client_msg_id is not null")
        stored = stored.fetchall()
        assert len(stored) == len(self.acknowledged) == len(self.users) * self.appends
        assert dict(stored) == self.acknowledged
        ids = {row[0] for row in db.execute("select id::text from chat.messages").fetchall()}
        assert all(user_message in ids and reply in ids for user_message, reply in self.turns_acknowledged)
        assert db.execute(ORPHAN_REPLIES).fetchall() == []
        assert broken_conversations(db) == []


async def terminate_until(stop: asyncio.Event, conninfo: str, every: float) -> int:
    """Terminates the runtime login's server processes every ``every`` seconds; how many it terminated."""
    terminated = 0
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        while not stop.is_set():
            terminated += (await (await conn.execute(TERMINATE)).fetchone())[0]
            await asyncio.sleep(every)
    return terminated


@pytest.fixture(params=["direct", "pgbouncer"])
def route_settings(request, settings):
    """The service's settings: straight to PostgreSQL, or through PgBouncer in transaction mode."""
    return settings if request.param == "direct" else request.getfixturevalue("pooled_settings")


async def test_connections_terminated_under_traffic(route_settings, pg_server, chat_db, db, auth, record_property):
    async with serve(route_settings) as client:
        traffic = Traffic(client, auth, users=20, appends=15, turns=5)
        stop = asyncio.Event()
        killer = asyncio.create_task(terminate_until(stop, pg_server.conninfo(chat_db), every=0.2))
        try:
            await traffic.run()
        finally:
            stop.set()
            terminated = await killer

        # the service keeps answering: with the killing over, every user is served again
        for user in traffic.users:
            await until_acknowledged(client, "GET", "/api/conversations", Counter(), attempts=20,
                                     headers=auth(user))

    assert terminated > 0
    traffic.check(db)
    record_property("server processes terminated", terminated)
    record_property("answers", dict(traffic.statuses))
    record_property("acknowledged appends stored exactly once", len(traffic.acknowledged))
    record_property("retried appends answered as replays", traffic.replays)
    record_property("chat turns acknowledged whole", len(traffic.turns_acknowledged))


async def test_idle_connections_terminated_together_cost_one_answer(settings, pg_server, chat_db, auth, user_a):
    """A server restart or a compute going away kills every idle connection at once; the first caller to
    meet a dead one gets 503, and the pool then replaces the others before they are handed out."""
    async with serve(settings, pool_min_size=5, pool_max_size=5) as client:
        pool = client.app.state.store.pool
        await pool.wait()
        async with await psycopg.AsyncConnection.connect(pg_server.conninfo(chat_db), autocommit=True) as killer:
            terminated = (await (await killer.execute(TERMINATE)).fetchone())[0]
        assert terminated == 6  # the pool's five, and the connection that listens for live updates
        await asyncio.sleep(0.2)  # the server processes have ended; the pool has not noticed
        answers = Counter()
        for _ in range(10):
            response = await client.get("/api/conversations", headers=auth(user_a))
            answers[response.status_code] += 1
            if response.status_code == 503:
                assert_unavailable(response, CONNECTION_FAILED)
    assert answers == Counter({503: 1, 200: 9})


# the server restarted under traffic: a PostgreSQL of this test's own

@pytest.fixture
def own_server(pg_server):
    server = OwnServer(pg_server.test_password)
    yield server
    server.remove()


@pytest.mark.slow
async def test_the_server_restarted_under_traffic(own_server, settings, auth, record_property):
    async with serve(settings, database_url=own_server.runtime_url(), pool_timeout=1.0) as client:
        await wait_for_health(client, 200, within=30)
        traffic = Traffic(client, auth, users=10, appends=40, turns=4)
        running = asyncio.create_task(traffic.run())
        while len(traffic.acknowledged) < 50:
            await asyncio.sleep(0.01)

        own_server.stop()
        await wait_for_health(client, 503, within=15)
        # the pool's connections broke with the server; once it has let them go, it cannot connect
        causes = []
        while UNREACHABLE.detail not in causes and len(causes) < 10:
            down = await asyncio.wait_for(client.get("/api/conversations", headers=auth(uuid.uuid4())), 15)
            assert down.status_code == 503 and down.headers.get("retry-after")
            causes.append(down.json()["detail"])
        assert causes[-1] == UNREACHABLE.detail and set(causes) <= {CONNECTION_FAILED.detail, UNREACHABLE.detail}
        acknowledged_while_down = len(traffic.acknowledged)
        await asyncio.sleep(1)
        assert len(traffic.acknowledged) == acknowledged_while_down

        own_server.start()  # the same service, never restarted, finds it again
        started = time.monotonic()
        await wait_for_health(client, 200, within=60)
        recovered_after = time.monotonic() - started
        await asyncio.wait_for(running, 120)

    with psycopg.connect(dbname="chat", autocommit=True, **own_server.superuser) as db:
        traffic.check(db)
    assert traffic.statuses[503] > 0
    record_property("answers", dict(traffic.statuses))
    record_property("acknowledged appends stored exactly once", len(traffic.acknowledged))
    record_property("healthy again after the server came back (s)", round(recovered_after, 1))


# the pool exhausted: a bounded wait, then 503

async def test_an_exhausted_pool_answers_503_after_a_bounded_wait(settings, auth, user_a, caplog, record_property):
    caplog.set_level(logging.WARNING, "app")
    async with serve(settings, pool_min_size=0, pool_max_size=2, pool_timeout=0.5) as client:
        pool = client.app.state.store.pool
        async with pool.connection(), pool.connection():
            started = time.monotonic()
            response = await asyncio.wait_for(client.get("/api/conversations", headers=auth(user_a)), 10)
            waited = time.monotonic() - started
            health = await asyncio.wait_for(client.get("/healthz"), 10)
        assert_unavailable(response, EXHAUSTED)
        assert health.status_code == 503 and health.headers["retry-after"]
        assert health.json() == {"status": EXHAUSTED.cause}
        # once a connection is free again, the same service answers
        assert (await client.get("/api/conversations", headers=auth(user_a))).status_code == 200
    assert warnings_of(caplog) == [
        f"{where}: no database connection free (PoolExhausted: couldn't get a connection after {timeout} sec; "
        "every connection is in use (2 of at most 2))"
        for where, timeout in [("GET /api/conversations", "0.50"), ("GET /healthz", "2.00")]]
    record_property("waited for a connection before 503 (s)", round(waited, 2))


# the database unreachable: the pool cannot connect

async def test_a_database_that_refuses_connections_is_503_unreachable(settings, auth, user_a, caplog):
    caplog.set_level(logging.WARNING, "app")
    refused = f"postgresql://chat_test_app@127.0.0.1:{free_port()}/chat"
    async with serve(settings, database_url=refused, pool_timeout=0.5) as client:
        response = await asyncio.wait_for(client.get("/api/conversations", headers=auth(user_a)), 10)
        health = await asyncio.wait_for(client.get("/healthz"), 10)
    assert_unavailable(response, UNREACHABLE)
    assert health.status_code == 503 and health.headers["retry-after"]
    assert health.json() == {"status": UNREACHABLE.cause}
    lines = warnings_of(caplog)
    assert len(lines) == 2, lines
    for line, where in zip(lines, ["GET /api/conversations", "GET /healthz"], strict=True):
        assert line.startswith(f"{where}: database unreachable (DatabaseUnreachable: couldn't get a connection "
                               "after "), line
        assert "the latest attempt to connect failed: connection failed: " in line and "Connection refused" in line


async def test_a_database_that_never_answers_a_connection_is_503_unreachable(settings, auth, user_a, caplog):
    """A host that takes the connection and says nothing (or drops its packets): the attempt to connect is still
    waiting when the request's wait for a connection ends."""
    caplog.set_level(logging.WARNING, "app")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody answers
        url = f"postgresql://chat_test_app@127.0.0.1:{silent.getsockname()[1]}/chat"
        async with serve(settings, database_url=url, pool_timeout=0.5) as client:
            response = await asyncio.wait_for(client.get("/api/conversations", headers=auth(user_a)), 10)
            silent.close()  # the attempt fails now, and the pool closes without waiting for it
    assert_unavailable(response, UNREACHABLE)
    [line] = warnings_of(caplog)
    assert line.startswith("GET /api/conversations: database unreachable (DatabaseUnreachable: couldn't get a "
                           "connection after 0.50 sec; an attempt to connect has had no answer for "), line


# a statement timeout bounds every call

STATEMENT_TIMEOUT_MS = 300


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_a_statement_timeout_bounds_every_call(settings, pg_server, chat_db, api, auth, user_a, snapshot,
                                                     caplog, method, path, body):
    caplog.set_level(logging.WARNING, "app")
    created = await api.post("/api/conversations", json={"title": "kept"}, headers=auth(user_a))
    await api.post(f"/api/conversations/{created.json()['id']}/messages", json={"role": "user", "content": "kept"},
                   headers=auth(user_a))
    before = snapshot()
    async with serve(settings, statement_timeout_ms=STATEMENT_TIMEOUT_MS) as client:
        with pg_server.connect(chat_db) as locker, locker.transaction():
            locker.execute("lock table chat.users, chat.tasks, chat.conversations, chat.messages"
                           " in access exclusive mode")
            response = await asyncio.wait_for(
                client.request(method, path.format(id=created.json()["id"]), json=body, headers=auth(user_a)), 10)
    assert_unavailable(response, NO_REPLY)
    assert snapshot() == before
    [line] = warnings_of(caplog)
    assert line == (f"{method.upper()} {path.split('?')[0].format(id=created.json()['id'])}: no reply from the "
                    "database in time (QueryCanceled: canceling statement due to statement timeout)")


async def test_a_lock_not_available_is_503_with_the_servers_reason(settings, db, chat_db, auth, user_a, caplog):
    """An error the server sends instead of an answer, the connection intact (here a lock timeout, 55P03):
    the 503 says what the server said."""
    caplog.set_level(logging.WARNING, "app")
    db.execute(sql.SQL("alter database {} set lock_timeout = '100ms'").format(sql.Identifier(chat_db)))
    async with serve(settings) as client:
        db.execute("begin")
        db.execute("lock table chat.conversations in access exclusive mode")
        try:
            response = await asyncio.wait_for(client.get("/api/conversations", headers=auth(user_a)), 10)
        finally:
            db.execute("rollback")
    assert_unavailable(response, Unavailable("database error 55P03", "canceling statement due to lock timeout"))
    assert warnings_of(caplog) == ["GET /api/conversations: database error 55P03 "
                                   "(LockNotAvailable: canceling statement due to lock timeout)"]


# a database that never replies

async def test_a_database_that_never_replies_fails_the_call_in_bounded_time_and_the_pool_heals(settings, user_a):
    """A server process that stops answering (frozen here with SIGSTOP; behind a pooler, a server connection the
    pooler lost track of) does not hold the call for ever: after its statement timeout and a grace the call fails
    with NoReply (a 503 to a client), and the pool's next call gets a sound connection."""
    async with create_pool(settings.model_copy(update={"pool_min_size": 1, "pool_max_size": 1})) as pool:
        store = ChatStore(pool, statement_timeout_ms=200, reply_grace=1.0)
        user = User(user_a)
        conversation = (await store.create_conversation(user)).id
        async with pool.connection() as conn:
            frozen = conn.info.backend_pid
        os.kill(frozen, signal.SIGSTOP)
        try:
            with pytest.raises(NoReply):
                await asyncio.wait_for(store.fetch_recent(user, conversation), 60)
        finally:
            os.kill(frozen, signal.SIGCONT)
        assert [m.content for m in await store.fetch_recent(user, conversation)] == []
        async with pool.connection() as conn:
            assert conn.info.backend_pid != frozen


async def test_a_database_that_stops_replying_is_503_no_reply(settings, auth, user_a, caplog):
    caplog.set_level(logging.WARNING, "app")
    async with serve(settings, pool_min_size=1, pool_max_size=1, statement_timeout_ms=200) as client:
        store = client.app.state.store
        store.reply_deadline = 1.0  # the statement timeout and a grace, shortened
        assert (await client.get("/api/conversations", headers=auth(user_a))).status_code == 200
        async with store.pool.connection() as conn:
            frozen = conn.info.backend_pid
        os.kill(frozen, signal.SIGSTOP)
        try:
            response = await asyncio.wait_for(client.get("/api/conversations", headers=auth(user_a)), 30)
        finally:
            os.kill(frozen, signal.SIGCONT)
    assert_unavailable(response, NO_REPLY)
    assert warnings_of(caplog) == ["GET /api/conversations: no reply from the database in time "
                                   "(NoReply: no reply from the database within 1 s)"]
