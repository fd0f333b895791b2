"""The stateless chat turn, and the responder that writes the assistant's reply.

A turn stores the user's message and claims the turn in the database
(``chat.begin_turn``, one round trip that also loads the history), asks the
responder with no connection held, and stores the reply
(``chat.finish_turn``). What decides whether the responder runs is in the
database, not in this process: a retry of the same message (its
``client_msg_id``) gets the stored turn once the reply is stored, gets
``TurnInProgress`` (a 409) while another attempt answers, and runs the turn
again after an attempt failed; racing duplicates, on any instance, run the
responder once.

Every turn that runs is a task of ``Turns``, not of the request: a client
that goes away (a closed stream, a cancelled request) does not stop it, and
the reply is stored all the same. ``Turns.close`` (the service's shutdown)
waits for the turns in flight, then cancels what is left; a cancelled turn
keeps its user message and releases its claim, so that a retry runs it again.

A responder has ``async def reply(history) -> str`` and may have
``stream(history)``, an async iterator of text pieces, used when the client
asks for a stream. ``history`` is what the model is to see of the
conversation, oldest first, the user's new message last, within a budget of
tokens (``CONTEXT_TOKENS``) rather than of messages: the newest messages of
the model's view (a compaction summary stands in for the messages it covers)
whose token counts add up to at most the budget, read by ``chat.begin_turn``
with ``chat.fetch_context``; never starting with a tool's output whose call is
left out, the user's message always there even alone over the budget, and at
most ``HISTORY`` messages. A responder that acts for the user (the
agent of ``app.agent``) takes the keyword ``turn`` as well: a ``TurnContext``
with the store, the user, the conversation and the budget; one that stores
its reply itself (an agent's session stores every item of its run) says so
in ``turn.reply_message``, and that message is the turn's reply; one that
knows its reply's token count (the model's output tokens) says so in
``turn.reply_tokens``, and the reply is stored with it rather than with the
database's estimate.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

import psycopg

from app.identity import User
from app.models import MAX_CONTENT, MAX_TOKENS, Message
from app.settings import CONTEXT_TOKENS, TURN_LEASE_GRACE, ConfigurationError
from app.replica import written_position
from app.store import ChatStore, TurnStart
from app.transport import to_the_end

logger = logging.getLogger("app.chat")

# The most messages of history a turn reads, whatever their tokens: as many as one chat.fetch_context returns.
HISTORY = 1000


class Responder(Protocol):
    """Writes the assistant's reply to a conversation: history in (oldest first, within the turn's token budget),
    reply out.

    Optional: ``stream(history)``, an async iterator of the reply's pieces, for streamed turns; and the
    keyword ``turn`` (a ``TurnContext``) on either, for a responder that acts for the user."""

    async def reply(self, history: Sequence[Message]) -> str: ...


@dataclass
class TurnContext:
    """What a responder that takes the keyword ``turn`` is given: whom it acts for, where, for which message, and
    the history's budget (``context_tokens``, what ``history`` was read within: a responder that reads the
    conversation itself reads it within the same). It may set ``reply_message`` to a message it stored itself,
    after the user's, as the reply; or, replying with text, ``reply_tokens`` to the reply's token count (0 to
    MAX_TOKENS; anything else is left out, and logged), which the reply is stored with."""

    store: ChatStore
    user: User
    conversation_id: UUID
    user_message: Message
    context_tokens: int = CONTEXT_TOKENS
    reply_message: Message | None = None
    reply_tokens: int | None = None


class EchoResponder:
    """The built-in responder: deterministic and offline, for development and tests."""

    async def reply(self, history: Sequence[Message]) -> str:
        last = next((m.content for m in reversed(history) if m.role == "user"), "")
        return f"You said: {last}"[:MAX_CONTENT]

    async def stream(self, history: Sequence[Message]) -> AsyncIterator[str]:
        """The same reply, a word (and the space after it) at a time."""
        for piece in re.findall(r"\S+\s*|\s+", await self.reply(history)):
            yield piece


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


# what a turn can end with, besides its reply

class ResponderFailed(Exception):
    """The responder raised, answered nonsense or took too long; the user's message is stored in
    ``conversation_id``, and a retry with the same client_msg_id runs the turn again."""

    def __init__(self, conversation_id: UUID):
        super().__init__(f"the responder failed for conversation {conversation_id}")
        self.conversation_id = conversation_id


class TurnInProgress(Exception):
    """A retry of a turn that another attempt is still answering (on this instance or another)."""

    def __init__(self, conversation_id: UUID, retry_after: timedelta | None):
        super().__init__(f"a turn of conversation {conversation_id} is still being answered")
        self.conversation_id = conversation_id
        self.retry_after = retry_after


class TurnInterrupted(Exception):
    """The service shut down before the turn was answered; its user message is stored and its claim released,
    so that a retry runs it again."""

    def __init__(self, conversation_id: UUID):
        super().__init__(f"the service stopped before answering in conversation {conversation_id}")
        self.conversation_id = conversation_id


class ShuttingDown(Exception):
    """The service is shutting down and starts no turn."""


@dataclass
class Turn:
    conversation_id: UUID
    user_message: Message
    assistant_message: Message


# the reply, piece by piece

@dataclass
class _Reply:
    """The reply as it is stored: NUL characters dropped (PostgreSQL text cannot hold them), at most
    MAX_CONTENT characters; what ``add`` returns of each piece is what the reply keeps of it."""

    pieces: list[str] = field(default_factory=list)
    length: int = 0

    def add(self, piece: Any) -> str:
        if not isinstance(piece, str):
            raise TypeError(f"a responder's reply is text, not {type(piece).__name__}")
        piece = piece.replace("\x00", "")[:MAX_CONTENT - self.length]
        piece.encode("utf-8")  # a lone surrogate cannot be stored: UnicodeEncodeError
        self.pieces.append(piece)
        self.length += len(piece)
        return piece

    @property
    def full(self) -> bool:
        return self.length >= MAX_CONTENT

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _takes_turn(method: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "turn" or p.kind is p.VAR_KEYWORD for p in parameters)


async def _pieces(responder: Responder, history: Sequence[Message], context: TurnContext,
                  streamed: bool) -> AsyncIterator[str]:
    """The reply as the responder gives it: its stream's pieces when streamed and it has one, else its
    reply as one piece."""
    stream = getattr(responder, "stream", None) if streamed else None
    method = stream or responder.reply
    arguments = {"turn": context} if _takes_turn(method) else {}
    if stream is None:
        yield await responder.reply(history, **arguments)
        return
    async with aclosing(stream(history, **arguments)) as pieces:
        async for piece in pieces:
            yield piece


def _reply_tokens(context: TurnContext, reply: _Reply) -> int | None:
    """The reply's token count as its responder gave it; None (the database estimates it) when it gave none, or
    one that is no count (logged: a responder's bug, which is no reason to lose its reply), or when the reply
    reached MAX_CONTENT characters: it may have been cut there, and the count is of the whole."""
    tokens = context.reply_tokens
    if tokens is None or reply.full:
        return None
    if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= MAX_TOKENS:
        logger.warning("responder gave the reply in conversation %s a token count of %r, not a whole number from 0 "
                       "to %d: the reply is stored with the database's estimate", context.conversation_id, tokens,
                       MAX_TOKENS)
        return None
    return tokens


# a turn in flight, as its request sees it

class TurnHandle:
    """A started turn: its stored user message, its outcome (``result()``), and, for a streamed turn, its
    events as they come (``events()``)."""

    def __init__(self, start: TurnStart, streamed: bool):
        self.start = start
        self.streamed = streamed
        self._outcome: asyncio.Future[Turn] = asyncio.get_running_loop().create_future()
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        # Where the turn's last write is, for a read replica (app.positions): the turn runs in a task of its own,
        # whose writes its request does not see otherwise.
        self.position: int | None = None

    @property
    def conversation_id(self) -> UUID:
        return self.start.conversation_id

    @property
    def user_message(self) -> Message:
        return self.start.user_message

    async def result(self) -> Turn:
        """The stored turn; waiting for it does not tie the turn to the waiter: cancelling it leaves the turn
        running."""
        return await asyncio.shield(self._outcome)

    async def events(self) -> AsyncIterator[tuple[str, Any]]:
        """``user_message``, then ``delta`` (a piece of text) per piece, then ``assistant_message`` (the stored
        reply) or ``error`` (the exception)."""
        yield "user_message", self.user_message
        while True:
            kind, value = await self._events.get()
            yield kind, value
            if kind != "delta":
                return

    def delta(self, text: str) -> None:
        if self.streamed and text:
            self._events.put_nowait(("delta", text))

    def finish(self, turn: Turn) -> None:
        self._outcome.set_result(turn)
        self._events.put_nowait(("assistant_message", turn.assistant_message))

    def fail(self, error: BaseException) -> None:
        self._outcome.set_exception(error)
        self._outcome.exception()  # retrieved: a streamed turn's error goes out as an event, not through here
        self._events.put_nowait(("error", error))


class Turns:
    """The chat turns this process answers, each a task of its own.

    ``responder_timeout``: the most a responder may take (then the turn fails, 502); a turn's claim in the
    database lasts that and ``lease_grace`` more, after which a retry may run it again (its process is taken
    for dead). ``context_tokens``: the history's token budget (``CONTEXT_TOKENS``).
    """

    def __init__(self, store: ChatStore, responder: Responder, *, responder_timeout: float = 120.0,
                 lease_grace: float = TURN_LEASE_GRACE, context_tokens: int = CONTEXT_TOKENS):
        self.store = store
        self.responder = responder
        self.responder_timeout = responder_timeout
        self.context_tokens = context_tokens
        self.lease = timedelta(seconds=responder_timeout + lease_grace)
        self._tasks: set[asyncio.Task[Turn]] = set()
        self._closing = False

    def __len__(self) -> int:
        """How many turns are in flight."""
        return len(self._tasks)

    async def start(self, user: User, conversation_id: UUID | None, content: str | None,
                    client_msg_id: str | None = None, *, streamed: bool = False, edit_of: int | None = None,
                    regenerate_of: int | None = None) -> TurnHandle:
        """Stores the user's message and starts answering it, or finds the stored turn a retry repeats. With
        ``edit_of`` (a user message's seq), the message is that one's new version, stored beside it; with
        ``regenerate_of`` (an assistant message's seq; ``content`` None), the user message it answered is
        answered again, the new reply beside it. Either way the responder sees the active path, which ends at
        the message answered. Raises before anything is answered: the store's errors (P0002, 23505, bad input),
        ``TurnInProgress`` for a retry while another attempt answers, ``ShuttingDown``."""
        if self._closing:
            raise ShuttingDown
        start = await self.store.begin_turn(user, conversation_id, content, client_msg_id, HISTORY, self.lease,
                                            history_tokens=self.context_tokens, edit_of=edit_of,
                                            regenerate_of=regenerate_of)
        if start.state == "running":
            raise TurnInProgress(start.conversation_id, start.retry_after)
        handle = TurnHandle(start, streamed)
        if start.state == "done":
            assert start.reply is not None
            handle.delta(start.reply.content)
            handle.finish(Turn(start.conversation_id, start.user_message, start.reply))
            return handle
        task = asyncio.create_task(self._answer(user, handle),
                                   name=f"chat turn {start.conversation_id}/{start.user_message.seq}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return handle

    async def close(self, timeout: float) -> None:
        """Starts no more turns, waits up to ``timeout`` seconds for those in flight, then cancels the rest
        and waits for them to release their claims."""
        self._closing = True
        if not self._tasks:
            return
        logger.info("waiting up to %g s for %d chat turn(s) in flight", timeout, len(self._tasks))
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        if pending:
            logger.warning("cancelling %d chat turn(s) still in flight: their messages stay stored, and a retry "
                           "runs them again", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)

    async def _answer(self, user: User, handle: TurnHandle) -> Turn:
        start = handle.start
        try:
            turn = await self._run(user, handle)
        except asyncio.CancelledError:
            handle.fail(TurnInterrupted(start.conversation_id))
            raise
        except BaseException as error:
            handle.fail(error)
            raise
        handle.position = written_position.get()
        handle.finish(turn)
        return turn

    async def _run(self, user: User, handle: TurnHandle) -> Turn:
        start = handle.start
        context = TurnContext(self.store, user, start.conversation_id, start.user_message, self.context_tokens)
        reply = _Reply()
        try:
            try:
                async with asyncio.timeout(self.responder_timeout):
                    async with aclosing(_pieces(self.responder, start.history, context,
                                                handle.streamed)) as pieces:
                        async for piece in pieces:
                            handle.delta(reply.add(piece))
                            if reply.full:
                                break
            except Exception as error:
                logger.error("responder failed in conversation %s", start.conversation_id, exc_info=error)
                raise ResponderFailed(start.conversation_id) from error
            seq = start.user_message.seq
            if context.reply_message is not None:
                try:
                    message = await to_the_end(self.store.settle_turn(user, start.conversation_id, seq,
                                                                      context.reply_message.seq))
                except psycopg.errors.InvalidParameterValue as error:  # no assistant message after the turn's
                    logger.error("responder named no reply of conversation %s", start.conversation_id,
                                 exc_info=error)
                    raise ResponderFailed(start.conversation_id) from error
            else:
                message = await to_the_end(self.store.finish_turn(user, start.conversation_id, seq, reply.text,
                                                                  tokens=_reply_tokens(context, reply)))
        except BaseException:
            await self._release(user, start)
            raise
        return Turn(start.conversation_id, start.user_message, message)

    async def _release(self, user: User, start: TurnStart) -> None:
        """Releases the claim of an attempt that did not store its reply, so that a retry runs the turn again
        at once rather than after the lease."""
        assert start.attempt is not None
        try:
            await to_the_end(self.store.fail_turn(user, start.conversation_id, start.user_message.seq,
                                                  start.attempt))
        except Exception:
            logger.warning("could not release the turn %s/%s: a retry runs it once its lease has run out",
                           start.conversation_id, start.user_message.seq, exc_info=True)
