"""Live updates: every change to a user's conversations, announced by the database from the write itself
(``chat_private.announce``, triggers) while the user follows them, logged in ``chat.events`` for a client
that resumes, and streamed by ``GET /api/events`` from any instance of the service.

In SQL, as the runtime role: what is logged and announced, and for whom; nothing for a user nobody follows;
the log's order; resuming, and resync once the log was interrupted; no client can write the log; several users'
logs read in one call, each as that user. An instance's reads of bursts gathered into one call. Over HTTP:
two users on two instances, each hearing their own changes only, within a second; resuming with
``Last-Event-ID``; the listening connection killed, every connection killed, the service restarted, and
nothing missed or repeated; a flood of 1,000 messages in order; streams ended at shutdown; a pooler refused
with a clear error."""

from __future__ import annotations

import asyncio
import gc
import json
import select
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, ExitStack

import httpx
import psycopg
import pytest
from psycopg import errors
from sse_starlette import ServerSentEvent

from app.chat import EchoResponder
from app.database import create_pool
from app import events
from app.events import POOLER_PROBLEM, Event, EventLog, Listener, encoded, pooled_host
from app.identity import User
from app.store import ChatStore
from app.main import create_app
from as_user import acting_as, append_message, call
from conftest import ROOT
from http_api import post_message
from live_updates import follow, opened
from ports import free_port
from own_server import OwnServer
from serving import over_http, serve, service_env, uvicorn_command, wait_for_health
from tokens import JWT_SECRET


def open_stream(conn, user, after=None) -> list[tuple]:
    return call(conn, user, "select id, kind, conversation_id, seq from chat.open_event_stream(%s)", [after])


def logged(db, user) -> list[tuple]:
    """The user's log as the superuser reads it: (kind, conversation_id, seq), oldest first."""
    return db.execute("select kind, conversation_id, seq from chat.events where user_id = %s order by id",
                      [user]).fetchall()


@pytest.fixture
def listening(pg_server, chat_db):
    """A connection that LISTENs on chat_events; ``heard()`` drains the notifications' payloads."""
    conn = pg_server.connect(chat_db)  # in autocommit
    conn.execute("listen chat_events")

    def heard(wait: float = 0.3) -> list[str]:
        select.select([conn.fileno()], [], [], wait)
        return [notify.payload for notify in conn.notifies(timeout=0.05)]

    yield heard
    conn.close()


# In SQL: what is logged and announced

def test_a_user_nobody_follows_costs_no_event_and_no_notification(app_conn, db, user_a, conversation, listening):
    append_message(app_conn, user_a, conversation)
    call(app_conn, user_a, "select chat.rename_conversation(%s, 'renamed')", [conversation])
    assert logged(db, user_a) == []
    assert listening() == []


def test_each_change_is_logged_and_announced_in_the_order_it_commits(app_conn, db, user_a, listening):
    [(ready, kind, _, _)] = open_stream(app_conn, user_a)
    assert kind == "ready"
    [(conversation,)] = call(app_conn, user_a, "select id from chat.create_conversation('first')")
    append_message(app_conn, user_a, conversation, content="one")
    append_message(app_conn, user_a, conversation, role="assistant", content="two")
    call(app_conn, user_a, "select chat.rename_conversation(%s, 'second')", [conversation])
    call(app_conn, user_a, "select chat.edit_message(%s, 2, 'two again')", [conversation])
    call(app_conn, user_a, "select chat.switch_branch(%s, 2)", [conversation])
    call(app_conn, user_a, "select chat.delete_conversation(%s)", [conversation])

    expected = [("conversation_created", conversation, None), ("message", conversation, 1),
                ("message", conversation, 2), ("conversation_renamed", conversation, None),
                ("message", conversation, 3), ("head_switched", conversation, 2),
                ("conversation_deleted", conversation, None)]
    events = open_stream(app_conn, user_a, ready)
    assert [(kind, conversation_id, seq) for _, kind, conversation_id, seq in events] == expected
    ids = [event_id for event_id, *_ in events]
    assert ids == sorted(ids) and ids[0] > ready
    # announced with the event before it of the same user: the first, after a pause; the others, which follow it
    # closely, are read from the log
    payloads = listening()
    log = [ready, *ids]
    assert payloads and payloads[0] == f"{user_a} {ready} {ids[0]} conversation_created {conversation}"
    for payload in payloads:
        user, previous, event_id, kind, conversation_id, *seq = payload.split(" ")
        assert user == str(user_a) and int(previous) == log[log.index(int(event_id)) - 1]
        assert (kind, uuid.UUID(conversation_id), int(seq[0]) if seq else None) in expected
    # ids only: no title, no content in the log or the payloads
    assert not any("first" in payload or "one" in payload for payload in payloads)


