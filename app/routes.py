"""The HTTP routes under /api: thin calls of the store, for the token's user."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.auth import current_user
from app.chat import TurnHandle, Turns
from app.events import EventLog, Listener, open_stream
from app.identity import User
from app.models import (
    MAX_LIMIT, MAX_QUERY, MAX_SEQ, ChatRequest, ChatTurn, Conversation, ConversationCreate, ConversationPage,
    ConversationRename, HeadSwitch, Message, MessageCreate, MessagePage, Problem, RecentMessages,
    ResponderProblem, SearchResults, SiblingMessages, TurnConflict, UserExport, storable,
)
from app.positions import ReadFrom
from app.problems import ConversationNotFound, field_error, log_unavailable, problem
from app.replica import written_position
from app.store import ChatStore

NOT_FOUND = {"model": Problem,
             "description": "No such conversation of this user (missing and someone else's look the same)"}

# What any /api route may answer besides its own success and 422.
API_RESPONSES = {
    401: {"model": Problem, "description": "Missing, malformed, expired or wrongly signed bearer token, or one issued "
                                           "before its account was deleted"},
    503: {"model": Problem, "description": "The database is unreachable, busy or slow, or the identity provider's "
                                           "signing keys cannot be fetched; retry after Retry-After"},
}


def get_store(request: Request) -> ChatStore:
    return request.app.state.store


Store = Annotated[ChatStore, Depends(get_store)]
CurrentUser = Annotated[User, Depends(current_user)]

def declared_query_parameters(dependant) -> set[str]:
    """The query parameters a route and its dependencies declare."""
    names = {parameter.alias for parameter in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= declared_query_parameters(dependency)
    return names


def no_unknown_query_parameters(request: Request) -> None:
    """Query parameters are refused when unknown, as body fields are: a misspelt ``limt`` is a 422 rather than
    silently the default."""
    known = declared_query_parameters(request.scope["route"].dependant)
    unknown = [name for name in request.query_params if name not in known]
    if unknown:
        raise RequestValidationError([field_error(("query", name), "Unknown query parameter", kind="extra_forbidden",
                                                  input=request.query_params[name]) for name in unknown])


router = APIRouter(prefix="/api", responses=API_RESPONSES, dependencies=[Depends(no_unknown_query_parameters)])


# Conversation pages: an opaque cursor over the keyset (updated_at, id).

def encode_cursor(conversation: Conversation) -> str:
    key = f"{conversation.updated_at.isoformat()}|{conversation.id}"
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        activity, conversation_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        return datetime.fromisoformat(activity), UUID(conversation_id)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise RequestValidationError([field_error(("query", "cursor"), "Value error, not a cursor of this API",
                                                  input=cursor)]) from None


# conversations

@router.post("/conversations", status_code=status.HTTP_201_CREATED, response_model=Conversation)
async def create_conversation(body: ConversationCreate, user: CurrentUser, store: Store):
    return await store.create_conversation(user, body.title, body.metadata)


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(user: CurrentUser, store: Store, replica: ReadFrom,
                             limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
                             cursor: Annotated[str | None, Query(max_length=200)] = None):
    before = decode_cursor(cursor) if cursor else None
    rows = await store.list_conversations(user, limit + 1, before, replica=replica)
    items = rows[:limit]
    return ConversationPage(items=items, next_cursor=encode_cursor(items[-1]) if len(rows) > limit else None)


@router.get("/conversations/{conversation_id}", response_model=Conversation, responses={404: NOT_FOUND})
async def get_conversation(conversation_id: UUID, user: CurrentUser, store: Store, replica: ReadFrom):
    conversation = await store.get_conversation(user, conversation_id, replica=replica)
    if conversation is None:
        raise ConversationNotFound
    return conversation


@router.patch("/conversations/{conversation_id}", response_model=Conversation, responses={404: NOT_FOUND})
async def rename_conversation(conversation_id: UUID, body: ConversationRename, user: CurrentUser, store: Store):
    return await store.rename_conversation(user, conversation_id, body.title)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: NOT_FOUND})
async def delete_conversation(conversation_id: UUID, user: CurrentUser, store: Store):
    if not await store.delete_conversation(user, conversation_id):
        raise ConversationNotFound
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# messages

@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED,
             response_model=Message,
             responses={200: {"model": Message, "description": "Idempotent replay: the message stored before"},
                        404: NOT_FOUND,
                        409: {"model": Problem, "description": "client_msg_id already used for another message"}})
async def append_message(conversation_id: UUID, body: MessageCreate, response: Response,
                         user: CurrentUser, store: Store):
    message = await store.append_message(user, conversation_id, body.role, body.content,
                                         body.metadata, body.client_msg_id, body.tokens, positions=True)
    if message.replayed:
        response.status_code = status.HTTP_200_OK
    return message


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage, responses={404: NOT_FOUND})
async def fetch_messages(conversation_id: UUID, user: CurrentUser, store: Store, replica: ReadFrom,
                         after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
                         limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100):
    rows = await store.fetch_messages(user, conversation_id, after, limit + 1, positions=True, replica=replica)
    items = rows[:limit]
    return MessagePage(items=items, next_after=items[-1].seq if len(rows) > limit else None)


@router.get("/conversations/{conversation_id}/messages/recent", response_model=RecentMessages,
            responses={404: NOT_FOUND})
async def fetch_recent(conversation_id: UUID, user: CurrentUser, store: Store, replica: ReadFrom,
                       limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50):
    return RecentMessages(items=await store.fetch_recent(user, conversation_id, limit, positions=True,
                                                         replica=replica))


# branches: a conversation is a tree of messages, and the routes above read its active path

MESSAGE_NOT_FOUND = {"model": Problem, "description": "No such conversation of this user, or no such message in it"}


@router.post("/conversations/{conversation_id}/head", response_model=Conversation,
             responses={404: NOT_FOUND})
async def switch_branch(conversation_id: UUID, body: HeadSwitch, user: CurrentUser, store: Store):
    """The active path goes through message ``seq`` to the newest leaf under it (the "< 2/3 >" switcher)."""
    return await store.switch_branch(user, conversation_id, body.seq)


@router.get("/conversations/{conversation_id}/messages/{seq}/siblings", response_model=SiblingMessages,
            responses={404: MESSAGE_NOT_FOUND})
async def fetch_siblings(conversation_id: UUID, seq: Annotated[int, Path(ge=1, le=MAX_SEQ)],
                         user: CurrentUser, store: Store, replica: ReadFrom):
    """The versions of message ``seq``'s position (the messages that follow the same one), oldest first."""
    try:
        return SiblingMessages(items=await store.fetch_siblings(user, conversation_id, seq, replica=replica))
    except psycopg.errors.InvalidParameterValue as error:
        if error.diag.column_name != "seq":
            raise
        raise HTTPException(status.HTTP_404_NOT_FOUND, "message not found") from None


