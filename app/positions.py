"""Read-your-writes across a read replica: the position of a client's writes, given and taken back.

A response to a request that wrote carries ``X-Chat-Position``: the position of its write (the
transaction's id). A read that must see that write sends the same header back; the store lets
the replica answer it only once the replica has that write, and the primary otherwise. A read
without the header may be answered by the replica as it is, within the store's lag bound.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.replica import Replica, written_position

HEADER = "X-Chat-Position"
MAX_POSITION = 2**64 - 1  # xid8


def read_from(x_chat_position: Annotated[int | None, Header(ge=0, le=MAX_POSITION, description=(
        "The X-Chat-Position of an earlier write this read must see"))] = None) -> Replica:
    return Replica(x_chat_position)


ReadFrom = Annotated[Replica, Depends(read_from)]


class PositionHeader:
    """ASGI middleware: the response to a request that wrote says where its write is (X-Chat-Position)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = written_position.set(None)

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and (position := written_position.get()) is not None:
                message = {**message, "headers": [*message.get("headers", []),
                                                  (HEADER.lower().encode(), str(position).encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_position)
        finally:
            written_position.reset(token)
