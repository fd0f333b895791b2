"""The service as tests reach it: its routes, and instances of it with their
own settings and responder, each with its lifespan (the pool) running,
reached over ASGI, or over HTTP through uvicorn; and what it takes to start
it as a process of its own (``uvicorn app.main:app``)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import uvicorn

from app.chat import EchoResponder
from app.main import create_app
from ports import free_port


# Every /api route, with a body it accepts ({id}: a conversation's).
CONVERSATION_ROUTES = [
    ("get", "/api/conversations/{id}", None),
    ("patch", "/api/conversations/{id}", {"title": "t"}),
    ("delete", "/api/conversations/{id}", None),
    ("post", "/api/conversations/{id}/messages", {"role": "user", "content": "hi"}),
    ("get", "/api/conversations/{id}/messages", None),
    ("get", "/api/conversations/{id}/messages/recent", None),
    ("post", "/api/conversations/{id}/head", {"seq": 1}),
    ("get", "/api/conversations/{id}/messages/1/siblings", None),
]

ROUTES = [
    ("post", "/api/conversations", {}),
    ("get", "/api/conversations", None),
    *CONVERSATION_ROUTES,
    ("post", "/api/chat", {"message": "hi"}),
    ("get", "/api/events", None),
    ("get", "/api/search?q=hi", None),
    ("get", "/api/me/export", None),
    ("delete", "/api/me", None),
]


# A database URL with a password, that must never be printed either.
UNREACHABLE_DATABASE = "postgresql://chat_api:not-to-be-printed@127.0.0.1:{port}/chat?connect_timeout=1"


@asynccontextmanager
async def serve(settings, responder=None, **changes) -> AsyncIterator[httpx.AsyncClient]:
    """An instance of the service with ``settings`` (``changes`` applied to them)."""
    service = create_app(settings.model_copy(update=changes), responder or EchoResponder())
    async with service.router.lifespan_context(service):
        async with client_of(service) as client:
            client.app = service
            yield client


async def duplicates_on_two(one: httpx.AsyncClient, other: httpx.AsyncClient, responders, body: dict,
                            headers: dict, count: int = 6) -> list[httpx.Response]:
    """``count`` copies of the chat turn ``body``, alternating between two instances of the service whose
    ``responders`` (each with events ``called`` and ``gate``) answer once their gate opens: the gates open once
    one of them is called, and the answers come back in the order sent."""
    racing = [asyncio.create_task((one if n % 2 else other).post("/api/chat", json=body, headers=headers))
              for n in range(count)]
    await asyncio.wait_for(asyncio.wait([asyncio.ensure_future(r.called.wait()) for r in responders],
                                        return_when=asyncio.FIRST_COMPLETED), 30)
    for responder in responders:
        responder.gate.set()
    return await asyncio.gather(*racing)


def client_of(service) -> httpx.AsyncClient:
    """A client that gets a 500, as from uvicorn, where the app raises (instead of the test raising)."""
    transport = httpx.ASGITransport(app=service, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://service")


# How long a service over HTTP waits for its open connections when it shuts down, in seconds.
GRACEFUL_SHUTDOWN = 3


@contextmanager
def over_http(service) -> Iterator[str]:
    """``service`` served by uvicorn on a free loopback port, in a thread of this process: its base URL. On exit
    uvicorn shuts down as on SIGTERM (the lifespan's shutdown included), waiting for open connections a few
    seconds at most: in a thread, no signal reaches sse-starlette, so a live updates' stream a browser keeps open
    (GET /api/events) would otherwise hold the shutdown, and the service's listener with it, for ever."""
    server = uvicorn.Server(uvicorn.Config(service, host="127.0.0.1", port=free_port(), log_level="warning",
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def service_env(**variables: str) -> dict[str, str]:
    """An environment with nothing of this one's but PATH: no JWT_* nor DATABASE_URL unless given."""
    return {"PATH": os.environ["PATH"], "PYTHONUTF8": "1", **variables}


def uvicorn_command(port: int) -> list[str]:
    """``uvicorn app.main:app`` on 127.0.0.1:``port``, with this interpreter."""
    return [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)]


async def wait_for_health(client, status: int, within: float) -> None:
    async def poll():
        while (await client.get("/healthz")).status_code != status:
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), within)