def announce_after(db, user) -> int | None:
    [(after,)] = db.execute("select announce_after from chat_private.event_streams where user_id = %s",
                            [user]).fetchall()
    return after


def newest(db, user) -> int:
    [(event_id,)] = db.execute("select max(id) from chat.events where user_id = %s", [user]).fetchall()
    return event_id


def test_a_burst_is_announced_at_its_start_and_read_from_the_log(app_conn, db, user_a, conversation, listening):
    """A stream that opens waits for an announcement, and the first change is announced; the rest of the burst is
    read from the log, and a read that finds events leaves the next change unannounced: the streams are still
    reading. A read that finds nothing more, or a renewal that does, has the next change announced, with the
    event before it."""
    [(ready, *_)] = open_stream(app_conn, user_a)
    assert announce_after(db, user_a) == ready
    for _ in range(3):
        append_message(app_conn, user_a, conversation)
    [first] = listening(0.1)
    assert first.split(" ")[1:3] == [str(ready), str(ready + 1)]
    [(announced_at,)] = db.execute("select notified_at from chat_private.event_streams where user_id = %s",
                                   [user_a]).fetchall()
    assert announced_at is not None and announce_after(db, user_a) is None

    assert [seq for *_, seq in read_events(app_conn, {user_a: ready})] == [1, 2, 3]
    append_message(app_conn, user_a, conversation)
    assert listening(0.1) == []

    last = newest(db, user_a)
    assert read_events(app_conn, {user_a: last}) == []
    assert announce_after(db, user_a) == last
    append_message(app_conn, user_a, conversation)
    assert listening(0.1) == [f"{user_a} {last} {newest(db, user_a)} message {conversation} 5"]

    last = newest(db, user_a)
    assert open_stream(app_conn, user_a, last) == []
    append_message(app_conn, user_a, conversation)
    assert listening(0.1) == [f"{user_a} {last} {newest(db, user_a)} message {conversation} 6"]
    assert [seq for *_, seq in open_stream(app_conn, user_a, ready)] == [1, 2, 3, 4, 5, 6]


def test_a_read_has_the_next_change_announced_only_from_the_newest_event(app_conn, db, user_a, user_b, conversation):
    """chat_private.await_announcement, which a read that found nothing calls: under the writers' lock it checks that
    the position read from is still the user's newest event, so that a change committed between the read and the
    call is read at the next renewal, not lost behind an announcement that never comes; and it speaks for the
    current user's lease only."""
    [(ready, *_)] = open_stream(app_conn, user_a)
    append_message(app_conn, user_a, conversation)  # announced: the streams read again
    assert announce_after(db, user_a) is None
    call(app_conn, user_a, "select chat_private.await_announcement(%s)", [ready])
    assert announce_after(db, user_a) is None
    call(app_conn, user_b, "select chat_private.await_announcement(%s)", [newest(db, user_a)])
    assert announce_after(db, user_a) is None
    call(app_conn, user_a, "select chat_private.await_announcement(%s)", [newest(db, user_a)])
    assert announce_after(db, user_a) == newest(db, user_a)


def test_the_log_is_each_users_own(app_conn, db, user_a, user_b, conversation):
    open_stream(app_conn, user_a)
    open_stream(app_conn, user_b)
    append_message(app_conn, user_a, conversation)
    [(a_message,)] = db.execute("select id from chat.events where user_id = %s and kind = 'message'",
                                [user_a]).fetchall()
    [(b_conversation,)] = call(app_conn, user_b, "select id from chat.create_conversation()")

    assert call(app_conn, user_b, "select kind, conversation_id from chat.events where kind <> 'stream_opened'") \
        == [("conversation_created", b_conversation)]
    # an event of another user is no place to resume from
    [(_, kind, _, _)] = open_stream(app_conn, user_b, a_message)
    assert kind == "resync"
    with pytest.raises(errors.InsufficientPrivilege):
        call(app_conn, user_b, "insert into chat.events (user_id, kind, conversation_id) values (%s, 'message', %s)",
             [user_a, conversation])
    for statement in ("update chat_private.event_streams set open_until = now() + interval '1 day'",
                      "delete from chat.events",
                      "insert into chat_private.event_streams (user_id, open_until, since_id)"
                      " values (chat_private.current_user_id(), now(), 0)"):
        with pytest.raises(errors.InsufficientPrivilege):
            call(app_conn, user_b, statement)
    assert [kind for kind, *_ in logged(db, user_a)] == ["stream_opened", "message"]


