"""The chat turn's responder as an OpenAI Agents SDK agent: the todo app's assistant.

``RESPONDER=app.agent:AgentResponder`` (with ``OPENAI_API_KEY``, and ``AGENT_MODEL`` to choose the model)
answers each turn by running an agent whose memory is the conversation itself (``ChatStoreSession``: the
newest items within the turn's token budget, ``CONTEXT_TOKENS``, as the chat turn reads its history), and
whose tools keep the user's task list in ``chat.tasks``. Every tool call, its output and the final message
are stored as items of the conversation as the run goes, so that the next turn, on any instance, finds them;
the final message is the turn's reply (``TurnContext.reply_message``).

Token counts: what the budget adds up is each message's ``tokens``, the writer's count where it gave one, the
database's estimate (4 characters a token) where not. The model reports what it wrote, and that is stored: the
output tokens of each response go on the items it produced (its messages, tool calls and reasoning), as a real
count (``tokens_given``). A response's reasoning tokens go on its reasoning items (when it stored none, its
reasoning is not in the model's view, nor are they); the rest of its output tokens on its other items, shared
in proportion to their text's length when there are several (a message and a tool call, two tool calls), so
that they add up to what the model reported. What the model did not write keeps the estimate: the user's
message, the tools' outputs (the model reads them, but the SDK reports only the input tokens of a whole
request), and every item of a model that reports no usage.

The tools act as the turn's user and no one else: each is one store call, one transaction that sets
``app.user_id`` to that user, under row-level security, and filtered by the user as well. A task id the
model makes up, or one of another user's tasks, is not found, and the model is told so: nothing is
changed, and whether it exists is not told.

Without ``OPENAI_API_KEY`` the responder cannot be made and the service does not start, saying why. Tests
and offline use give it a model instead (``AgentResponder(ScriptedModel([...]))``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from agents import Agent, RunContextWrapper, Runner, function_tool
from agents.items import TResponseInputItem
from agents.memory import SessionSettings
from agents.models.default_models import get_default_model
from agents.models.interface import Model
from agents.models.openai_provider import OpenAIProvider
from agents.usage import Usage
from pydantic import Field, SecretStr, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.agent_session import ITEM_KEY, ChatStoreSession
from app.chat import HISTORY, TurnContext
from app.identity import User
from app.models import AppendedMessage, Message, Task, TaskDescription, TaskTitle
from app.settings import ConfigurationError

INSTRUCTIONS = """\
You are the assistant of a todo app. You keep the user's task list with your tools: list, add, complete,
update and delete tasks. Never make up a task id: list the tasks to find one. When a tool says a task is
not found, tell the user so. Answer briefly."""


class AgentSettings(BaseSettings):
    """The agent's configuration, from the environment."""

    model_config = SettingsConfigDict(env_parse_none_str="none", extra="ignore")

    # The model's name; unset, the SDK's default (OPENAI_DEFAULT_MODEL, or its own).
    agent_model: str | None = None
    openai_api_key: SecretStr | None = None
    # The most model calls a turn may make (each tool round is one).
    agent_max_turns: int = Field(10, ge=1, le=100)


class AgentResponder:
    """Answers a chat turn by running the todo agent (see the module's docstring).

    ``model``: a model name, or a model (``agents.testing.ScriptedModel`` in tests, any ``agents`` Model);
    unset, ``AGENT_MODEL``. A name needs ``OPENAI_API_KEY``: without it, ``ConfigurationError``.
    """

    def __init__(self, model: str | Model | None = None, *, settings: AgentSettings | None = None):
        settings = settings or AgentSettings()
        if not isinstance(model, Model):
            if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
                raise ConfigurationError(
                    "OPENAI_API_KEY is not set: the agent calls OpenAI's models and needs a key (or keep the "
                    "default RESPONDER=app.chat:EchoResponder)")
            name = model or settings.agent_model or get_default_model()
            model = OpenAIProvider(api_key=settings.openai_api_key.get_secret_value()).get_model(name)
        self.max_turns = settings.agent_max_turns
        self.agent = todo_agent(model)

    async def reply(self, history: Sequence[Message], *, turn: TurnContext) -> str:
        """Runs the agent to its final output. ``history`` is not needed: the agent's session reads the same
        messages, within the same budget, as items."""
        session = TurnSession(turn)
        result = await Runner.run(self.agent, [], session=session, context=turn, max_turns=self.max_turns)
        turn.reply_message = session.final_message()
        return str(result.final_output)

    async def stream(self, history: Sequence[Message], *, turn: TurnContext) -> AsyncIterator[str]:
        """Runs the agent, giving the text of its messages as the model writes it."""
        session = TurnSession(turn)
        result = Runner.run_streamed(self.agent, [], session=session, context=turn, max_turns=self.max_turns)
        try:
            async for event in result.stream_events():
                if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
                    yield event.data.delta
        finally:
            if not result.is_complete:
                result.cancel()
        turn.reply_message = session.final_message()


