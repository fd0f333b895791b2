"""The service as tests reach it: its routes, and instances of it with their
own settings and responder, each with its lifespan (the pool) running,
reached over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.chat import EchoResponder
from app.main import create_app


# Every /api route, with a body it accepts ({id}: a conversation's).
CONVERSATION_ROUTES = [
    ("get", "/api/conversations/{id}", None),
    ("patch", "/api/conversations/{id}", {"title": "t"}),
    ("delete", "/api/conversations/{id}", None),
    ("post", "/api/conversations/{id}/messages", {"role": "user", "content": "hi"}),
    ("get", "/api/conversations/{id}/messages", None),
    ("get", "/api/conversations/{id}/messages/recent", None),
]

ROUTES = [
    ("post", "/api/conversations", {}),
    ("get", "/api/conversations", None),
    *CONVERSATION_ROUTES,
    ("post", "/api/chat", {"message": "hi"}),
    ("get", "/api/search?q=hi", None),
    ("get", "/api/me/export", None),
    ("delete", "/api/me", None),
]


@asynccontextmanager
async def serve(settings, responder=None, **changes) -> AsyncIterator[httpx.AsyncClient]:
    """An instance of the service with ``settings`` (``changes`` applied to them)."""
    service = create_app(settings.model_copy(update=changes), responder or EchoResponder())
    async with service.router.lifespan_context(service):
        async with client_of(service) as client:
            client.app = service
            yield client


def client_of(service) -> httpx.AsyncClient:
    """A client that gets a 500, as from uvicorn, where the app raises (instead of the test raising)."""
    transport = httpx.ASGITransport(app=service, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://service")
