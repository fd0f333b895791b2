"""The stateless chat turn, and the responder that writes the assistant's reply.

A turn stores the user's message first, loads the recent history from the
database, asks the responder, and stores the reply. The responder is called
with no connection held: a slow model never keeps a pooled connection busy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from app.models import MAX_CONTENT, Message
from app.store import ChatStore, User

HISTORY = 50


class Responder(Protocol):
    """Writes the assistant's reply to a conversation: history in (oldest first, at most 50), reply out."""

    async def reply(self, history: Sequence[Message]) -> str: ...


class EchoResponder:
    """The built-in responder: deterministic and offline, for development and tests."""

    async def reply(self, history: Sequence[Message]) -> str:
        last = next((m.content for m in reversed(history) if m.role == "user"), "")
        return f"You said: {last}"[:MAX_CONTENT]


class ResponderFailed(Exception):
    """The responder raised or answered nonsense; the user's message is stored in ``conversation_id``."""

    def __init__(self, conversation_id: UUID):
        super().__init__(f"the responder failed for conversation {conversation_id}")
        self.conversation_id = conversation_id


@dataclass
class Turn:
    conversation_id: UUID
    user_message: Message
    assistant_message: Message


async def chat_turn(store: ChatStore, responder: Responder, user: User,
                    conversation_id: UUID | None, content: str) -> Turn:
    user_message, history = await store.open_turn(user, conversation_id, content, HISTORY)
    conversation_id = user_message.conversation_id
    try:
        reply = await responder.reply(history[-HISTORY:])
        if not isinstance(reply, str):
            raise TypeError(f"a responder returns str, not {type(reply).__name__}")
        reply = reply.replace("\x00", "")[:MAX_CONTENT]
        reply.encode("utf-8")
    except Exception as error:
        raise ResponderFailed(conversation_id) from error
    assistant_message = await store.append_message(user, conversation_id, "assistant", reply)
    return Turn(conversation_id, user_message, assistant_message)
