"""What a client is told about an error: one sentence per kind of error, for the JSON error answers of
``app.main`` and for the ``error`` event of a streamed chat turn, so that both say the same; and, when the
database cannot serve, why, in a name that /healthz and the log use."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import errors

from app.chat import ResponderFailed, ShuttingDown, TurnInProgress, TurnInterrupted
from app.database import DatabaseUnreachable, PoolExhausted
from app.transport import NoReply

logger = logging.getLogger("app")

# The same for a conversation that is missing and one that is someone else's.
NOT_FOUND = "conversation not found"


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