@pytest.mark.parametrize("kind, with_conversation, constraint", [
    ("bogus", True, "event_kind_known"),           # the kinds: the domain chat.event_kind
    ("message", False, "events_conversation"),     # a change names its conversation
    ("stream_opened", True, "events_conversation"),  # where a run begins names none
])
def test_the_log_refuses_what_no_writer_may_write_even_its_owner(db, user_a, conversation, kind, with_conversation,
                                                                  constraint):
    with pytest.raises(errors.CheckViolation) as refused:
        db.execute("insert into chat.events (user_id, kind, conversation_id) values (%s, %s, %s)",
                   [user_a, kind, conversation if with_conversation else None])
    assert refused.value.diag.constraint_name == constraint
    assert db.execute("select count(*) from chat.events where user_id = %s", [user_a]).fetchone() == (0,)


def test_a_lapsed_lease_leaves_changes_unlogged_and_a_resume_from_before_it_gets_resync(app_conn, db, user_a,
                                                                                       conversation):
    [(ready, *_)] = open_stream(app_conn, user_a)
    append_message(app_conn, user_a, conversation)
    [(seen, *_)] = open_stream(app_conn, user_a, ready)
    db.execute("update chat_private.event_streams set open_until = now() - interval '1 second'")
    append_message(app_conn, user_a, conversation)  # nobody follows: not logged

    [(resync, kind, _, _)] = open_stream(app_conn, user_a, seen)
    assert kind == "resync"
    # a new run of the log, the old one gone: nothing can resume from it
    assert [kind for kind, *_ in logged(db, user_a)] == ["stream_opened"]
    assert resync > seen
    append_message(app_conn, user_a, conversation)
    assert [(kind, seq) for _, kind, _, seq in open_stream(app_conn, user_a, resync)] == [("message", 3)]


def test_a_renewal_keeps_the_log_unbroken(app_conn, db, user_a, conversation):
    [(ready, *_)] = open_stream(app_conn, user_a)
    until = db.execute("select open_until from chat_private.event_streams").fetchone()[0]
    assert open_stream(app_conn, user_a, ready) == []  # a catch-up soon after: a read
    assert db.execute("select open_until from chat_private.event_streams").fetchone()[0] == until
    db.execute("update chat_private.event_streams set open_until = open_until - interval '20 seconds'")
    assert open_stream(app_conn, user_a, ready) == []  # 20 seconds later: the lease renewed
    assert db.execute("select open_until from chat_private.event_streams").fetchone()[0] > until
    assert [kind for kind, *_ in logged(db, user_a)] == ["stream_opened"]


def read_events(conn, positions: dict, caller=None, max_count: int = 1000) -> list[tuple]:
    """``chat.read_events`` of ``positions`` (user: after) in one call, as the runtime role acting for ``caller``
    (None: nobody); its rows."""
    return call(conn, caller, "select * from chat.read_events(%s::uuid[], %s::bigint[], %s)",
                [list(positions), list(positions.values()), max_count])


