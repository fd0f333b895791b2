"""The workloads, each timed the same way for every subject.

A latency workload calls one operation sequentially (after a short warm-up)
and keeps every latency; the append workload runs 8 concurrent clients for a
fixed time on random conversations and keeps every latency too. A server-time
workload lets the server time one statement of many calls, without the round
trip, several such measures in turn. Results are medians and percentiles,
never a lone mean.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from uuid import UUID

from bench.dataset import CONVERSATIONS_PER_USER, conversation_uuid, user_uuid

CLIENTS = 8
# the model's context the benchmark reads, in tokens: chat.fetch_context's budget, and ChatStoreSession's max_tokens
CONTEXT_TOKENS = 8000
BUDGETED_SERVER = f"context{CONTEXT_TOKENS}_server"  # chat.fetch_context(…, CONTEXT_TOKENS): the server's own time
# fetch_recent of as many messages as the budget holds: the server's own time of a count read of the same rows
RECENT_AS_BUDGETED_SERVER = "recent_as_budgeted_server"
BUDGETED_ITEMS = f"agent_context{CONTEXT_TOKENS}"  # ChatStoreSession(…, max_tokens=CONTEXT_TOKENS).get_items()
CONTENT = ("Remind me to renew the car insurance before the end of the month, and move the dentist "
           "appointment to a morning next week if one is free; also add milk, eggs and coffee to the list.")


def median_and_spread(values: list[float], digits: int = 2) -> str:
    """The median of a measure's rounds with their spread: ``12.34 [10.01–15.67]``."""
    return f"{statistics.median(values):,.{digits}f} [{min(values):,.{digits}f}–{max(values):,.{digits}f}]"


def server_timed(call: str) -> str:
    """One statement making ``%(calls)s`` calls of ``call``, for the server to time (EXPLAIN ANALYZE without
    per-node timing). ``call`` must depend on the row ``g`` (``50 + 0 * g``), so that PostgreSQL runs it once per
    row instead of once for the statement."""
    return ("explain (analyze, timing off, summary on) select count(*) from generate_series(1, %(calls)s) g,"
            f" lateral {call}")


def execution_ms(plan: list[str]) -> float:
    """The execution time the server reports at the end of an EXPLAIN ANALYZE, in milliseconds."""
    return float(re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan)).group(1))


