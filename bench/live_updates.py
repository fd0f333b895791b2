"""What following live updates costs an append, in the benchmark's own run and server.

A small database beside the benchmark's (the plan deployed, USERS users of CONVERSATIONS_PER_USER empty
conversations each, as bench.earlier_plan seeds its own), an instance of the service on it (uvicorn, in a
thread of this process, its listener included), and pgbench appending with CLIENTS clients as the runtime role
to a random conversation of a random user, as the Python layer sends an append. Each call of the workload
measures the appends twice, the order alternating from one call to the next: with STREAMS open streams of
``GET /api/events`` (one for each user, read to the end by this process: every append is logged, announced
and delivered), and with none (the leases ended, so that no append is logged or announced). The streams'
readers check that every append reached them.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time

import httpx
import jwt
import psycopg
import uvicorn

from app.chat import EchoResponder
from app.main import create_app
from app.settings import Settings
from bench import earlier_plan, pgbench
from bench.dataset import user_uuid
from bench.workloads import CLIENTS, Result

USERS = earlier_plan.USERS
CONVERSATIONS_PER_USER = earlier_plan.CONVERSATIONS_PER_USER
STREAMS = 100
WORKLOAD = "live_append"
FOLLOWED, UNFOLLOWED = f"pgbench, {STREAMS} streams", "pgbench, no stream"


class Follower:
    """One user's open stream, read to the end: how many messages it was told of."""

    def __init__(self, client: httpx.AsyncClient, token: str):
        self.client, self.token = client, token
        self.messages = 0
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.client.stream("GET", "/api/events", headers=headers) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line == "event: ready":
                    self.ready.set()
                elif line == "event: message":
                    self.messages += 1

    async def opened(self) -> None:
        """Once the stream is open; its error if it failed to."""
        ready = asyncio.create_task(self.ready.wait())
        await asyncio.wait([ready, self.task], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.task.done():
            self.task.result()  # raises what ended it
            raise RuntimeError("a live updates' stream ended before it was ready")

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class LiveUpdateAppends:
    """The single append with STREAMS streams following its users against with none, as one workload of the
    rounds."""

    def __init__(self, server: dict, conninfo: dict, database: str):
        self.server = server      # the superuser's, to end the leases
        self.conninfo = {**conninfo, "dbname": database}  # the runtime login, as pgbench.run takes it
        self.database = database
        self.secret = secrets.token_hex(32)
        self.calls = 0
        self._uvicorn: uvicorn.Server | None = None
        self.base_url = ""

    def start_service(self) -> None:
        c = self.conninfo
        settings = Settings(database_url=f"postgresql://{c['user']}:{c['password']}@{c['host']}:{c['port']}/"
                                         f"{c['dbname']}", jwt_secret=self.secret, pool_max_size=4)
        port = free_port()
        self._uvicorn = uvicorn.Server(uvicorn.Config(create_app(settings, EchoResponder()), host="127.0.0.1",
                                                      port=port, log_level="warning",
                                                      timeout_graceful_shutdown=3))
        threading.Thread(target=self._uvicorn.run, daemon=True).start()
        deadline = time.monotonic() + 30
        while not self._uvicorn.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the service for the live updates' benchmark did not start")
            time.sleep(0.05)
        self.base_url = f"http://127.0.0.1:{port}"

    def stop_service(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    def token(self, user: int) -> str:
        now = int(time.time())
        return jwt.encode({"sub": str(user_uuid(user)), "iat": now, "exp": now + 3600}, self.secret, "HS256")

    async def measure(self, seconds: float) -> list[Result]:
        if self._uvicorn is None:
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
        async with httpx.AsyncClient(base_url=self.base_url, timeout=httpx.Timeout(30.0, read=None),
                                     limits=httpx.Limits(max_connections=STREAMS + 10)) as client:
            followers = [Follower(client, self.token(user)) for user in range(1, STREAMS + 1)]
            try:
                await asyncio.wait_for(asyncio.gather(*(f.opened() for f in followers)), 60)
                result = await self._appends(FOLLOWED, seconds)
                # every append reaches its user's stream (within a few seconds of the last)
                deadline = time.monotonic() + 10
                while sum(f.messages for f in followers) < len(result.latencies_ms) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                delivered = sum(f.messages for f in followers)
                if delivered < len(result.latencies_ms):
                    raise RuntimeError(f"live updates: {delivered} of {len(result.latencies_ms)} appends reached "
                                       "their streams")
            finally:
                for follower in followers:
                    await follower.close()
        return result

    async def _unfollowed(self, seconds: float) -> Result:
        with psycopg.connect(dbname=self.database, autocommit=True, **self.server) as conn:
            conn.execute("delete from chat_private.event_streams")
        return await self._appends(UNFOLLOWED, seconds)

    def workloads(self, seconds: float) -> list:
        return [lambda: self.measure(seconds)]


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
