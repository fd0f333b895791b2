"""The HTTP service: ``uvicorn app.main:app``.

``create_app`` builds it with a given configuration and responder; the
lifespan reads the configuration (when none is given), builds the token
verifier, and opens the connection pool and closes it. Every error is
answered by the handlers of ``app.problems``. ``GET /`` is the chat page
(``app.page``).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from app.auth import TokenVerifier
from app.chat import Responder, Turns, load_responder
from app.database import create_pool
from app.events import EventLog, Listener
from app.page import add_chat_page
from app.positions import PositionHeader
from app.problems import RETRY_AFTER_SECONDS, add_error_handlers, log_unavailable, unavailability
from app.routes import router
from app.settings import ConfigurationError, Settings, get_settings
from app.store import ChatStore

logger = logging.getLogger("app")


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
        app.state.listener = Listener(config.database_listen_url or config.database_url)
        app.state.listener.start()
        app.state.event_log = EventLog(app.state.store)
        app.state.turns = Turns(app.state.store, app.state.responder, responder_timeout=config.responder_timeout,
                                context_tokens=config.context_tokens)
        try:
            yield
        finally:
            # the turns in flight store their replies (or release their claims) while the pool is still open
            await app.state.turns.close(config.shutdown_timeout)
            await app.state.listener.close()
            await app.state.event_log.close()
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
    add_chat_page(app)
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


app = create_app()