class TurnSession(ChatStoreSession):
    """The agent's memory during one turn: the turn's conversation as the turn's user, read within the turn's
    token budget (at most ``HISTORY`` items, as the chat turn reads its history). It stores on the items the
    model produced the output tokens the model reported for them (see the module's docstring), and remembers the
    rows it stores, so that the run's final message is known without reading it back."""

    def __init__(self, turn: TurnContext):
        super().__init__(turn.store, turn.conversation_id, turn.user,
                         session_settings=SessionSettings(limit=HISTORY), max_tokens=turn.context_tokens)
        self.stored: list[AppendedMessage] = []
        # The run's output tokens put on stored items so far; and, while add_items stores a batch, the run's
        # usage then (cumulative: the responses that produced the batch are what it has more than ``_counted``).
        self._counted = _OutputTokens()
        self._usage: Usage | None = None

    async def add_items(self, items: list[TResponseInputItem], *,
                        wrapper: RunContextWrapper[Any] | None = None) -> None:
        self._usage = getattr(wrapper, "usage", None)
        try:
            await super().add_items(items, wrapper=wrapper)
        finally:
            self._usage = None

    async def _append(self, user: User, rows: list[dict[str, Any]]) -> list[AppendedMessage]:
        reported = _OutputTokens.of(self._usage) if isinstance(self._usage, Usage) else self._counted
        rows, counted = _with_output_tokens(rows, reported - self._counted)
        stored = await super()._append(user, rows)
        if counted:
            self._counted = reported
        self.stored.extend(stored)
        return stored

    def final_message(self) -> Message | None:
        """The last row the run stored, when it is an assistant message (the final output); None when the run
        ended otherwise (a tool's output as the final output, say), and then the reply is stored as text."""
        last = self.stored[-1] if self.stored else None
        item = last.metadata.get(ITEM_KEY) if last is not None else None
        if isinstance(item, dict) and item.get("role") == "assistant" and item.get("type", "message") == "message":
            return last
        return None


# the model's token counts on the items it produced

@dataclass(frozen=True)
class _OutputTokens:
    """Output tokens a model reported: all of them, and those of them it reasoned with."""

    output: int = 0
    reasoning: int = 0

    @classmethod
    def of(cls, usage: Usage) -> _OutputTokens:
        details = usage.output_tokens_details
        return cls(usage.output_tokens or 0, (details.reasoning_tokens if details is not None else 0) or 0)

    def __sub__(self, other: _OutputTokens) -> _OutputTokens:
        return _OutputTokens(self.output - other.output, self.reasoning - other.reasoning)