def test_gathered_reads_read_each_user_as_that_user(app_conn, db, user_a, user_b, make_user, conversation):
    [(ready_a, *_)] = open_stream(app_conn, user_a)
    [(ready_b, *_)] = open_stream(app_conn, user_b)
    append_message(app_conn, user_a, conversation, content="one")
    [(b_conversation,)] = call(app_conn, user_b, "select id from chat.create_conversation()")
    append_message(app_conn, user_a, conversation, content="two")
    unfollowed = make_user()

    rows = read_events(app_conn, {user_a: ready_a, user_b: ready_b, unfollowed: 0})
    assert [(user, kind, conversation_id, seq) for user, _, kind, conversation_id, seq in rows] == [
        (user_a, "message", conversation, 1), (user_a, "message", conversation, 2),
        (user_b, "conversation_created", b_conversation, None)]
    assert [event_id for user, event_id, *_ in rows if user == user_a] \
        == [event_id for event_id, *_ in open_stream(app_conn, user_a, ready_a)]
    # after a position, at most max_count; nothing from before the user's current run of the log (their lease ran
    # out and began again): open_event_stream answers that position with resync
    [(user, first, *_), _] = read_events(app_conn, {user_a: ready_a, user_b: ready_b}, max_count=1)
    assert user == user_a
    assert [seq for *_, seq in read_events(app_conn, {user_a: first})] == [2]
    assert read_events(app_conn, {user_a: ready_a - 1}) == []
    # the caller's own setting is back at the end
    assert call(app_conn, user_b, "select count(*), current_setting('app.user_id') from"
                " chat.read_events(array[%s]::uuid[], array[%s]::bigint[])", [user_a, ready_a]) == [(2, str(user_b))]


def test_gathered_reads_refuse_bad_arguments_naming_them(app_conn, user_a):
    [(ready, *_)] = open_stream(app_conn, user_a)
    cases = [("select chat.read_events(array[%s]::uuid[], array[1, 2]::bigint[])", [user_a],
              errors.InvalidParameterValue, "after_ids"),
             ("select chat.read_events(array[%s, null]::uuid[], array[1, 2]::bigint[])", [user_a],
              errors.NullValueNotAllowed, "user_ids"),
             ("select chat.read_events(array[%s]::uuid[], null)", [user_a], errors.NullValueNotAllowed, "after_ids"),
             ("select chat.read_events(array[%s]::uuid[], array[1]::bigint[], 0)", [user_a],
              errors.InvalidParameterValue, "max_count")]
    for statement, params, error, column in cases:
        with pytest.raises(error) as refused:
            call(app_conn, None, statement, params)
        assert refused.value.diag.column_name == column
    assert read_events(app_conn, {}) == []


def test_a_gathered_read_that_finds_nothing_waits_for_a_change_being_written(connect_as, app_conn, user_a,
                                                                              conversation):
    """A read that finds nothing ends a stream's burst and has the next change announced: a change inserted before
    it and committed after it must be read, not left unannounced behind it. A read that finds events does not
    wait: a burst's writers never wait for the readers."""
    [(ready, *_)] = open_stream(app_conn, user_a)
    writer = connect_as("chat_test_app")
    reader = connect_as("chat_test_app")
    with ThreadPoolExecutor(1) as pool:
        with acting_as(writer, user_a):
            append_message(writer, None, conversation)  # in flight: written, not committed
            waiting = pool.submit(read_events, reader, {user_a: ready})
            time.sleep(0.3)
            assert not waiting.done()
        assert [(kind, seq) for _, _, kind, _, seq in waiting.result(timeout=5)] == [("message", 1)]

        [(_, first, *_)] = read_events(app_conn, {user_a: ready})
        with acting_as(writer, user_a):
            append_message(writer, None, conversation)  # in flight
            assert [seq for *_, seq in pool.submit(read_events, reader, {user_a: ready}).result(timeout=5)] == [1]
        assert [seq for *_, seq in read_events(app_conn, {user_a: first})] == [2]


def test_max_count_is_checked_and_bounds_a_catch_up(app_conn, user_a, conversation):
    [(ready, *_)] = open_stream(app_conn, user_a)
    for _ in range(3):
        append_message(app_conn, user_a, conversation)
    assert [seq for *_, seq in call(app_conn, user_a, "select * from chat.open_event_stream(%s, 2)", [ready])] \
        == [1, 2]
    for bad in (0, 1001):
        with pytest.raises(errors.InvalidParameterValue) as refused:
            call(app_conn, user_a, "select * from chat.open_event_stream(null, %s)", [bad])
        assert refused.value.diag.column_name == "max_count"


def test_a_deleted_account_leaves_no_event_and_no_lease(app_conn, db, user_a, conversation):
    open_stream(app_conn, user_a)
    append_message(app_conn, user_a, conversation)
    assert call(app_conn, user_a, "select chat.delete_user()") == [(True,)]
    assert logged(db, user_a) == []
    assert db.execute("select count(*) from chat_private.event_streams").fetchone() == (0,)


# An event as a stream sends it

