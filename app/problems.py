"""What a client is told about an error: one sentence per kind of error, for the JSON error answers of
``app.main`` and for the ``error`` event of a streamed chat turn, so that both say the same."""

from __future__ import annotations

import psycopg
from psycopg import errors
from psycopg_pool import PoolTimeout

from app.chat import ResponderFailed, ShuttingDown, TurnInProgress, TurnInterrupted

# The same for a conversation that is missing and one that is someone else's.
NOT_FOUND = "conversation not found"


def problem(error: BaseException) -> str:
    """What an error answer (or a streamed turn's error event) tells the client about ``error``."""
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
        case PoolTimeout():
            return "no database connection free; try again"
        case errors.QueryCanceled():
            return "the database did not answer in time; try again"
        case psycopg.OperationalError():
            return "the database is unreachable; try again"
        case psycopg.Error():
            return error.diag.message_primary or "the database refused the request"
    return "the turn failed"
