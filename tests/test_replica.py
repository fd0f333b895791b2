"""Reads on a read replica: a real streaming standby of the test server (``pg_basebackup -R``).

The store sends the reads it is allowed to (``replica=Replica(...)``) to the standby, and says who
answered; writes go to the primary. A read carrying a write's position sees that write: the
standby answers once it has replayed it, the primary until then. A standby that is stopped, or
lags past the bound, never fails a read: the primary answers, and the log says why. And the
policies hold on the standby as on the primary: the isolation matrix's reads run there too, as
the runtime role.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from psycopg import errors
from psycopg_pool import AsyncConnectionPool

from app.database import configure
from app.identity import User
from app.main import create_app
from app.replica import Replica, written_position
from app.store import ChatStore
from as_user import call
from conftest import TABLES
from stored_data import ROWS_OF_A

RUNTIME = "chat_test_app"


@pytest.fixture
def replicated(standby, db):
    """``replicated()``: waits until the standby has everything written so far (this test's database too)."""

    def wait() -> None:
        standby.caught_up(db)

    wait()
    return wait


@pytest.fixture
def replica_conn(standby, replicated, chat_db, pg_server):
    """The runtime role on the standby's copy of this test's database."""
    conn = standby.connect(chat_db, user=RUNTIME, password=pg_server.test_password)
    yield conn
    conn.close()


@pytest.fixture
def paused(standby):
    """The standby's replay paused for the test (what it has stays, nothing newer arrives); resumed after."""
    standby.pause_replay()
    yield
    standby.resume_replay()


@pytest.fixture
async def make_store(pg_server, standby, chat_db, replicated):
    """``make_store(**options)``: a ChatStore over the primary, with the standby as its read replica."""
    pools = []

    async def make(**options) -> ChatStore:
        primary, replica = (
            AsyncConnectionPool(conninfo, min_size=1, max_size=2, open=False, configure=configure,
                                kwargs={"autocommit": True})
            for conninfo in (pg_server.conninfo(chat_db, user=RUNTIME, password=pg_server.test_password),
                             standby.conninfo(chat_db, user=RUNTIME, password=pg_server.test_password)))
        for pool in (primary, replica):
            await pool.open(wait=True)
            pools.append(pool)
        return ChatStore(primary, read_pool=replica, **options)

    yield make
    for pool in pools:
        await pool.close()


async def conversation_with(store: ChatStore, user: User, *contents: str):
    conversation = await store.create_conversation(user, "on the primary")
    for content in contents:
        await store.append_message(user, conversation.id, "user", content)
    return conversation


def contents(messages) -> list[str]:
    return [m.content for m in messages]


# where reads and writes go

def test_the_standby_is_in_recovery_and_refuses_writes(replica_conn, user_a, replicated):
    replicated()  # the user too
    assert call(replica_conn, None, "select pg_is_in_recovery()") == [(True,)]
    with pytest.raises(errors.ReadOnlySqlTransaction):
        call(replica_conn, user_a, "select chat.create_conversation('on the standby')")


async def test_reads_are_answered_by_the_standby(make_store, replicated, user_a):
    store = await make_store()
    user = User(user_a)
    conversation = await conversation_with(store, user, "one", "two", "three")
    replicated()

    replica = Replica()
    assert contents(await store.fetch_recent(user, conversation.id, 2, replica=replica)) == ["two", "three"]
    assert contents(await store.fetch_messages(user, conversation.id, 1, replica=replica)) == ["two", "three"]
    assert (await store.get_conversation(user, conversation.id, replica=replica)).message_count == 3
    assert [c.id for c in await store.list_conversations(user, replica=replica)] == [conversation.id]
    assert contents(await store.search_messages(user, "two", replica=replica)) == ["two"]
    assert len((await store.export_user_data(user, replica=replica))["conversations"]) == 1
    assert store.reads == {"replica": 6}
    assert store.replica_in_recovery is True


async def test_a_token_the_standby_refuses_is_refused_without_asking_the_primary(make_store, replicated, user_a,
                                                                                 caplog):
    """A deletion's tombstone on the standby is on the primary too: the refusal (28000) stands, and is no
    replica failure to fall back from."""
    store = await make_store()
    await store.delete_user(User(user_a))
    replicated()
    old_token = User(user_a, issued_at=datetime.now(UTC) - timedelta(hours=1))
    with caplog.at_level(logging.WARNING, logger="app.store"):
        with pytest.raises(errors.InvalidAuthorizationSpecification):
            await store.list_conversations(old_token, replica=Replica())
    assert store.reads == {}
    assert "read replica unavailable" not in caplog.text


async def test_writes_go_to_the_primary_and_give_their_position(make_store, db, user_a):
    store = await make_store()
    written_position.set(None)
    conversation = await store.create_conversation(User(user_a), "written")
    position = written_position.get()
    assert position is not None
    assert db.execute("select title from chat.conversations where id = %s", [conversation.id]).fetchone() == (
        "written",)
    # a position is a transaction of the primary's, committed
    assert db.execute("select pg_xact_status(%s::text::xid8)", [position]).fetchone() == ("committed",)


async def test_a_read_without_replica_stays_on_the_primary(make_store, paused, user_a):
    store = await make_store()
    user = User(user_a)
    conversation = await conversation_with(store, user, "fresh")  # the paused standby has none of it
    assert contents(await store.fetch_recent(user, conversation.id)) == ["fresh"]
    assert store.reads == {}


# read-your-writes

async def test_a_read_with_the_writes_position_sees_the_write(make_store, standby, replicated, user_a):
    store = await make_store(read_max_lag=3600)
    user = User(user_a)
    conversation = await conversation_with(store, user, "before")
    replicated()
    standby.pause_replay()
    try:
        written_position.set(None)
        await store.append_message(user, conversation.id, "user", "after")
        position = written_position.get()

        # the standby lacks the write: with its position the primary answers, and the write is seen
        assert contents(await store.fetch_recent(user, conversation.id, replica=Replica(position))) == [
            "before", "after"]
        assert store.reads == {"primary": 1}
        # without it, the standby answers as it is: the read is routed there indeed
        assert contents(await store.fetch_recent(user, conversation.id, replica=Replica())) == ["before"]
        assert store.reads == {"primary": 1, "replica": 1}
    finally:
        standby.resume_replay()
    replicated()
    # once the standby has replayed it, the standby answers the read that must see it
    assert contents(await store.fetch_recent(user, conversation.id, replica=Replica(position))) == [
        "before", "after"]
    assert store.reads == {"primary": 1, "replica": 2}


async def test_a_conversation_the_standby_lacks_yet_is_found_on_the_primary(make_store, paused, user_a):
    store = await make_store(read_max_lag=3600)
    user = User(user_a)
    written_position.set(None)
    conversation = await conversation_with(store, user, "new")
    position = written_position.get()
    assert contents(await store.fetch_messages(user, conversation.id, replica=Replica(position))) == ["new"]
    assert store.reads == {"primary": 1}
    # without the position, the standby answers: it has no such conversation, as for anyone else's
    with pytest.raises(errors.NoDataFound):
        await store.fetch_messages(user, conversation.id, replica=Replica())


# a standby that lags or is down never fails a read

async def test_a_standby_lagging_past_the_bound_is_passed_over(make_store, standby, replicated, user_a, caplog):
    store = await make_store(read_max_lag=0.2)
    user = User(user_a)
    conversation = await conversation_with(store, user, "old")
    replicated()
    standby.pause_replay()
    try:
        await store.append_message(user, conversation.id, "user", "new")
        await asyncio.sleep(0.5)  # the write waits on the standby for longer than the bound
        with caplog.at_level(logging.WARNING, logger="app.store"):
            assert contents(await store.fetch_recent(user, conversation.id, replica=Replica())) == ["old", "new"]
    finally:
        standby.resume_replay()
    assert store.reads == {"primary": 1}
    assert any("behind" in r.getMessage() and "primary answers" in r.getMessage() for r in caplog.records)


async def test_a_stopped_standby_never_fails_a_read(make_store, standby, replicated, user_a, caplog):
    store = await make_store()
    user = User(user_a)
    conversation = await conversation_with(store, user, "kept")
    replicated()
    assert contents(await store.fetch_recent(user, conversation.id, replica=Replica())) == ["kept"]
    standby.stop()
    try:
        with caplog.at_level(logging.WARNING, logger="app.store"):
            for _ in range(3):  # the pool's connection to it is dead, then none can be made
                assert contents(await store.fetch_recent(user, conversation.id, replica=Replica())) == ["kept"]
                assert len(await store.list_conversations(user, replica=Replica())) == 1
    finally:
        standby.start()
    assert store.reads == {"replica": 1, "primary": 6}
    assert any("unavailable" in r.getMessage() and "primary answers" in r.getMessage() for r in caplog.records)


# the policies hold on the standby: the isolation matrix's reads, as the runtime role there

@pytest.fixture
def world_on_standby(world, replicated):
    replicated()
    return world


@pytest.mark.parametrize("table, key", ROWS_OF_A)
def test_on_the_standby_b_selects_nothing_of_a(replica_conn, standby, chat_db, world_on_standby, table, key):
    world = world_on_standby
    params = vars(world)
    with standby.connect(chat_db) as superuser:  # the rows are there
        assert superuser.execute(f"select count(*) from chat.{table} where {key}", params).fetchone()[0] > 0
    assert call(replica_conn, world.b, f"select * from chat.{table} where {key}", params) == []
    owner = "id" if table == "users" else "user_id"
    assert {r[0] for r in call(replica_conn, world.b, f"select {owner} from chat.{table}")} <= {world.b}


def test_on_the_standby_a_sees_exactly_their_own(replica_conn, world_on_standby):
    world = world_on_standby
    counts = {table: call(replica_conn, world.a, f"select count(*) from chat.{table}")[0][0] for table in TABLES}
    assert counts == {"users": 1, "tasks": 1, "conversations": 1, "messages": 2, "turns": 1,
                      "deleted_users": 0}


@pytest.mark.parametrize("user", [None, ""], ids=["unset", "empty"])
@pytest.mark.parametrize("table", TABLES)
def test_on_the_standby_nobody_sees_nothing(replica_conn, world_on_standby, table, user):
    assert call(replica_conn, user, f"select count(*) from chat.{table}") == [(0,)]


@pytest.mark.parametrize("table", TABLES)
def test_on_the_standby_a_garbage_user_id_is_an_error_not_a_match(replica_conn, world_on_standby, table):
    with pytest.raises(errors.InvalidTextRepresentation):
        call(replica_conn, "' or true --", f"select count(*) from chat.{table}")


@pytest.mark.parametrize("sql", ["select chat.fetch_messages(%s)", "select chat.fetch_recent(%s)"])
def test_on_the_standby_b_gets_not_found_for_a_conversation_of_a(replica_conn, world_on_standby, sql):
    world = world_on_standby
    with pytest.raises(errors.NoDataFound) as of_a:
        call(replica_conn, world.b, sql, [world.conversation])
    with pytest.raises(errors.NoDataFound) as missing:
        missing_id = uuid.uuid4()
        call(replica_conn, world.b, sql, [missing_id])
    assert of_a.value.diag.message_primary.replace(str(world.conversation), "<id>") == \
        missing.value.diag.message_primary.replace(str(missing_id), "<id>")


def test_on_the_standby_b_gets_nothing_from_the_reading_functions(replica_conn, world_on_standby):
    world = world_on_standby
    assert call(replica_conn, world.b, "select * from chat.get_conversation(%s)", [world.conversation]) == []
    assert call(replica_conn, world.b, "select id from chat.list_conversations(1000)") == [(world.b_conversation,)]
    assert call(replica_conn, world.b, "select * from chat.search_messages('words')") == []
    exported = call(replica_conn, world.b, "select chat.export_user_data()")[0][0]
    assert [c["id"] for c in exported["conversations"]] == [str(world.b_conversation)]
    # and A finds their own there
    assert len(call(replica_conn, world.a, "select * from chat.search_messages('words')")) == 1


# the HTTP API: a write's response gives its position, a read that must see it sends it back

@pytest.fixture
async def replica_api(settings, standby, replicated, chat_db, pg_server, responder):
    """The service with the standby as its read replica (DATABASE_READ_URL)."""
    service = create_app(settings.model_copy(update={
        "database_read_url": standby.conninfo(chat_db, user=RUNTIME, password=pg_server.test_password),
        "read_max_lag": 3600}), responder)
    async with service.router.lifespan_context(service):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://service") as client:
            client.app = service
            yield client


async def test_over_http_a_read_with_the_position_header_sees_the_write(replica_api, auth, standby, user_a):
    headers = auth(user_a)
    created = await replica_api.post("/api/conversations", json={"title": "t"}, headers=headers)
    assert created.status_code == 201 and created.headers["X-Chat-Position"].isdigit()
    conversation = created.json()["id"]
    store = replica_api.app.state.store
    listed = await replica_api.get("/api/conversations", headers=headers)
    assert "X-Chat-Position" not in listed.headers  # a read wrote nothing

    standby.pause_replay()
    try:
        sent = await replica_api.post(f"/api/conversations/{conversation}/messages",
                                      json={"role": "user", "content": "hello"}, headers=headers)
        position = sent.headers["X-Chat-Position"]
        seen = await replica_api.get(f"/api/conversations/{conversation}/messages/recent",
                                     headers={**headers, "X-Chat-Position": position})
        assert [m["content"] for m in seen.json()["items"]] == ["hello"]
        before = dict(store.reads)
        stale = await replica_api.get("/api/search", params={"q": "hello"}, headers=headers)
        assert stale.status_code == 200 and stale.json()["items"] == []  # the standby, as it is
        assert store.reads["replica"] == before.get("replica", 0) + 1

        turn = await replica_api.post("/api/chat", json={"conversation_id": conversation, "message": "echo me"},
                                      headers=headers)
        assert turn.status_code == 200
        after_turn = await replica_api.get(f"/api/conversations/{conversation}/messages",
                                           headers={**headers, "X-Chat-Position": turn.headers["X-Chat-Position"]})
        assert [m["content"] for m in after_turn.json()["items"]][-2:] == [
            "echo me", turn.json()["assistant_message"]["content"]]
    finally:
        standby.resume_replay()


@pytest.mark.parametrize("value", ["abc", "-1", str(2**64), "1.5"])
async def test_over_http_a_malformed_position_is_a_422_naming_the_header(replica_api, auth, user_a, value):
    answer = await replica_api.get("/api/conversations", headers={**auth(user_a), "X-Chat-Position": value})
    assert answer.status_code == 422
    assert [e["loc"] for e in answer.json()["detail"]] == [["header", "x-chat-position"]]
