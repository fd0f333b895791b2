"""pydantic models of the HTTP API and the Python layer.

Input models mirror the database's limits, so that bad input is refused with
a 422 naming the field before it reaches PostgreSQL; the database refuses it
again (SQLSTATE class 22/23) if it ever does.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# The database's limits, each defined once by a function of db/deploy/limits.sql
# (and db/deploy/message_metadata_limit.sql); tests/test_limits.py holds these to them.
MAX_CONTENT = 10_000
MAX_TITLE = 200
MAX_CLIENT_MSG_ID = 200
MAX_CONVERSATION_METADATA = 16 * 1024
MAX_MESSAGE_METADATA = 1024 * 1024
MAX_TASK_TITLE = 200
MAX_TASK_DESCRIPTION = 10_000
MAX_LIMIT = 500
# seq is a bigint
MAX_SEQ = 2**63 - 1
# A token count (db/deploy/message_tokens.sql: chat_private.tokens_problem).
MAX_TOKENS = 2_147_483_647
MAX_QUERY = 1000
# Nesting of metadata: PostgreSQL's JSON parser runs out of stack (SQLSTATE
# 54001) some ten thousand levels down, Python's well before that; tool calls
# need a handful. Deeper is refused here, with the field named.
MAX_METADATA_DEPTH = 100

Role = Literal["system", "user", "assistant", "tool"]


def storable(text: str) -> str:
    """PostgreSQL text holds any Unicode but NUL, and only what encodes as UTF-8."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return text


def storable_json(value: Any, depth: int = 1) -> Any:
    """Every key and string of a JSON value must be storable text, every number finite (JSON has no NaN),
    and containers nested at most MAX_METADATA_DEPTH deep."""
    if isinstance(value, str):
        storable(value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must hold finite numbers only (no NaN or Infinity)")
    elif isinstance(value, dict | list) and depth > MAX_METADATA_DEPTH:
        raise ValueError(f"must be nested at most {MAX_METADATA_DEPTH} levels deep")
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            storable_json(item, depth + 1)
    return value


def bounded_metadata(max_bytes: int):
    def check(metadata: dict[str, Any]) -> dict[str, Any]:
        storable_json(metadata)
        # jsonb prints with the same separators; the database checks its own size again
        if len(json.dumps(metadata, ensure_ascii=False).encode("utf-8")) > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes as JSON text")
        return metadata

    return AfterValidator(check)


Title = Annotated[str, Field(max_length=MAX_TITLE), AfterValidator(storable)]
Content = Annotated[str, Field(max_length=MAX_CONTENT), AfterValidator(storable)]
ClientMsgId = Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_MSG_ID), AfterValidator(storable)]
ConversationMetadata = Annotated[dict[str, Any], bounded_metadata(MAX_CONVERSATION_METADATA)]
MessageMetadata = Annotated[dict[str, Any], bounded_metadata(MAX_MESSAGE_METADATA)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=True)]
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ, strict=True)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConversationCreate(Request):
    title: Title | None = None
    metadata: ConversationMetadata = Field(default_factory=dict)


class ConversationRename(Request):
    title: Title | None  # required; null clears the title


class MessageCreate(Request):
    role: Role
    content: Content
    metadata: MessageMetadata = Field(default_factory=dict)
    client_msg_id: ClientMsgId | None = None
    # the writer's count of the message's tokens; without it the database estimates it
    tokens: Tokens | None = None


