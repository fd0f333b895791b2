"""Responders that tests name with RESPONDER=responders:…, as a backend names its own."""

from __future__ import annotations


class Shouting:
    """Replies with the last message, in capitals."""

    async def reply(self, history) -> str:
        return history[-1].content.upper()


def make_shouting() -> Shouting:
    """A factory, called with no argument."""
    return Shouting()


class Blocking:
    """Not a responder: its reply is not a coroutine function."""

    def reply(self, history) -> str:
        return "blocking"


class Broken:
    def __init__(self) -> None:
        raise RuntimeError("no model configured")