# the chat turn

def get_turns(request: Request) -> Turns:
    return request.app.state.turns


def wants_event_stream(request: Request) -> bool:
    """Whether the client asks for Server-Sent Events (``Accept: text/event-stream``)."""
    return any(media.split(";", 1)[0].strip().lower() == "text/event-stream"
               for media in request.headers.get("accept", "").split(","))


STREAMED_TURN = {
    "text/event-stream": {
        "schema": {"type": "string"},
        "example": 'event: user_message\ndata: {"id": "…", "seq": 1, "role": "user", …}\n\n'
                   'event: delta\ndata: {"text": "You "}\n\n'
                   'event: delta\ndata: {"text": "said: hi"}\n\n'
                   'event: assistant_message\ndata: {"id": "…", "seq": 2, "role": "assistant", …}\n\n',
    },
}


@router.post("/chat", response_model=ChatTurn,
             responses={200: {"content": STREAMED_TURN,
                              "description": "The turn; with Accept: text/event-stream, its events as they come: "
                                             "user_message, delta (one per piece of the reply), then "
                                             "assistant_message or error"},
                        404: NOT_FOUND,
                        409: {"model": TurnConflict,
                              "description": "client_msg_id already used for another message, or this message is "
                                             "still being answered (retry after Retry-After)"},
                        502: {"model": ResponderProblem,
                              "description": "The responder failed; the user's message is stored"}})
