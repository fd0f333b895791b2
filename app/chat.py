"""The stateless chat turn, and the responder that writes the assistant's reply.

A turn stores the user's message first, loads the recent history from the
database, asks the responder, and stores the reply. The responder is called
with no connection held: a slow model never keeps a pooled connection busy.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from app.models import MAX_CONTENT, Message
from app.settings import ConfigurationError
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


def load_responder(spec: str) -> Responder:
    """The responder that ``spec`` (``module:attribute``, ``RESPONDER``) names: the class or factory it names,
    called with no argument. A ConfigurationError that names RESPONDER when it cannot be made or is no
    responder."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = importlib.import_module(module_name)
        for name in attribute.split("."):
            found = getattr(found, name)
    except (ImportError, AttributeError) as error:
        raise ConfigurationError(f"RESPONDER={spec}: cannot find it: {error}") from error
    if not callable(found):
        raise ConfigurationError(f"RESPONDER={spec} names a {type(found).__name__}, not a class or a factory")
    try:
        responder = found()
    except Exception as error:
        raise ConfigurationError(f"RESPONDER={spec} failed to make a responder: {error}") from error
    if not inspect.iscoroutinefunction(getattr(responder, "reply", None)):
        raise ConfigurationError(f"RESPONDER={spec} made a {type(responder).__name__}, which has no "
                                 "async def reply(history)")
    return responder


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
