"""What following live updates costs an append, in the benchmark's own run and server.

A small database beside the benchmark's (the plan deployed, USERS users of CONVERSATIONS_PER_USER empty
conversations each, as bench.earlier_plan seeds its own), an instance of the service on it (``uvicorn
app.main:app``, a process of its own, as it runs in production, its listener included), and pgbench appending with
CLIENTS clients as the runtime role to a random conversation of a random user, as the Python layer sends an
append. Each call of the workload measures the appends twice, the order alternating from one call to the next:
with STREAMS open streams of ``GET /api/events`` (one for each user: every append is logged, announced and
delivered), and with none (the leases ended, so that no append is logged or announced). The streams are read to
the end by a process of their own that only counts the events it receives (``follow``): clients live on other
machines, so what is measured is what a subscriber costs the service and the database, not what a client costs
on this one. It checks that every append reached its stream.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import socket
import subprocess
import sys
import time

import httpx
import jwt
import psycopg

from bench import earlier_plan, pgbench
from bench.dataset import user_uuid
from bench.workloads import CLIENTS, Result

USERS = earlier_plan.USERS
CONVERSATIONS_PER_USER = earlier_plan.CONVERSATIONS_PER_USER
STREAMS = 100
WORKLOAD = "live_append"
FOLLOWED, UNFOLLOWED = f"pgbench, {STREAMS} streams", "pgbench, no stream"
# The service's pool: what a stream uses of it is its opening, its renewals and its catch-ups, and a share of
# the instance's gathered reads of bursts.
POOL_MAX_SIZE = 4
MESSAGE_EVENT = b"\nevent: message\r\n"  # as sse-starlette writes it


def follow(port: int, tokens: list[str], ready, messages, stop) -> None:
    """A process's work: one stream of ``GET /api/events`` for each token, read to the end over plain sockets;
    ``ready`` counts the streams open, ``messages`` the message events received, until ``stop`` is set."""
    asyncio.run(_follow_all(port, tokens, ready, messages, stop))


async def _follow_all(port: int, tokens: list[str], ready, messages, stop) -> None:
    readers = [asyncio.create_task(_follow(port, token, ready, messages)) for token in tokens]
    while not stop.is_set() and not any(reader.done() for reader in readers):
        await asyncio.sleep(0.1)
    for reader in readers:
        reader.cancel()
    for result in await asyncio.gather(*readers, return_exceptions=True):
        if not isinstance(result, asyncio.CancelledError | type(None)):
            raise result


async def _follow(port: int, token: str, ready, messages) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"live updates' stream refused: {head.decode(errors='replace')}")
        seen = b""
        while b"event: ready" not in seen:
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError("a live updates' stream ended before it was ready")
            seen += chunk
        with ready.get_lock():
            ready.value += 1
        data = seen
        while True:
            # an event cut between two reads is counted once: the end of the read before, too short to hold one,
            # is read again with the next
            with messages.get_lock():
                messages.value += data.count(MESSAGE_EVENT)
            tail = data[-len(MESSAGE_EVENT) + 1:]
            chunk = await reader.read(65536)
            if not chunk:
                raise RuntimeError("a live updates' stream ended")
            data = tail + chunk
    finally:
        writer.close()


class LiveUpdateAppends:
    """The single append with STREAMS streams following its users against with none, as one workload of the
    rounds."""

    def __init__(self, server: dict, conninfo: dict, database: str):
        self.server = server      # the superuser's, to end the leases
        self.conninfo = {**conninfo, "dbname": database}  # the runtime login, as pgbench.run takes it
        self.database = database
        self.secret = secrets.token_hex(32)
        self.calls = 0
        self.port = 0
        self._service: subprocess.Popen | None = None

    def start_service(self) -> None:
        c = self.conninfo
        env = {"PATH": os.environ["PATH"], "PYTHONUTF8": "1", "JWT_SECRET": self.secret,
               "POOL_MAX_SIZE": str(POOL_MAX_SIZE),
               "DATABASE_URL": f"postgresql://{c['user']}:{c['password']}@{c['host']}:{c['port']}/{c['dbname']}"}
        self.port = free_port()
        self._service = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                                          "--port", str(self.port), "--log-level", "warning"],
                                         cwd=earlier_plan.ROOT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self._service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service for the live updates' benchmark did not start")
            time.sleep(0.1)

    def stop_service(self) -> None:
        if self._service is not None:
            self._service.terminate()
            self._service.wait(30)

    def token(self, user: int) -> str:
        now = int(time.time())
        return jwt.encode({"sub": str(user_uuid(user)), "iat": now, "exp": now + 3600}, self.secret, "HS256")

    async def measure(self, seconds: float) -> list[Result]:
        if self._service is None:
            await asyncio.to_thread(self.start_service)
        followed_first = self.calls % 2 == 0
        self.calls += 1
        results = []
        for followed in (followed_first, not followed_first):
            results.append(await (self._followed(seconds) if followed else self._unfollowed(seconds)))
        return results

    async def _appends(self, subject: str, seconds: float) -> Result:
        script = pgbench.append_script(USERS, first_user=1, conversations=CONVERSATIONS_PER_USER)
        return await asyncio.to_thread(pgbench.run, script, name=subject, workload=WORKLOAD, size=0,
                                       conninfo=self.conninfo, seconds=seconds, clients=CLIENTS)

    async def _followed(self, seconds: float) -> Result:
        processes = multiprocessing.get_context("spawn")
        ready, messages, stop = processes.Value("q", 0), processes.Value("q", 0), processes.Event()
        tokens = [self.token(user) for user in range(1, STREAMS + 1)]
        followers = processes.Process(target=follow, args=(self.port, tokens, ready, messages, stop), daemon=True)
        followers.start()
        try:
            await until(lambda: ready.value == STREAMS or not followers.is_alive(), 60)
            if ready.value != STREAMS:
                raise RuntimeError(f"live updates: {ready.value} of {STREAMS} streams opened")
            result = await self._appends(FOLLOWED, seconds)
            # every append reaches its user's stream (within a few seconds of the last)
            await until(lambda: messages.value >= len(result.latencies_ms) or not followers.is_alive(), 10)
            if messages.value < len(result.latencies_ms):
                raise RuntimeError(f"live updates: {messages.value} of {len(result.latencies_ms)} appends reached "
                                   "their streams")
        finally:
            stop.set()
            await asyncio.to_thread(followers.join, 10)
            if followers.is_alive():
                followers.kill()
        return result

    async def _unfollowed(self, seconds: float) -> Result:
        with psycopg.connect(dbname=self.database, autocommit=True, **self.server) as conn:
            conn.execute("delete from chat_private.event_streams")
        return await self._appends(UNFOLLOWED, seconds)

    def workloads(self, seconds: float) -> list:
        return [lambda: self.measure(seconds)]


async def until(condition, timeout: float) -> None:
    """Waits until ``condition()`` holds, ``timeout`` seconds at most."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def prepare(server: dict, run_database: str) -> str:
    """The database of this workload, deployed and seeded; its name."""
    database = f"{run_database}_live"
    earlier_plan.deploy(server, database, None)
    with psycopg.connect(dbname=database, autocommit=True, **server) as conn:
        earlier_plan.seed(conn)
    return database


def free_port() -> int:
    """A port of the loopback interface that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