def _with_output_tokens(rows: list[dict[str, Any]], new: _OutputTokens) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a batch, those the model produced given its ``new`` output tokens as their count; and whether
    the batch held any (when not, the tokens are those of a batch still to come). The model's rows are the
    assistant's (its messages, tool calls, reasoning: ``app.agent_session``'s roles); the reasoning ones share
    the reasoning tokens, the others the rest; a row that has a count already keeps it."""
    produced = [i for i, row in enumerate(rows) if row["role"] == "assistant" and row.get("tokens") is None]
    if not produced:
        return rows, False
    if new.output <= 0:
        return rows, True
    reasoning = [i for i in produced if _item_type(rows[i]) == "reasoning"]
    others = [i for i in produced if _item_type(rows[i]) != "reasoning"]
    reasoning_tokens = min(max(new.reasoning, 0), new.output)
    counts: list[int | None] = [None] * len(rows)
    for group, total in ((reasoning, reasoning_tokens), (others, new.output - reasoning_tokens)):
        # in proportion to what the model wrote of each, its text (4 characters a token), and 4 tokens of framing
        weights = [len(rows[i]["content"]) + 16 for i in group]
        for i, share in zip(group, _shares(total, weights)):
            counts[i] = share
    return [row if count is None else {**row, "tokens": count} for row, count in zip(rows, counts)], True


def _item_type(row: dict[str, Any]) -> str | None:
    item = row["metadata"].get(ITEM_KEY)
    return item.get("type") if isinstance(item, dict) else None


def _shares(total: int, weights: list[int]) -> list[int]:
    """``total`` in whole parts in proportion to ``weights`` (each more than 0) that add up to it exactly: each
    part rounded down, and what that leaves one each to the largest remainders, the earliest first."""
    if not weights:
        return []
    whole = sum(weights)
    parts = [total * weight // whole for weight in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[:total - sum(parts)]:
        parts[i] += 1
    return parts


def todo_agent(model: Model | str) -> Agent[TurnContext]:
    return Agent[TurnContext](name="todo assistant", instructions=INSTRUCTIONS, model=model, tools=TASK_TOOLS)


# the tools: each one store call as the turn's user; what they return is JSON text for the model

def _task(task: Task) -> dict[str, Any]:
    return {"id": str(task.id), "title": task.title, "description": task.description, "completed": task.completed}


def _answer(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _not_found(task_id: str) -> str:
    return _answer({"error": f"not found: the user has no task {task_id}"})


class Refused(ValueError):
    """An argument the model gave that the task list cannot take; the model is told which and why."""


def _task_id(value: str) -> UUID:
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise Refused(f"task_id must be the id of one of the user's tasks (a uuid), not {value!r}") from None


_TITLE = TypeAdapter(TaskTitle)
_DESCRIPTION = TypeAdapter(TaskDescription)


def _checked(name: str, adapter: TypeAdapter, value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError as error:
        raise Refused(f"{name}: {error.errors(include_url=False)[0]['msg']}") from None


def answering_refusals(tool: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """The tool, answering a ``Refused`` argument with its reason (an expected answer, not a failure: the SDK's
    failure handler would log it as an error)."""

    @functools.wraps(tool)
    async def run(*args: Any, **kwargs: Any) -> str:
        try:
            return await tool(*args, **kwargs)
        except Refused as error:
            return _answer({"error": str(error)})

    return run


@function_tool
async def list_tasks(ctx: RunContextWrapper[TurnContext], include_completed: bool = True) -> str:
    """List the user's tasks, oldest first.

    Args:
        include_completed: Whether to list the completed tasks too.
    """
    tasks = await ctx.context.store.list_tasks(ctx.context.user, None if include_completed else False)
    return _answer({"tasks": [_task(task) for task in tasks]})


@function_tool
@answering_refusals
async def add_task(ctx: RunContextWrapper[TurnContext], title: str, description: str | None = None) -> str:
    """Add a task to the user's list.

    Args:
        title: What is to be done, 1 to 200 characters.
        description: Details, if any (at most 10,000 characters).
    """
    title = _checked("title", _TITLE, title)
    description = None if description is None else _checked("description", _DESCRIPTION, description)
    task = await ctx.context.store.add_task(ctx.context.user, title, description)
    return _answer({"added": _task(task)})


@function_tool
@answering_refusals
async def complete_task(ctx: RunContextWrapper[TurnContext], task_id: str) -> str:
    """Mark one of the user's tasks as completed.

    Args:
        task_id: The task's id, as list_tasks gives it.
    """
    task = await ctx.context.store.update_task(ctx.context.user, _task_id(task_id), completed=True)
    return _not_found(task_id) if task is None else _answer({"completed": _task(task)})


@function_tool
@answering_refusals
async def update_task(ctx: RunContextWrapper[TurnContext], task_id: str, title: str | None = None,
                      description: str | None = None, completed: bool | None = None) -> str:
    """Change one of the user's tasks: its title, its description, or whether it is completed.

    Args:
        task_id: The task's id, as list_tasks gives it.
        title: The new title, 1 to 200 characters; leave it out to keep the title.
        description: The new description (at most 10,000 characters); leave it out to keep it.
        completed: Whether the task is done; leave it out to keep it.
    """
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _checked("title", _TITLE, title)
    if description is not None:
        changes["description"] = _checked("description", _DESCRIPTION, description)
    if completed is not None:
        changes["completed"] = completed
    if not changes:
        raise Refused("nothing to change: give a title, a description or completed")
    task = await ctx.context.store.update_task(ctx.context.user, _task_id(task_id), **changes)
    return _not_found(task_id) if task is None else _answer({"updated": _task(task)})


@function_tool
@answering_refusals
async def delete_task(ctx: RunContextWrapper[TurnContext], task_id: str) -> str:
    """Delete one of the user's tasks.

    Args:
        task_id: The task's id, as list_tasks gives it.
    """
    if not await ctx.context.store.delete_task(ctx.context.user, _task_id(task_id)):
        return _not_found(task_id)
    return _answer({"deleted": task_id})


TASK_TOOLS = [list_tasks, add_task, complete_task, update_task, delete_task]
