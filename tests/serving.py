"""More instances of the service in one test: each with its own settings and
responder, its lifespan (the pool) running, reached over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from app.chat import EchoResponder
from app.main import create_app


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