async def chat(body: ChatRequest, request: Request, user: CurrentUser,
               turns: Annotated[Turns, Depends(get_turns)]):
    """One chat turn: ``message`` stored and answered; with ``edit_of``, stored as a new version of that user
    message and answered; with ``regenerate_of`` and no ``message``, the user message that assistant message
    answered is answered again, the new reply a version beside it. The reply becomes the head."""
    if problems := body.problems():
        raise RequestValidationError([field_error(("body", name), f"Value error, {message}",
                                                  input=getattr(body, name))
                                      for name, message in problems])
    streamed = wants_event_stream(request)
    handle = await turns.start(user, body.conversation_id, body.message, body.client_msg_id, streamed=streamed,
                               edit_of=body.edit_of, regenerate_of=body.regenerate_of)
    if streamed:
        return EventSourceResponse(turn_events(handle))
    turn = await handle.result()
    if handle.position is not None:  # the reply's write, later than the user message's
        written_position.set(handle.position)
    return ChatTurn(conversation_id=turn.conversation_id, user_message=turn.user_message,
                    assistant_message=turn.assistant_message)


async def turn_events(handle: TurnHandle) -> AsyncIterator[ServerSentEvent]:
    """A turn as Server-Sent Events. The stream may end early (the client went away): the turn does not."""
    async for kind, value in handle.events():
        if kind == "delta":
            data = json.dumps({"text": value}, ensure_ascii=False)
        elif kind == "error":
            log_unavailable("POST /api/chat, streamed", value)  # no error handler sees it: the stream is answered
            data = json.dumps({"detail": problem(value), "conversation_id": str(handle.conversation_id)})
        else:
            data = Message.model_validate(value, from_attributes=True).model_dump_json()
        yield ServerSentEvent(data=data, event=kind)


# live updates

def get_listener(request: Request) -> Listener:
    return request.app.state.listener


def get_event_log(request: Request) -> EventLog:
    return request.app.state.event_log


LIVE_UPDATES = {"text/event-stream": {"example": "id: 41\nevent: message\n"
                                                 "data: {\"conversation_id\": \"…\", \"seq\": 7}\n\n"}}


@router.get("/events", response_class=EventSourceResponse,
            responses={200: {"content": LIVE_UPDATES,
                             "description": "Every change to the user's own conversations, from any instance, ids "
                                            "only: message {conversation_id, seq}, conversation_created, "
                                            "conversation_renamed, conversation_deleted {conversation_id}, "
                                            "head_switched {conversation_id, seq}. It starts with ready (a new "
                                            "stream: load what you show now), with the events after "
                                            "Last-Event-ID, or with resync (that event is too old: load "
                                            "everything again). Each event's id is what Last-Event-ID resumes "
                                            "from."},
                       503: {"model": Problem,
                             "description": "The database is unreachable, or live updates are off (DATABASE_LISTEN_URL "
                                            "is a transaction pooler): detail says which"}})
async def events(user: CurrentUser, listener: Annotated[Listener, Depends(get_listener)],
                 log: Annotated[EventLog, Depends(get_event_log)],
                 last_event_id: Annotated[int | None, Header(ge=0, le=MAX_SEQ)] = None):
    """Live updates of the user's conversations, as Server-Sent Events (``app.events``)."""
    return EventSourceResponse(await open_stream(listener, log, user, last_event_id))


# search

@router.get("/search", response_model=SearchResults)
async def search_messages(user: CurrentUser, store: Store, replica: ReadFrom,
                          q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, pattern=r"\S")],
                          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20):
    return SearchResults(items=await store.search_messages(user, storable_query(q), limit, positions=True,
                                                           replica=replica))


def storable_query(q: str) -> str:
    try:
        return storable(q)
    except ValueError as error:
        raise RequestValidationError([field_error(("query", "q"), f"Value error, {error}", input=q)]) from None


# the user

@router.get("/me/export", response_model=UserExport)
async def export_me(user: CurrentUser, store: Store, replica: ReadFrom):
    return await store.export_user_data(user, replica=replica)


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT)
async def delete_me(user: CurrentUser, store: Store):
    await store.delete_user(user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
