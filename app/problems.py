"""Error answers: what a client is told about an error, and how.

The service's exception handlers (``add_error_handlers``) answer every error in one place, the database's by
SQLSTATE, so that no bad input ever becomes a 500. What they tell is one sentence per kind of error
(``problem``), which the ``error`` event of a streamed chat turn says as well; when the database cannot
serve, why, in a name that /healthz and the log use (``unavailability``). Every 422 names the field it
refuses alike (``field_error``): FastAPI's own validation, the routes' own checks and the database's
refusals.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.chat import ResponderFailed, ShuttingDown, TurnInProgress, TurnInterrupted
from app.database import DatabaseUnreachable, PoolExhausted
from app.events import LiveUpdatesUnavailable
from app.transport import NoReply

logger = logging.getLogger("app")

RETRY_AFTER_SECONDS = "1"
UNPROCESSABLE = 422

# The same for a conversation that is missing and one that is someone else's.
NOT_FOUND = "conversation not found"


class ConversationNotFound(Exception):
    """Answered 404, with the same body whether it is missing or someone else's."""


@dataclass(frozen=True)
class Unavailable:
    """Why the database cannot serve a request now (a 503 with Retry-After): ``cause`` names it for /healthz and
    the log, ``detail`` tells the client."""

    cause: str
    detail: str


UNREACHABLE = Unavailable("database unreachable", "the database is unreachable; try again")
EXHAUSTED = Unavailable("no database connection free", "every database connection is in use; try again")
NO_REPLY = Unavailable("no reply from the database in time", "the database did not answer in time; try again")
CONNECTION_FAILED = Unavailable("database connection failed", "the connection to the database failed; try again")


def unavailability(error: BaseException) -> Unavailable | None:
    """Why ``error`` means that the database cannot serve now; None when it means something else."""
    match error:
        case DatabaseUnreachable():
            return UNREACHABLE
        case PoolExhausted():
            return EXHAUSTED
        case NoReply() | errors.QueryCanceled():
            return NO_REPLY
        case psycopg.OperationalError() if error.sqlstate is None or error.sqlstate.startswith(("08", "57P")):
            # the connection broke on the way: a server restarted or stopped, its process terminated, the network
            return CONNECTION_FAILED
        case psycopg.OperationalError():
            # the server cannot do it now (out of disk or memory, a lock not available, …) and says why
            return Unavailable(f"database error {error.sqlstate}", error.diag.message_primary or str(error))
    return None


def log_unavailable(where: str, error: BaseException) -> None:
    """One warning line when ``error`` means that the database cannot serve: where, why, and the error."""
    if (reason := unavailability(error)) is not None:
        logger.warning("%s: %s (%s)", where, reason.cause, underlying(error))


