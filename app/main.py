"""The HTTP service: ``uvicorn app.main:app``.

``create_app`` builds it with a given configuration and responder; the
lifespan reads the configuration (when none is given), builds the token
verifier, and opens the connection pool and closes it. Errors from the database
are answered by SQLSTATE, so that no bad input ever becomes a 500.
"""

from __future__ import annotations

import logging
import math
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from psycopg import errors
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.auth import TokenVerifier
from app.chat import (
    Responder, ResponderFailed, ShuttingDown, TurnInProgress, TurnInterrupted, Turns, load_responder,
)
from app.database import create_pool
from app.positions import PositionHeader
from app.problems import NOT_FOUND, log_unavailable, problem, unavailability
from app.routes import ConversationNotFound, router
from app.settings import ConfigurationError, Settings, get_settings
from app.store import ChatStore

logger = logging.getLogger("app")

RETRY_AFTER_SECONDS = "1"
UNPROCESSABLE = 422

# Where a database argument comes from in the HTTP API, for 422 bodies.
ARGUMENT_LOCATION = {"max_count": ("query", "limit"), "after_seq": ("query", "after"),
                     "before_activity": ("query", "cursor")}


def create_app(settings: Settings | None = None, responder: Responder | None = None) -> FastAPI:
    """The service; without ``settings``, they are read from the environment at startup (not here, so that
    importing this module needs no configuration), and a wrong configuration stops the startup."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        config = settings or startup_settings()
        app.state.responder = responder or startup_responder(config)
        app.state.tokens = TokenVerifier.from_settings(config)
        pool = create_pool(config)
        read_pool = create_pool(config, config.database_read_url, "chat-read") if config.database_read_url else None
        # not waiting: the service starts (and /healthz says 503) while the database is away
        await pool.open(wait=False)
        if read_pool is not None:
            await read_pool.open(wait=False)
        app.state.store = ChatStore(pool, statement_timeout_ms=config.statement_timeout_ms, read_pool=read_pool,
                                    read_max_lag=config.read_max_lag)
        app.state.turns = Turns(app.state.store, app.state.responder, responder_timeout=config.responder_timeout)
        try:
            yield
        finally:
            # the turns in flight store their replies (or release their claims) while the pool is still open
            await app.state.turns.close(config.shutdown_timeout)
            await pool.close()
            if read_pool is not None:
                await read_pool.close()

    # /docs (Swagger UI) and /redoc load their scripts, styles and icon from the service (fastapi-offline ships
    # them), and Swagger UI fetches no online validator badge: the pages need nothing but the service
    app = FastAPIOffline(title="chat persistence", version="0.1.0", lifespan=lifespan,
                         description="Conversations and messages of the todo app's chatbot, isolated per user by "
                                     "PostgreSQL row-level security.",
                         swagger_ui_parameters={"validatorUrl": None})
    app.include_router(router)
    app.add_middleware(PositionHeader)

    @app.get("/healthz", tags=["health"],
             responses={503: {"model": Health, "description": "The database cannot serve; status says why: "
                                                              "database unreachable, no database connection free, "
                                                              "no reply from the database in time, database "
                                                              "connection failed"}})
    async def healthz(request: Request):
        try:
            await request.app.state.store.ping()
        except psycopg.Error as error:  # PoolTimeout among them
            log_unavailable("GET /healthz", error)
            reason = unavailability(error)
            return JSONResponse({"status": reason.cause if reason else "database error"},
                                status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": RETRY_AFTER_SECONDS})
        return {"status": "ok"}

    add_error_handlers(app)
    return app


def startup_settings() -> Settings:
    """The settings from the environment; when they are wrong, what is wrong is logged in one line before the
    startup fails."""
    try:
        return get_settings()
    except ConfigurationError as error:
        logger.error("cannot start: %s", error)
        raise


def startup_responder(config: Settings) -> Responder:
    """The responder RESPONDER names; when it cannot be made, why is logged in one line before the startup
    fails."""
    try:
        return load_responder(config.responder)
    except ConfigurationError as error:
        logger.error("cannot start: %s", error)
        raise


class Health(BaseModel):
    status: str


def not_found() -> JSONResponse:
    return JSONResponse({"detail": NOT_FOUND}, status.HTTP_404_NOT_FOUND)


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": RETRY_AFTER_SECONDS})


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


# Characters of refused text that a 422 echoes back.
ECHOED_INPUT = 200


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


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(request: Request, error: RequestValidationError):
        # FastAPI's own 422 body, with the refused input echoed briefly and made printable
        details = [echoed(item) for item in error.errors()]
        return JSONResponse({"detail": printable(jsonable_encoder(details))}, UNPROCESSABLE)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException):
        # FastAPI answers 400 when reading the body fails other than by a JSON syntax error (which is a 422):
        # bytes that are not UTF-8, or nesting past Python's recursion limit. Unreadable input all the same.
        if error.status_code == status.HTTP_400_BAD_REQUEST and error.__cause__ is not None:
            message = ("JSON nested too deeply to read" if isinstance(error.__cause__, RecursionError)
                       else "not a JSON text in UTF-8")
            return JSONResponse({"detail": [{"type": "json_invalid", "loc": ["body"], "msg": message}]},
                                UNPROCESSABLE)
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
        return JSONResponse({"detail": [{"type": f"sqlstate_{error.sqlstate or 'client'}", "loc": list(location),
                                         "msg": error.diag.message_primary or str(error)}]}, UNPROCESSABLE)

    # the pool's timeouts (unreachable or exhausted), a statement timeout, no reply, a connection that broke
    @app.exception_handler(psycopg.OperationalError)
    async def on_database_unavailable(request: Request, error: psycopg.OperationalError):
        log_unavailable(f"{request.method} {request.url.path}", error)
        return unavailable(problem(error))


app = create_app()
