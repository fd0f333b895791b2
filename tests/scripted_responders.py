"""Responders whose replies a browser test scripts: one that holds its reply until the test lets it go, one
that fails its first turn, one whose every answer differs. The service runs them in its own thread (uvicorn's),
so what the test's thread sets is a threading.Event."""

from __future__ import annotations

import asyncio
import threading

# The longest a held reply waits for its release: a test that never releases it ends all the same.
HOLD_SECONDS = 60


class Held:
    """Streams the ``first`` pieces of its reply, then holds the ``rest`` until ``release()``."""

    def __init__(self, first: list[str], rest: list[str]):
        self.first = first
        self.rest = rest
        self.released = threading.Event()
        self.calls = 0

    @property
    def text(self) -> str:
        return "".join(self.first + self.rest)

    def release(self) -> None:
        self.released.set()

    async def reply(self, history) -> str:
        self.calls += 1
        await asyncio.to_thread(self.released.wait, HOLD_SECONDS)
        return self.text

    async def stream(self, history):
        self.calls += 1
        for piece in self.first:
            yield piece
        await asyncio.to_thread(self.released.wait, HOLD_SECONDS)
        for piece in self.rest:
            yield piece


class FailingFirst:
    """Fails its first turn after a piece of the reply (the stream's error event); answers the later ones."""

    PIECES = ("Let me see… ", "the answer is 42.")

    def __init__(self):
        self.calls = 0

    async def reply(self, history) -> str:
        return "".join([piece async for piece in self.stream(history)])

    async def stream(self, history):
        self.calls += 1
        yield self.PIECES[0]
        if self.calls == 1:
            raise RuntimeError("the model went away")
        yield self.PIECES[1]


class Numbered:
    """Answers ``<n>. You said: <the last user message>``, n counting its answers: no two replies alike."""

    def __init__(self):
        self.calls = 0

    async def reply(self, history) -> str:
        self.calls += 1
        said = next(m.content for m in reversed(history) if m.role == "user")
        return f"{self.calls}. You said: {said}"