def underlying(error: BaseException) -> str:
    """The error in one line: the server's message when it sent one, otherwise the client's."""
    diag = getattr(error, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(error)
    return f"{error.__class__.__name__}: {' '.join(text.split())}"


def problem(error: BaseException) -> str:
    """What an error answer (or a streamed turn's error event) tells the client about ``error``."""
    if (reason := unavailability(error)) is not None:
        return reason.detail
    match error:
        case ResponderFailed():
            return "the assistant could not answer; your message is stored, and a retry with its client_msg_id " \
                   "answers it again"
        case TurnInProgress():
            return "this message is still being answered; retry with the same client_msg_id to get the answer"
        case TurnInterrupted():
            return "the service stopped before answering; your message is stored, and a retry with its " \
                   "client_msg_id answers it"
        case ShuttingDown():
            return "the service is shutting down; try again"
        case errors.NoDataFound():
            return NOT_FOUND
        case psycopg.Error():
            return error.diag.message_primary or "the database refused the request"
    return "the turn failed"


# 422: the field refused, named as FastAPI's validation names it

# Characters of refused text that a 422 echoes back.
ECHOED_INPUT = 200

# Where a database argument comes from in the HTTP API, for 422 bodies.
ARGUMENT_LOCATION = {"max_count": ("query", "limit"), "after_seq": ("query", "after"),
                     "before_activity": ("query", "cursor")}


def field_error(location: Sequence[str], message: str, *, kind: str = "value_error", **refused: Any) -> dict:
    """One error of a 422, as FastAPI's validation writes it: its kind, where the field is (``("query", "q")``),
    the message, and the refused ``input`` when there is one. A route raises them in a
    ``RequestValidationError``; a handler answers them with ``unprocessable``."""
    return {"type": kind, "loc": list(location), "msg": message, **refused}


def unprocessable(details: Sequence[dict]) -> JSONResponse:
    """The 422 answer: FastAPI's own body, with the refused input echoed briefly and made printable."""
    return JSONResponse({"detail": printable(jsonable_encoder([echoed(item) for item in details]))}, UNPROCESSABLE)


def echoed(error: dict) -> dict:
    """A validation error as a 422 tells it: the refused input echoed when it is text (cut short) or a
    number, not when it is an object or array, which may be large or nested thousands deep; the names in
    its location cut short too (an unknown field or query parameter is named by the client)."""
    error = dict(error)
    match error.get("input"):
        case dict() | list():
            del error["input"]
        case str() as text:
            error["input"] = text[:ECHOED_INPUT]
        case bytes() as body:
            # a body sent without a JSON content type is not parsed: the whole body is the input, in any encoding
            error["input"] = body[:4 * ECHOED_INPUT].decode("utf-8", "replace")[:ECHOED_INPUT]
    if "loc" in error:
        error["loc"] = [part[:ECHOED_INPUT] if isinstance(part, str) else part for part in error["loc"]]
    return error


def printable(value):
    """The value made fit for a JSON answer: text that is not valid Unicode (a lone surrogate) escaped,
    numbers JSON cannot carry (NaN, Infinity) as text."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value


# the other answers

def not_found() -> JSONResponse:
    return JSONResponse({"detail": NOT_FOUND}, status.HTTP_404_NOT_FOUND)


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": RETRY_AFTER_SECONDS})


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError):
        return unprocessable(error.errors())

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException):
        # FastAPI answers 400 when reading the body fails other than by a JSON syntax error (which is a 422):
        # bytes that are not UTF-8, or nesting past Python's recursion limit. Unreadable input all the same.
        if error.status_code == status.HTTP_400_BAD_REQUEST and error.__cause__ is not None:
            message = ("JSON nested too deeply to read" if isinstance(error.__cause__, RecursionError)
                       else "not a JSON text in UTF-8")
            return unprocessable([field_error(["body"], message, kind="json_invalid")])
        return await http_exception_handler(request, error)

    @app.exception_handler(errors.InvalidAuthorizationSpecification)
    async def on_token_refused(request: Request, error: errors.InvalidAuthorizationSpecification):
        # 28000 from chat.check_token: the token predates a deletion of its account
        return JSONResponse({"detail": error.diag.message_primary}, status.HTTP_401_UNAUTHORIZED,
                            headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ConversationNotFound)
    @app.exception_handler(errors.NoDataFound)
    async def on_not_found(request: Request, error: Exception):
        return not_found()

    @app.exception_handler(ResponderFailed)
    async def on_responder_failed(request: Request, error: ResponderFailed):
        # logged where it failed (app.chat), with the responder's error
        return JSONResponse({"detail": problem(error), "conversation_id": str(error.conversation_id)},
                            status.HTTP_502_BAD_GATEWAY)

    @app.exception_handler(TurnInProgress)
    async def on_turn_in_progress(request: Request, error: TurnInProgress):
        return JSONResponse({"detail": problem(error), "conversation_id": str(error.conversation_id)},
                            status.HTTP_409_CONFLICT, headers={"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(TurnInterrupted)
    async def on_turn_interrupted(request: Request, error: TurnInterrupted):
        return JSONResponse({"detail": problem(error), "conversation_id": str(error.conversation_id)},
                            status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(LiveUpdatesUnavailable)
    async def on_live_updates_unavailable(request: Request, error: LiveUpdatesUnavailable):
        return JSONResponse({"detail": str(error)}, status.HTTP_503_SERVICE_UNAVAILABLE)

    @app.exception_handler(ShuttingDown)
    async def on_shutting_down(request: Request, error: ShuttingDown):
        return unavailable(problem(error))

    @app.exception_handler(errors.UniqueViolation)
    async def on_conflict(request: Request, error: errors.UniqueViolation):
        return JSONResponse({"detail": error.diag.message_primary}, status.HTTP_409_CONFLICT)

    @app.exception_handler(psycopg.DataError)
    @app.exception_handler(psycopg.IntegrityError)
    @app.exception_handler(errors.StatementTooComplex)
    async def on_bad_input(request: Request, error: psycopg.Error):
        column = error.diag.column_name
        location = ARGUMENT_LOCATION.get(column, ("body", column)) if column else ("body",)
        return unprocessable([field_error(location, error.diag.message_primary or str(error),
                                          kind=f"sqlstate_{error.sqlstate or 'client'}")])

    # the pool's timeouts (unreachable or exhausted), a statement timeout, no reply, a connection that broke
    @app.exception_handler(psycopg.OperationalError)
    async def on_database_unavailable(request: Request, error: psycopg.OperationalError):
        log_unavailable(f"{request.method} {request.url.path}", error)
        return unavailable(problem(error))