@dataclass
class Result:
    subject: str
    workload: str
    size: int                       # messages in the data set when measured
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    rows: int = 0                   # rows the last call returned (a check that it did the work)
    per_op: int = 1                 # what each call counts for in the throughput (the items of a turn)
    round: int = 0                  # the interleaved round it was measured in

    @property
    def ops(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.ops * self.per_op / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    def summary(self) -> dict:
        data = asdict(self)
        del data["latencies_ms"]
        return {**data, "ops": self.ops, "throughput": round(self.throughput, 1),
                "p50_ms": round(self.median_ms, 3), "p99_ms": round(self.percentile(99), 3)}


async def latency(subject, workload: str, size: int, call: Callable[[], Awaitable[int]],
                  repeats: int, warmup: int = 5) -> Result:
    for _ in range(warmup):
        await call()
    latencies, rows = [], 0
    started = time.perf_counter()
    for _ in range(repeats):
        t0 = time.perf_counter()
        rows = await call()
        latencies.append((time.perf_counter() - t0) * 1000)
    return Result(subject.name, workload, size, time.perf_counter() - started, latencies, rows or 0)


@dataclass(frozen=True)
class ServerTimed:
    """One measure of the server's own time: whose and which workload, ``timed()`` returning the server's time of one
    call in ms (from one statement of many calls), and the rows one call returns (counted once, apart)."""
    subject: str
    workload: str
    timed: Callable[[], Awaitable[float]]
    rows: int = 0


async def server_times(measures: Sequence[ServerTimed], size: int, repeats: int = 7) -> list[Result]:
    """The measures in turn, statement by statement, the order rotated from one statement to the next (with two,
    which goes first alternates), so that the machine's drift falls on all alike and the ratio of any two is of
    neighbouring statements; one Result each, of ``repeats`` statements, after one each to warm up."""
    for measure in measures:
        await measure.timed()
    values: dict[int, list[float]] = {n: [] for n in range(len(measures))}
    started = time.perf_counter()
    for n in range(repeats):
        shift = n % len(measures)
        for i in [*range(shift, len(measures)), *range(shift)]:
            values[i].append(await measures[i].timed())
    seconds = (time.perf_counter() - started) / len(measures)
    return [Result(measure.subject, measure.workload, size, seconds, values[i], measure.rows)
            for i, measure in enumerate(measures)]


async def write_load(subject, workload: str, write: Callable[[UUID, UUID], Awaitable[None]], size: int, users: int,
                     seconds: float, *, seed: int, per_op: int = 1) -> Result:
    """CLIENTS concurrent clients calling ``write(user, conversation)`` on random conversations of random users
    for ``seconds``."""
    latencies: list[float] = []

    async def client(n: int) -> None:
        pick = random.Random(seed * 100 + n)
        while time.perf_counter() < deadline:
            u = pick.randint(3, max(3, users))
            c = pick.randint(1, CONVERSATIONS_PER_USER)
            t0 = time.perf_counter()
            await write(user_uuid(u), conversation_uuid(u, c))
            latencies.append((time.perf_counter() - t0) * 1000)

    for n in range(CLIENTS):  # warm every connection up
        await write(user_uuid(3), conversation_uuid(3, 1 + n))
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return Result(subject.name, workload, size, time.perf_counter() - started, latencies, per_op=per_op)


async def append_load(subject, size: int, users: int, seconds: float, seed: int = 7) -> Result:
    """One message appended per call."""
    return await write_load(subject, "append", lambda u, c: subject.append(u, c, "user", CONTENT), size, users,
                            seconds, seed=seed)


# The items of an agent's turn as messages: the user's words, a tool call, its output, the reply.
AGENT_TURN = [
    {"role": "user", "content": CONTENT},
    {"role": "assistant", "content": 'add_task({"title": "renew the car insurance"})',
     "metadata": {"type": "function_call", "call_id": "call_1", "name": "add_task",
                  "arguments": '{"title": "renew the car insurance"}'}},
    {"role": "tool", "content": '{"id": 42, "completed": false}',
     "metadata": {"type": "function_call_output", "call_id": "call_1", "output": '{"id": 42, "completed": false}'}},
    {"role": "assistant", "content": "Added: renew the car insurance."},
]


# The same turn as the Agents SDK's items, as an agent's session stores them.
AGENT_TURN_ITEMS = [
    {"role": "user", "content": CONTENT},
    {"type": "function_call", "call_id": "call_1", "name": "add_task",
     "arguments": '{"title": "renew the car insurance"}'},
    {"type": "function_call_output", "call_id": "call_1", "output": '{"id": 42, "completed": false}'},
    {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
     "content": [{"type": "output_text", "text": "Added: renew the car insurance.", "annotations": []}]},
]


async def agent_turn_load(subject, size: int, users: int, seconds: float, seed: int = 13) -> Result:
    """An agent's 4-item turn stored by its session's add_items per call. Throughput is in items per second."""
    return await write_load(subject, "agent_turn4", lambda u, c: subject.agent_add(u, c, AGENT_TURN_ITEMS), size,
                            users, seconds, seed=seed, per_op=len(AGENT_TURN_ITEMS))


async def turn_items_load(subject, size: int, users: int, seconds: float, *, batch: bool, seed: int = 11) -> Result:
    """A 4-item turn written per call: in one append_messages call (``batch``), or one append_message per item.
    Throughput is in items per second."""
    write = subject.append_turn if batch else subject.append_turn_singly
    return await write_load(subject, "turn4_batch" if batch else "turn4_single",
                            lambda u, c: write(u, c, AGENT_TURN), size, users, seconds, seed=seed,
                            per_op=len(AGENT_TURN))