@pytest.mark.parametrize("event", [
    Event(5, "message", uuid.UUID(int=7), 3), Event(6, "head_switched", uuid.UUID(int=7), 2),
    Event(7, "head_switched", uuid.UUID(int=7), None), Event(8, "conversation_created", uuid.UUID(int=7)),
    Event(9, "conversation_renamed", uuid.UUID(int=7)), Event(10, "conversation_deleted", uuid.UUID(int=7)),
    Event(11, "ready"), Event(12, "resync"),
], ids=lambda event: f"{event.kind}-{event.seq}")
def test_an_event_is_encoded_as_sse_starlette_writes_it(event):
    data = {} if event.conversation_id is None else {"conversation_id": str(event.conversation_id)}
    if event.kind in ("message", "head_switched"):
        data["seq"] = event.seq
    assert event.encode() == ServerSentEvent(data=json.dumps(data), event=event.kind, id=str(event.id)).encode()
    assert encoded([event, event]) == event.encode() * 2


# An instance's reads of bursts

class CountingStore(ChatStore):
    """The store, counting its calls of chat.read_events."""

    gathered = 0

    async def read_events(self, positions, limit=1000):
        self.gathered += 1
        return await super().read_events(positions, limit)


async def test_the_reads_an_instances_streams_ask_for_together_are_one_call(settings, app_conn, make_user):
    users = [User(make_user()) for _ in range(4)]
    async with create_pool(settings) as pool:
        store = CountingStore(pool)
        log = EventLog(store)
        ready = {user.id: (await log.open(user, None))[0].id for user in users}
        for user in users:
            call(app_conn, user.id, "select chat.create_conversation()")
        first = users[0]
        [(second_position,)] = call(app_conn, first.id, "select max(id) from chat.events")
        call(app_conn, first.id, "select chat.create_conversation()")

        # every stream's read, two of them the same user's (the second further on): one call, each user's log once
        reads = await asyncio.gather(*(log.read(user, ready[user.id]) for user in users),
                                     log.read(first, second_position))
        assert store.gathered == 1
        for user, events in zip(users, reads, strict=False):
            assert [event.id for event in events] == [event.id for event in await log.open(user, ready[user.id])]
            assert {event.kind for event in events} == {"conversation_created"}
        assert len(reads[0]) == 2 and reads[-1] == reads[0]  # the second skips what it has, as streams do

        # apart: a call each
        assert await log.read(first, reads[0][-1].id) == []
        assert await log.read(first, ready[first.id]) == reads[0]
        assert store.gathered == 3

        # closing sends the reads asked for, and waits for them, before the pool closes
        asked = asyncio.ensure_future(log.read(first, ready[first.id]))
        await asyncio.sleep(0)
        await log.close()
        assert asked.done() and asked.result() == reads[0]
        assert store.gathered == 4

    # the database away: every stream waiting gets the error, as from its own read
    failures = await asyncio.gather(log.read(first, 0), log.read(users[1], 0), return_exceptions=True)
    assert [isinstance(failure, psycopg.OperationalError) for failure in failures] == [True, True]
    assert store.gathered == 5


# Over HTTP

@pytest.fixture
def instances(settings):
    """``instances(n)``: n instances of the service over HTTP, each with its own listener: their base URLs."""
    with ExitStack() as stack:
        def start(count: int = 1) -> list[str]:
            return [stack.enter_context(over_http(create_app(settings, EchoResponder()))) for _ in range(count)]

        yield start


async def test_each_users_changes_reach_their_streams_on_every_instance_and_no_one_elses(instances, auth, user_a,
                                                                                        user_b):
    one, two = instances(2)
    async with AsyncExitStack() as stack:
        a_one, a_two = await opened(one, auth(user_a), stack), await opened(two, auth(user_a), stack)
        b_two = await opened(two, auth(user_b), stack)
        async with serve_client(one) as client:
            created = (await client.post("/api/conversations", json={}, headers=auth(user_a))).json()
            assert (await post_message(client, auth(user_a), created["id"])).status_code == 201
            for stream in (a_one, a_two):
                first, second = await stream.next(timeout=1.0), await stream.next(timeout=1.0)
                assert (first.event, first.data) == ("conversation_created", {"conversation_id": created["id"]})
                assert (second.event, second.data) == ("message", {"conversation_id": created["id"], "seq": 1})
                assert second.id > first.id
            await b_two.nothing_within(0.5)

            b_created = (await client.post("/api/conversations", json={}, headers=auth(user_b))).json()
            received = await b_two.next(timeout=1.0)
            assert received.data == {"conversation_id": b_created["id"]}
            await a_one.nothing_within(0.3)
            await a_two.nothing_within(0.1)