class ChatRequest(Request):
    """A chat turn: ``message`` answered, in ``conversation_id`` (a new one when absent). With ``edit_of`` (a user
    message's seq), ``message`` is that message's new version, stored beside it; with ``regenerate_of`` (an
    assistant message's seq), there is no ``message``: the user message it answered is answered again. Either
    needs ``conversation_id``; the rules across fields are the route's (``problems``)."""

    conversation_id: UUID | None = None
    message: Annotated[str, Field(min_length=1, max_length=MAX_CONTENT), AfterValidator(storable)] | None = None
    # the user message's (a regenerated answer's, with regenerate_of): a retried turn returns the stored turn,
    # and the responder answers it once
    client_msg_id: ClientMsgId | None = None
    edit_of: Seq | None = None
    regenerate_of: Seq | None = None

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (field, message): the database refuses the same (22023)."""
        if self.edit_of is not None and self.regenerate_of is not None:
            return [("regenerate_of", "cannot be given with edit_of: a turn answers one message")]
        found = []
        if self.regenerate_of is None and self.message is None:
            found.append(("message", "Field required"))
        if self.regenerate_of is not None and self.message is not None:
            found.append(("message", "must be absent with regenerate_of: the message answered again is stored"))
        for name in ("edit_of", "regenerate_of"):
            if getattr(self, name) is not None and self.conversation_id is None:
                found.append(("conversation_id", f"is required with {name}"))
        return found


class HeadSwitch(Request):
    # a message of the conversation: the head becomes the newest leaf under it
    seq: Seq


class Conversation(BaseModel):
    id: UUID
    title: str | None
    metadata: dict[str, Any]
    message_count: int
    created_at: datetime
    updated_at: datetime


class Message(BaseModel):
    id: UUID
    conversation_id: UUID
    seq: int
    role: Role
    content: str
    metadata: dict[str, Any]
    client_msg_id: str | None
    created_at: datetime
    # the writer's count, or the database's estimate
    tokens: int
    # on a summary's rows: the messages it stands in for in the model's view (fetch_context); else None
    summary_from: int | None = None
    summary_through: int | None = None
    # the message it follows (None for a first message): a conversation is a tree with one active path
    parent_seq: int | None = None
    # its place among its versions (the messages that follow the same one), 1-based, oldest first: what a client
    # needs to draw "2 of 3"; given by the reads that ask for it (the HTTP routes), None otherwise
    sibling_index: int | None = None
    sibling_count: int | None = None


class ContextMessage(Message):
    """A message as fetch_context returns it: over_budget when the budget does not hold it (the newest message, or
    the call of a newest tool output, come back whatever their size)."""

    over_budget: bool = False


class AppendedMessage(Message):
    """A message as append_message returns it: replayed when an earlier identical append was returned."""

    replayed: bool = Field(exclude=True)


class ConversationPage(BaseModel):
    items: list[Conversation]
    next_cursor: str | None


class MessagePage(BaseModel):
    items: list[Message]
    next_after: int | None


class RecentMessages(BaseModel):
    items: list[Message]


class SiblingMessages(BaseModel):
    """The versions of a message's position, oldest first."""

    items: list[Message]


class SearchResults(BaseModel):
    items: list[Message]


class ExportedConversation(Conversation):
    messages: list[Message]


class ExportedUser(BaseModel):
    id: UUID
    email: str | None
    display_name: str | None
    created_at: datetime


class UserExport(BaseModel):
    """Everything stored for a user (GET /api/me/export)."""

    exported_at: datetime
    user: ExportedUser | None
    tasks: list[dict[str, Any]]
    conversations: list[ExportedConversation]


class Problem(BaseModel):
    """What an error answer other than a 422 carries."""

    detail: str


class ResponderProblem(Problem):
    """A 502 of the chat turn: the user's message is stored in this conversation."""

    conversation_id: UUID


class TurnConflict(Problem):
    """A 409 of the chat turn: the client_msg_id was used for another message, or the turn is still being
    answered (with its conversation; retry after Retry-After)."""

    conversation_id: UUID | None = None


class ChatTurn(BaseModel):
    conversation_id: UUID
    user_message: Message
    assistant_message: Message


# the todo app's tasks

TaskTitle = Annotated[str, Field(min_length=1, max_length=MAX_TASK_TITLE), AfterValidator(storable)]
TaskDescription = Annotated[str, Field(max_length=MAX_TASK_DESCRIPTION), AfterValidator(storable)]


class Task(BaseModel):
    id: UUID
    user_id: UUID
    title: str
    description: str | None
    completed: bool
    created_at: datetime
    updated_at: datetime
