"""Live updates: ``GET /api/events``, every change to the user's own conversations as Server-Sent Events.

The writes announce themselves: triggers in the database log each change of a user who follows their
conversations (``chat.events``: ids, never content, numbered in the order the user's changes commit) and
``NOTIFY`` on channel ``chat_events``, in the writing transaction, the change the user's streams wait for
(``db/deploy/announce.sql``): the first after a read of their log found nothing more. NOTIFY makes the
transactions that send one commit one at a time, so a burst is announced once, at its start. Each instance of
the service holds one connection that listens (``LISTEN``; ``DATABASE_LISTEN_URL``, by default
``DATABASE_URL``: it must be a direct connection, since a transaction-mode pooler loses a LISTEN with its
transaction) and hands each announcement to the streams of its user on this instance (``Listener``); each
stream then reads the rest of the burst from the log, every ``READ_EVERY`` seconds until a read finds nothing,
together with the instance's other streams (``EventLog``: one call of ``chat.read_events`` for the reads asked
for within ``GATHER`` seconds). The read that finds nothing tells the database, which announces the next change.

A stream opens with ``chat.open_event_stream``, which takes the user's lease (their changes are logged while
one of their streams is open anywhere) and says where the stream starts: ``ready`` for a new one, the events
after a client's ``Last-Event-ID`` for a resumed one, or ``resync`` when that event is gone or from before an
interruption of the log. An announcement carries the user's event before it: a stream that sent that one
sends it at once; one that did not reads what it lacks from the log. Every ``RENEW_EVERY`` seconds the stream
renews the lease and reads the log, which also brings back anything this instance did not hear; when the
listening connection comes back after a failure, each stream catches up the same way. Events are sent once
each, in order: a stream skips what it has sent.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
from psycopg import AsyncConnection

from app.identity import User

logger = logging.getLogger("app.events")

CHANNEL = "chat_events"
# The listening connection's name in pg_stat_activity.
APPLICATION_NAME = "chat-events-listener"
# How often a stream renews its user's lease (chat.open_event_stream holds it 60 seconds), catching up on
# what its instance missed: the longest a missed notification can delay an event.
RENEW_EVERY = 20.0
# How long after a read that found events, or an announced event it sent, a stream reads the log again: every
# change of a burst reaches the streams within it. A read that finds nothing ends the burst: the database then
# announces the user's next change (event_streams.announce_after).
READ_EVERY = 0.5
# How long a read of a burst waits for others (EventLog.read): the reads asked for within it go to the database in one
# call. It adds to READ_EVERY the longest a change of a burst waits for its stream, about 0.6 s in all.
GATHER = 0.1
# How long the listening connection may stay silent before it is checked, and how long the check may take.
LISTEN_CHECK_EVERY = 15.0
LISTEN_CHECK_TIMEOUT = 5.0
# How long closing waits for an attempt to connect under way.
CLOSE_WAIT = 5.0
# Between two attempts to connect again, at most.
RECONNECT_DELAY = 2.0
# How long the startup's check that LISTEN works waits for its own notification.
PROBE_TIMEOUT = 2.0
# How soon a stream tries again when a catch-up failed (the database away, its pooled connections broken).
RETRY_CATCH_UP = 1.0
# The events a catch-up reads in one call (chat.open_event_stream's max_count).
CATCH_UP_BATCH = 1000


@dataclass(frozen=True)
class Event:
    """One change: ``kind`` is message, conversation_created, conversation_renamed, conversation_deleted,
    head_switched; or, from ``chat.open_event_stream``, ready or resync (where a stream starts)."""

    id: int
    kind: str
    conversation_id: UUID | None = None
    seq: int | None = None

    @classmethod
    def from_payload(cls, payload: str) -> tuple[UUID, Announced]:
        """The user and the event of a notification: ``user_id previous_id event_id kind conversation_id
        [seq]``."""
        user_id, previous, event_id, kind, conversation_id, *seq = payload.split(" ")
        return UUID(user_id), Announced(int(previous),
                                        cls(int(event_id), kind, UUID(conversation_id), int(seq[0]) if seq else None))

    def encode(self) -> bytes:
        """The event as a stream sends it: its id, its kind, and as data the ids of what changed (a JSON object);
        byte for byte what ``sse_starlette.ServerSentEvent`` writes, formatted directly (a fifth of the cost; a
        stream sends every change of its user). Its fields are numbers, uuids and a kind's name: nothing to escape."""
        if self.conversation_id is None:
            data = "{}"
        elif self.kind in ("message", "head_switched"):
            seq = "null" if self.seq is None else self.seq
            data = f'{{"conversation_id": "{self.conversation_id}", "seq": {seq}}}'
        else:
            data = f'{{"conversation_id": "{self.conversation_id}"}}'
        return f"id: {self.id}\r\nevent: {self.kind}\r\ndata: {data}\r\n\r\n".encode()