async def test_a_stream_resumed_with_last_event_id_gets_what_it_missed_once(instances, app_conn, auth, user_a,
                                                                            conversation):
    [base] = instances()
    async with follow(base, auth(user_a)) as stream:
        ready = await stream.next()
        append_message(app_conn, user_a, conversation)
        seen = await stream.next()
    for n in range(3):
        append_message(app_conn, user_a, conversation, content=f"missed {n}")

    async with follow(base, auth(user_a), last_event_id=seen.id) as stream:
        missed = await stream.take(3)
        assert [(r.event, r.data["seq"]) for r in missed] == [("message", 2), ("message", 3), ("message", 4)]
        assert [r.id for r in missed] == sorted(r.id for r in missed) and missed[0].id > seen.id
        await stream.nothing_within(0.5)
        append_message(app_conn, user_a, conversation)
        assert (await stream.next(timeout=1.0)).data["seq"] == 5

    async with follow(base, auth(user_a), last_event_id=0) as stream:  # an event that is not in the log
        received = await stream.next()
        assert received.event == "resync" and received.id > ready.id


async def test_a_stream_whose_run_of_the_log_ended_gets_resync_at_the_next_change(instances, db, app_conn, auth,
                                                                                   user_a, conversation):
    """Its lease lapsed while it stayed open (its instance could not renew it), and another stream began a new
    run of the log: the next change is announced after events the stream never saw, and the read that follows,
    which the gathered reads would answer with nothing, answers resync."""
    [base] = instances()
    async with follow(base, auth(user_a)) as stream:
        await stream.next()  # ready
        db.execute("update chat_private.event_streams set open_until = now() - interval '1 second'")
        async with follow(base, auth(user_a)) as other:
            await other.next()  # ready, in a new run
            append_message(app_conn, user_a, conversation)
            assert (await other.next(timeout=1.0)).event == "message"
            assert (await stream.next(timeout=1.0)).event == "resync"


async def test_a_stream_ends_at_the_renewal_after_its_account_was_deleted(instances, auth, user_a, monkeypatch):
    """The renewal checks the token, which predates the deletion: the stream ends (a client that comes back gets
    401), rather than trying again every second for as long as the client stays."""
    monkeypatch.setattr(events, "RENEW_EVERY", 0.5)
    [one] = instances(1)
    async with AsyncExitStack() as stack:
        stream = await opened(one, auth(user_a), stack)
        async with serve_client(one) as client:
            assert (await client.delete("/api/me", headers=auth(user_a))).status_code == 204
            assert await stream.ended(timeout=3.0)
            assert (await client.get("/api/events", headers=auth(user_a))).status_code == 401


async def test_a_stream_never_started_leaves_no_subscription_behind(settings, make_user):
    """A client gone before its response began: the stream, opened (its lease taken, its queue subscribed), is
    never iterated, so its own ``finally`` never runs; dropped, it is unsubscribed all the same. A stream that
    ran to its end is unsubscribed once, by itself."""
    user = User(make_user())
    listener = Listener(settings.database_url)
    async with create_pool(settings) as pool:
        log = EventLog(ChatStore(pool))
        stream = await events.open_stream(listener, log, user, None)
        assert listener.streams(user.id) == 1
        del stream
        gc.collect()
        assert listener.streams(user.id) == 0

        stream = await events.open_stream(listener, log, user, None)
        assert (await anext(stream)).startswith(b"id: ")
        await stream.aclose()
        assert listener.streams(user.id) == 0
        del stream
        gc.collect()
        assert listener.streams(user.id) == 0


async def test_last_event_id_that_is_not_a_number_is_refused_naming_it(api, auth, user_a):
    response = await api.get("/api/events", headers={**auth(user_a), "Last-Event-ID": "seven"})
    assert response.status_code == 422
    assert ["header", "last-event-id"] in [error["loc"] for error in response.json()["detail"]]


