"""``GET /api/events`` as a client follows it: over HTTP (uvicorn), an event at a time as it comes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Received:
    event: str
    id: int | None
    data: dict


class Stream:
    """The events of one open stream, as they come; pings (comments) left out. A task reads the response
    into a queue, so that a wait that times out loses nothing."""

    ENDED = None

    def __init__(self, response: httpx.Response):
        self.response = response
        self._queue: asyncio.Queue[Received | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def next(self, timeout: float = 5.0) -> Received:
        received = await asyncio.wait_for(self._queue.get(), timeout)
        if received is self.ENDED:
            raise AssertionError("the stream ended")
        return received

    async def take(self, count: int, timeout: float = 5.0) -> list[Received]:
        return [await self.next(timeout) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> None:
        try:
            received = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"an event that should not have come: {received}")

    async def ended(self, timeout: float = 10.0) -> bool:
        """Whether the server ends the stream within ``timeout`` (events still coming are read past)."""
        try:
            while (await asyncio.wait_for(self._queue.get(), timeout)) is not self.ENDED:
                pass
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self._reader.cancel()

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in self.response.aiter_lines():
                if not line:
                    if fields:
                        self._queue.put_nowait(Received(fields.get("event", "message"),
                                                        int(fields["id"]) if "id" in fields else None,
                                                        json.loads(fields["data"])))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        self._queue.put_nowait(self.ENDED)


@asynccontextmanager
async def follow(base_url: str, headers: dict, last_event_id: int | None = None) -> AsyncIterator[Stream]:
    """An open stream of ``GET /api/events`` (from ``last_event_id``), its first event not read yet."""
    if last_event_id is not None:
        headers = {**headers, "Last-Event-ID": str(last_event_id)}
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10.0, read=None)) as client:
        async with client.stream("GET", "/api/events", headers=headers) as response:
            assert response.status_code == 200, (await response.aread()).decode()
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = Stream(response)
            try:
                yield stream
            finally:
                stream.close()


async def opened(base_url: str, headers: dict, stack) -> Stream:
    """A stream entered on ``stack`` (an AsyncExitStack), its ``ready`` read: the stream is open."""
    stream = await stack.enter_async_context(follow(base_url, headers))
    first = await stream.next()
    assert first.event == "ready", first
    return stream