@dataclass(frozen=True)
class Announced:
    """An event as a notification brings it, with the user's event before it: a stream that sent that one may
    send this one; one that did not reads what it lacks from the log."""

    previous: int
    event: Event


# The events that say where a stream starts, not changes of the log.
STARTS = ("ready", "resync")
# A read that is not due.
NEVER = float("inf")

# What a listener tells its streams besides events.
RECONNECTED = "reconnected"  # it listens again after a failure: catch up from the database
CLOSED = "closed"  # the service shuts down: end the stream


class LiveUpdatesUnavailable(Exception):
    """Live updates cannot be served: why, in words for the client (503)."""


def pooled_host(url: str) -> bool:
    """Whether ``url`` names Neon's pooled endpoint (its host's first label ends in -pooler)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host.split(".")[0].endswith("-pooler")


POOLER_PROBLEM = ("live updates are off: DATABASE_LISTEN_URL reaches PostgreSQL through a transaction pooler "
                  "(PgBouncer in transaction mode, Neon's pooled endpoint), where LISTEN hears nothing; set "
                  "DATABASE_LISTEN_URL to a direct connection (on Neon, the endpoint without -pooler)")


class Listener:
    """The instance's one ``LISTEN`` connection, and the queues of the streams it feeds, by user."""

    def __init__(self, url: str):
        self.url = url
        self.problem: str | None = POOLER_PROBLEM if pooled_host(url) else None
        self.listening = asyncio.Event()
        self._queues: dict[UUID, set[asyncio.Queue]] = {}
        self._task: asyncio.Task | None = None
        self._connection: AsyncConnection | None = None
        self._closed = False

    def start(self) -> None:
        if self.problem is not None:
            logger.error("%s", self.problem)
            return
        self._task = asyncio.create_task(self._listen(), name="chat events listener")

    async def close(self) -> None:
        """Stops listening and ends every stream. An attempt to connect under way is let finish first (a few
        seconds at most): cancelled in the middle of its handshake, it would leave the server waiting for the
        rest, a backend that holds up a DROP DATABASE until the server's authentication_timeout."""
        self._closed = True
        if self._task is not None:
            if not self.listening.is_set():
                await asyncio.wait({self._task}, timeout=CLOSE_WAIT)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for queues in self._queues.values():
            for queue in queues:
                queue.put_nowait(CLOSED)

    def subscribe(self, user_id: UUID) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        if self._closed:
            queue.put_nowait(CLOSED)
        self._queues.setdefault(user_id, set()).add(queue)
        return queue

    def unsubscribe(self, user_id: UUID, queue: asyncio.Queue) -> None:
        queues = self._queues.get(user_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[user_id]

    def streams(self, user_id: UUID) -> int:
        """How many streams of the user this instance feeds."""
        return len(self._queues.get(user_id, ()))

    @property
    def backend_pid(self) -> int | None:
        """The listening connection's server process, while there is one."""
        connection = self._connection
        return connection.info.backend_pid if connection is not None and not connection.closed else None

    async def _listen(self) -> None:
        """Listens, and listens again after any failure, until closed."""
        failures = 0
        while not self._closed:
            try:
                async with await AsyncConnection.connect(self.url, autocommit=True,
                                                         application_name=APPLICATION_NAME) as connection:
                    if not await self._hears_itself(connection):
                        self.problem = POOLER_PROBLEM
                        logger.error("%s", self.problem)
                        return
                    if self._closed:
                        return
                    await connection.execute(f"listen {CHANNEL}")
                    self._connection = connection
                    self.listening.set()
                    if failures:
                        logger.warning("listening for live updates again")
                    failures = 0
                    self._broadcast(RECONNECTED)  # what was missed meanwhile is in the log
                    await self._dispatch(connection)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # any failure: the connection is replaced
                self.listening.clear()
                self._connection = None
                failures += 1
                if self._closed:
                    return
                if failures == 1:
                    logger.warning("live updates: the listening connection failed (%s); connecting again",
                                   " ".join(str(error).split()))
                await asyncio.sleep(min(RECONNECT_DELAY, 0.1 * 2 ** failures))

    async def _hears_itself(self, connection: AsyncConnection) -> bool:
        """Whether a notification sent from another connection reaches this one: behind a transaction-mode pooler
        the LISTEN is forgotten with its transaction, and it does not."""
        channel = f"chat_events_probe_{secrets.token_hex(8)}"
        await connection.execute(f"listen {channel}")
        async with await AsyncConnection.connect(self.url, autocommit=True) as other:
            await other.execute("select pg_notify(%s, '')", [channel])
        heard = [notify async for notify in connection.notifies(timeout=PROBE_TIMEOUT, stop_after=1)]
        await connection.execute(f"unlisten {channel}")
        return any(notify.channel == channel for notify in heard)

    async def _dispatch(self, connection: AsyncConnection) -> None:
        """Hands each notification to its user's streams; checks the connection when it has been silent."""
        while True:
            async for notify in connection.notifies(timeout=LISTEN_CHECK_EVERY):
                if notify.channel != CHANNEL:
                    continue
                try:
                    user_id, announced = Event.from_payload(notify.payload)
                except ValueError:
                    logger.warning("live updates: a notification on %s that is not an event: %r", CHANNEL,
                                   notify.payload)
                    continue
                if user_id not in self._queues:
                    continue
                for queue in self._queues[user_id]:
                    queue.put_nowait(announced)
            await asyncio.wait_for(connection.execute("select"), LISTEN_CHECK_TIMEOUT)

    def _broadcast(self, message: str) -> None:
        for queues in self._queues.values():
            for queue in queues:
                queue.put_nowait(message)


class EventLog:
    """The log (``chat.events``) as the streams of this instance read it: opened and renewed one stream at a time
    (``chat.open_event_stream``: the user's lease taken or renewed, their token checked), and read while bursts go
    on in gathered calls (``chat.read_events``): the reads asked for within ``GATHER`` seconds of the first go to the
    database together, each user's log read once for all of their streams. With a transaction for each stream's
    read, twice a second for each user in a burst, 100 followed users appending as fast as they could did 0.70 of
    their appends with no stream in ``make bench``; gathered, 0.86 and 0.93 in two runs."""

    def __init__(self, store):
        self.store = store
        # the reads asked for and not yet sent: by user, the earliest position and the streams waiting
        self._after: dict[UUID, int] = {}
        self._waiting: dict[UUID, list[asyncio.Future]] = {}
        self._gathering: asyncio.TimerHandle | None = None
        self._calls: set[asyncio.Task] = set()

    async def close(self) -> None:
        """Sends the reads asked for and waits for the calls under way: the pool is closed after it."""
        if self._gathering is not None:
            self._gathering.cancel()
            self._read_gathered()
        await asyncio.gather(*self._calls, return_exceptions=True)

    async def open(self, user: User, after: int | None) -> Sequence[Event]:
        """Opens, resumes or renews the user's stream: where it starts, or the events after ``after``."""
        return await self.store.open_event_stream(user, after, CATCH_UP_BATCH)

    async def read(self, user: User, after: int) -> Sequence[Event]:
        """The user's events after ``after``, oldest first, at most ``CATCH_UP_BATCH``, read with the other reads
        asked for within ``GATHER`` seconds; a few from before ``after`` too, when another stream of the user's,
        further behind, asked meanwhile: callers skip what they have."""
        loop = asyncio.get_running_loop()
        waiting = loop.create_future()
        self._after[user.id] = min(after, self._after.get(user.id, after))
        self._waiting.setdefault(user.id, []).append(waiting)
        if self._gathering is None:
            self._gathering = loop.call_later(GATHER, self._read_gathered)
        return await waiting

    def _read_gathered(self) -> None:
        after, waiting = self._after, self._waiting
        self._after, self._waiting, self._gathering = {}, {}, None
        call = asyncio.create_task(self._read(after, waiting), name="chat events read")
        self._calls.add(call)
        call.add_done_callback(self._calls.discard)

    async def _read(self, after: dict[UUID, int], waiting: dict[UUID, list[asyncio.Future]]) -> None:
        try:
            events = await self.store.read_events(after, CATCH_UP_BATCH)
        except asyncio.CancelledError:
            for futures in waiting.values():
                for future in futures:
                    future.cancel()
            raise
        except Exception as error:  # each stream waiting has it: the database away, as for its own reads
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for user_id, futures in waiting.items():
            for future in futures:
                if not future.done():
                    future.set_result(events.get(user_id, []))


async def open_stream(listener: Listener, log: EventLog, user: User,
                      last_event_id: int | None) -> AsyncIterator[bytes]:
    """A user's stream, opened: where it starts (``ready``, what came after ``last_event_id``, or ``resync``),
    then each event once, in order, until the service shuts down or the client leaves. Opening it reads the
    database, so that a failure to is the request's error (503), not a stream's."""
    if listener.problem is not None:
        raise LiveUpdatesUnavailable(listener.problem)
    # Subscribed first: an event committed after the first read comes through the queue.
    queue = listener.subscribe(user.id)
    try:
        first = await log.open(user, last_event_id)
    except BaseException:
        listener.unsubscribe(user.id, queue)
        raise
    stream = _stream(listener, log, user, queue, first, last_event_id or 0)
    # A stream that is never started (its client gone before the response began) runs no finally: unsubscribed
    # when it is dropped (a second unsubscribe does nothing).
    weakref.finalize(stream, listener.unsubscribe, user.id, queue)
    return stream


async def _stream(listener: Listener, log: EventLog, user: User, queue: asyncio.Queue, first: Sequence[Event],
                  sent: int) -> AsyncIterator[bytes]:
    try:
        if first:
            sent = first[-1].id
            yield encoded(first)
        if len(first) == CATCH_UP_BATCH:
            async for batch in _catch_up(log.open, user, sent):
                sent = batch[-1].id
                yield encoded(batch)
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + RENEW_EVERY
        # The log is read READ_EVERY after a read that found events or an announced event sent, until a read finds
        # none of the user's: that read said so to the database, which announces the user's next change. A stream
        # that opened with nothing more to read waits for it too.
        read_at = loop.time() + READ_EVERY if logged(first) else NEVER
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), max(0.0, min(renew_at, read_at) - loop.time()))
            except TimeoutError:
                item = None  # the lease's renewal, or the burst's next read
            if item == CLOSED:
                return
            if isinstance(item, Announced):
                # the start of a burst: its first event at once when this stream sent the one before it; when it
                # lacks events before this one (it missed an announcement), the log read now
                if item.previous <= sent:
                    if item.event.id > sent:
                        sent = item.event.id
                        yield encoded([item.event])
                        read_at = loop.time() + READ_EVERY
                    continue
            # a reconnection, a renewal, events lacking before an announced one, or a burst's next read: what the
            # stream lacks is in the log. A burst's reads go with the other streams' (EventLog.read); the others, rare,
            # one stream a call, which renews the lease too and answers a position the log no longer holds (resync)
            alone = item is not None or loop.time() >= renew_at
            if alone:
                renew_at = loop.time() + RENEW_EVERY
            found = False  # whether the read found events of the user's log, sent already or not
            try:
                async for batch in _catch_up(log.open if alone else log.read, user, sent):
                    found = found or logged(batch)
                    fresh = [event for event in batch if event.id > sent or event.kind == "resync"]
                    if fresh:
                        sent = fresh[-1].id
                        yield encoded(fresh)
            except psycopg.errors.InvalidAuthorizationSpecification:
                # 28000 from the renewal's check of the token: it predates the deletion of its account. The stream
                # ends; a client that comes back is refused (401).
                logger.info("live updates: a stream ended, its token refused (its account was deleted)")
                return
            except psycopg.Error as error:  # the database is away: soon again, and again, renewing
                logger.warning("live updates: a stream could not catch up (%s)", " ".join(str(error).split()))
                read_at = renew_at = loop.time() + RETRY_CATCH_UP
                continue
            # A gathered read finds the user's events from the position of their stream furthest behind: one that
            # has them all reads again too, until a read finds none and the database knows the streams wait.
            read_at = loop.time() + READ_EVERY if found else NEVER
    finally:
        listener.unsubscribe(user.id, queue)


async def _catch_up(read, user: User, after: int) -> AsyncIterator[Sequence[Event]]:
    """The events after ``after`` from the log, a batch at a time (``EventLog.open`` or ``EventLog.read``); or one
    ``resync``."""
    while True:
        events: Sequence[Event] = await read(user, after)
        if events:
            yield events
        if len(events) < CATCH_UP_BATCH:
            return
        after = events[-1].id


def logged(events: Sequence[Event]) -> bool:
    """Whether ``events`` hold events of the log, not only where a stream starts (``ready``, ``resync``)."""
    return any(event.kind not in STARTS for event in events)


def encoded(events: Sequence[Event]) -> bytes:
    """Events as the stream sends them: one write for all of them."""
    return b"".join(event.encode() for event in events)