@pytest.mark.serial  # it terminates every backend of the runtime login, the other tests' too
async def test_the_listening_connection_killed_nothing_is_missed_or_repeated(instances, settings, db, app_conn,
                                                                           auth, user_a, conversation):
    service = create_app(settings, EchoResponder())
    with over_http(service) as base:
        async with follow(base, auth(user_a)) as stream:
            await stream.next()
            append_message(app_conn, user_a, conversation)
            assert (await stream.next(timeout=1.0)).data["seq"] == 1

            killed = service.state.listener.backend_pid
            db.execute("select pg_terminate_backend(%s)", [killed])
            for _ in range(5):  # while the listener connects again
                append_message(app_conn, user_a, conversation)
            received = await stream.take(5, timeout=5.0)
            assert [r.data["seq"] for r in received] == [2, 3, 4, 5, 6]
            await stream.nothing_within(0.5)
            assert service.state.listener.backend_pid not in (None, killed)

            # every connection of the service killed, as a restart of the database does
            db.execute("select pg_terminate_backend(pid) from pg_stat_activity"
                       " where usename = 'chat_test_app' and pid <> %s", [app_conn.info.backend_pid])
            append_message(app_conn, user_a, conversation)
            assert (await stream.next(timeout=5.0)).data["seq"] == 7
            await stream.nothing_within(0.5)


@pytest.mark.slow
async def test_the_database_restarted_the_stream_recovers_and_misses_nothing(pg_server, settings, auth):
    """A PostgreSQL of this test's own, stopped and started under an open stream: the listener connects again,
    and the stream reads what it missed from the log, once."""
    server = OwnServer(pg_server.test_password)
    user = uuid.uuid4()
    try:
        service = create_app(settings.model_copy(update={"database_url": server.runtime_url(), "pool_timeout": 1.0}),
                             EchoResponder())
        with over_http(service) as base:
            async with serve_client(base) as client, follow(base, auth(user)) as stream:
                assert (await stream.next()).event == "ready"
                created = (await client.post("/api/conversations", json={}, headers=auth(user))).json()
                assert (await post_message(client, auth(user), created["id"])).status_code == 201
                assert [(r.event, r.data.get("seq")) for r in await stream.take(2)] == [
                    ("conversation_created", None), ("message", 1)]

                server.stop()
                await asyncio.sleep(1.0)
                server.start()
                await wait_for_health(client, 200, within=60)
                assert (await post_message(client, auth(user), created["id"])).status_code == 201
                received = await stream.next(timeout=10.0)
                assert (received.event, received.data["seq"]) == ("message", 2)
                await stream.nothing_within(1.0)
                assert service.state.listener.listening.is_set()
    finally:
        server.remove()


async def test_a_restarted_service_resumes_its_clients_streams(settings, app_conn, auth, user_a, conversation):
    with over_http(create_app(settings, EchoResponder())) as base:
        async with follow(base, auth(user_a)) as stream:
            await stream.next()
            append_message(app_conn, user_a, conversation)
            seen = await stream.next(timeout=1.0)
    append_message(app_conn, user_a, conversation)  # while no instance runs
    with over_http(create_app(settings, EchoResponder())) as base:
        async with follow(base, auth(user_a), last_event_id=seen.id) as stream:
            assert (await stream.next()).data["seq"] == 2
            append_message(app_conn, user_a, conversation)
            assert (await stream.next(timeout=1.0)).data["seq"] == 3


async def test_every_change_of_a_burst_reaches_the_stream_within_a_second(instances, app_conn, auth, user_a,
                                                                          conversation):
    """Changes apart by less than the pause and by more, so that some are announced and the others are read with
    their burst: each reaches the stream within a second of its commit, whichever way it came. The first four:
    one announced, one read half a second after it, one announced just before the stream's next read (which
    then finds nothing), and one too soon after it to be announced, which only a read half a second after the
    announced one finds; then none announced for over a second."""
    [base] = instances()
    gaps = [1.0, 0.1, 0.75, 0.25, *[0.2] * 6, 0.35, 0.45, 0.55, 0.7, 0.1, 0.6, 0.05, 0.4, 0.15, 0.02, 0.02]
    committed: dict[int, float] = {}

    def write():
        for seq, gap in enumerate(gaps, start=1):
            time.sleep(gap)
            append_message(app_conn, user_a, conversation, content=f"burst {seq}")
            committed[seq] = time.monotonic()

    async with follow(base, auth(user_a)) as stream:
        await stream.next()
        writer = asyncio.create_task(asyncio.to_thread(write))
        arrived = {}
        for _ in gaps:
            received = await stream.next(timeout=2.0)
            arrived[received.data["seq"]] = time.monotonic()
        await writer
    assert sorted(arrived) == list(range(1, len(gaps) + 1))
    late = {seq: round(arrived[seq] - committed[seq], 2) for seq in arrived if arrived[seq] - committed[seq] > 1.0}
    assert late == {}


async def test_a_flood_of_a_thousand_messages_arrives_whole_and_in_order(instances, connect_as, auth, user_a):
    [base] = instances()
    writers = [connect_as("chat_test_app") for _ in range(4)]
    conversations = [call(conn, user_a, "select id from chat.create_conversation()")[0][0] for conn in writers]

    def write(conn, conversation):
        for n in range(250):
            append_message(conn, user_a, conversation, content=f"flood {n}")

    async with follow(base, auth(user_a)) as stream:
        await stream.next()
        threads = [threading.Thread(target=write, args=pair) for pair in zip(writers, conversations, strict=True)]
        for thread in threads:
            thread.start()
        received = await stream.take(1000, timeout=30.0)
        await asyncio.to_thread(lambda: [thread.join() for thread in threads])
        await stream.nothing_within(0.5)
    ids = [r.id for r in received]
    assert ids == sorted(set(ids))
    for conversation in conversations:
        seqs = [r.data["seq"] for r in received if r.data["conversation_id"] == str(conversation)]
        assert seqs == list(range(1, 251))
    for conn in writers:
        conn.close()


@pytest.mark.slow
async def test_streams_end_when_the_service_shuts_down(settings, auth, user_a):
    """``uvicorn app.main:app`` stopped as a process manager stops it (SIGTERM): its streams end, and it exits."""
    port = free_port()
    env = service_env(DATABASE_URL=settings.database_url, JWT_SECRET=JWT_SECRET)
    process = subprocess.Popen(uvicorn_command(port), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        await started(base, process)
        async with AsyncExitStack() as stack:
            streams = [await opened(base, auth(user_a), stack) for _ in range(2)]
            process.send_signal(signal.SIGTERM)
            for stream in streams:
                assert await stream.ended(timeout=10.0)
        # uvicorn raises the signal again once it has shut down, as a process manager expects
        assert await asyncio.to_thread(process.wait, 30) == -signal.SIGTERM
        assert "Application shutdown complete." in process.stdout.read()
    finally:
        process.kill()
        process.wait()


async def started(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            async with httpx.AsyncClient(base_url=base, timeout=5) as client:
                if (await client.get("/healthz")).status_code == 200:
                    return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the service did not start"
        await asyncio.sleep(0.2)


# A pooler cannot LISTEN

async def test_a_listen_url_through_a_transaction_pooler_is_a_clear_503_and_the_rest_works(pooled_settings,
                                                                                         auth, user_a):
    async with serve(pooled_settings) as client:
        listener: Listener = client.app.state.listener
        for _ in range(100):
            if listener.problem is not None:
                break
            await asyncio.sleep(0.1)
        assert listener.problem == POOLER_PROBLEM
        response = await client.get("/api/events", headers=auth(user_a))
        assert response.status_code == 503
        assert "DATABASE_LISTEN_URL" in response.json()["detail"]
        assert (await client.post("/api/conversations", json={}, headers=auth(user_a))).status_code == 201


async def test_a_direct_listen_url_beside_a_pooled_database_url_serves_live_updates(pooled_settings, settings,
                                                                                  auth, user_a):
    service = create_app(pooled_settings.model_copy(update={"database_listen_url": settings.database_url}),
                         EchoResponder())
    with over_http(service) as base:
        async with AsyncExitStack() as stack:
            stream = await opened(base, auth(user_a), stack)
            async with serve_client(base) as client:
                created = (await client.post("/api/conversations", json={}, headers=auth(user_a))).json()
            assert (await stream.next(timeout=1.0)).data == {"conversation_id": created["id"]}


def test_neons_pooled_endpoint_is_known_by_its_name():
    assert pooled_host("postgresql://app@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/chat")
    assert not pooled_host("postgresql://app@ep-cool-darkness-123456.us-east-2.aws.neon.tech/chat")
    assert Listener("postgresql://app@ep-x-pooler.eu-central-1.aws.neon.tech/chat").problem == POOLER_PROBLEM


def serve_client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, timeout=10.0)
