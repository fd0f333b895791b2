"""The chat turn's history as a token budget (CONTEXT_TOKENS), over HTTP against a real database: the responder
sees the newest messages of the model's view whose counts fit the budget, oldest first, the user's message last;
every message when they all fit (no count of 50 any more), at most 1000 (HISTORY); the user's message alone
when it is over the budget; never a tool's output first whose call is cut off; a compaction summary in place of
what it covers. A responder that knows its reply's token count stores the reply with it. CONTEXT_TOKENS is read
from the environment, checked, and reaches the service's turns.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.chat import HISTORY
from app.identity import User
from app.main import create_app
from app.settings import CONTEXT_TOKENS, Settings
from as_user import append_message, call, seed_messages
from conftest import ROOT
from ports import free_port
from serving import UNREACHABLE_DATABASE, serve, service_env
from token_counts import estimate

pytestmark = pytest.mark.errors_as_500


# seed_messages' 'message N' (N < 100) and the turn's message, as the database counts them
SEEDED = estimate("message 10")
TURN = "the next one"
assert SEEDED == estimate("message 1") == 7 and estimate(TURN) == 7


class Recorder:
    """Replies with how many messages it saw, keeping each history it is given."""

    def __init__(self):
        self.histories: list[list] = []

    async def reply(self, history):
        self.histories.append(list(history))
        return f"heard {len(history)}"


@pytest.fixture
def conversation(app_conn, user_a):
    return call(app_conn, user_a, "select id from chat.create_conversation('long')")[0][0]


async def history_of_a_turn(settings, auth, user, conversation, **changes) -> list:
    """The history a responder is given for one more turn (``TURN``) in ``conversation``, by a service started with
    ``changes`` to the settings: as (seq, role, content)."""
    recorder = Recorder()
    async with serve(settings, recorder, **changes) as client:
        response = await client.post("/api/chat", json={"conversation_id": str(conversation), "message": TURN},
                                     headers=auth(user))
    assert response.status_code == 200, response.text
    (history,) = recorder.histories
    assert all(m.conversation_id == conversation for m in history)
    assert response.json()["assistant_message"]["content"] == f"heard {len(history)}"
    return [(m.seq, m.role, m.content) for m in history]


async def test_with_the_default_budget_the_responder_sees_every_message_not_the_last_50(settings, auth, user_a,
                                                                                        conversation, app_conn):
    seed_messages(app_conn, user_a, conversation, 60)
    history = await history_of_a_turn(settings, auth, user_a, conversation)
    assert [seq for seq, _, _ in history] == list(range(1, 62))
    assert history[0] == (1, "user", "message 1") and history[-1] == (61, "user", TURN)


@pytest.mark.parametrize(("budget", "first"), [
    (20 * SEEDED + estimate(TURN), 41),
    (20 * SEEDED + estimate(TURN) - 1, 42),
    (20 * SEEDED + estimate(TURN) + SEEDED - 1, 41),
], ids=["20 messages exactly", "a token short of them", "a token short of 21"])
async def test_the_responder_sees_the_newest_messages_that_fit_the_budget(settings, auth, user_a, conversation,
                                                                         app_conn, budget, first):
    seed_messages(app_conn, user_a, conversation, 60)
    history = await history_of_a_turn(settings, auth, user_a, conversation, context_tokens=budget)
    assert [seq for seq, _, _ in history] == list(range(first, 62))
    assert history[-1] == (61, "user", TURN)


async def test_the_history_is_at_most_1000_messages_whatever_the_budget(settings, auth, user_a, conversation,
                                                                        app_conn):
    assert HISTORY == 1000
    seed_messages(app_conn, user_a, conversation, HISTORY + 5)
    history = await history_of_a_turn(settings, auth, user_a, conversation)
    assert [seq for seq, _, _ in history] == list(range(7, HISTORY + 7))


async def test_a_users_message_over_the_budget_is_the_whole_history(settings, db, auth, user_a, conversation,
                                                                    app_conn):
    seed_messages(app_conn, user_a, conversation, 3)
    recorder = Recorder()
    message = "😀" * 10_000
    async with serve(settings, recorder, context_tokens=100) as client:
        response = await client.post("/api/chat", json={"conversation_id": str(conversation), "message": message},
                                     headers=auth(user_a))
    assert response.status_code == 200, response.text
    (history,) = recorder.histories
    assert [(m.seq, m.content, m.tokens) for m in history] == [(4, message, estimate(message))]
    assert estimate(message) > 100


async def test_a_cut_never_leaves_a_tools_output_first(settings, auth, user_a, conversation, app_conn):
    """A budget that holds a tool's output but not its call leaves the output out too."""
    output = "x" * 400
    for role, content in [("user", "what is on my list?"), ("assistant", "list_tasks({})"), ("tool", output),
                          ("assistant", "Two tasks.")]:
        append_message(app_conn, user_a, conversation, role, content)
    budget = sum(map(estimate, [output, "Two tasks.", TURN]))
    history = await history_of_a_turn(settings, auth, user_a, conversation, context_tokens=budget)
    assert history == [(4, "assistant", "Two tasks."), (5, "user", TURN)]
    # the next turn (after the reply "heard 2"), with a budget that holds the call too: the output comes with it
    budget = sum(map(estimate, ["list_tasks({})", output, "Two tasks.", TURN, "heard 2", TURN]))
    history = await history_of_a_turn(settings, auth, user_a, conversation, context_tokens=budget)
    assert [(seq, role) for seq, role, _ in history] == [(2, "assistant"), (3, "tool"), (4, "assistant"),
                                                         (5, "user"), (6, "assistant"), (7, "user")]


async def test_a_summary_stands_in_for_what_it_covers(settings, api, auth, user_a, conversation, app_conn):
    seed_messages(app_conn, user_a, conversation, 6)
    await api.app.state.store.compact_messages(User(user_a), conversation, 2,
                                               [{"role": "assistant", "content": "they counted to six"}])
    history = await history_of_a_turn(settings, auth, user_a, conversation)
    assert history == [(1, "user", "message 1"), (7, "assistant", "they counted to six"), (8, "user", TURN)]


# the reply's count

class Counting:
    """Replies with a count of its reply's tokens, as a responder that calls a model knows it."""

    def __init__(self, tokens):
        self.tokens = tokens

    async def reply(self, history, *, turn):
        turn.reply_tokens = self.tokens
        return "counted"


@pytest.mark.parametrize(("tokens", "stored"), [
    (3, (3, 3)),
    (0, (0, 0)),
    (None, (None, estimate("counted"))),
    (-1, (None, estimate("counted"))),
    ("3", (None, estimate("counted"))),
    (True, (None, estimate("counted"))),
    (2**31, (None, estimate("counted"))),
], ids=["3", "0", "none", "negative", "text", "a boolean", "too big"])
async def test_a_responder_gives_its_replys_count_and_a_bad_one_is_left_out(settings, db, auth, user_a, tokens,
                                                                           stored):
    async with serve(settings, Counting(tokens)) as client:
        response = await client.post("/api/chat", json={"message": "count this"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    reply = response.json()["assistant_message"]
    assert (reply["content"], reply["tokens"]) == ("counted", stored[1])
    assert db.execute("select tokens_given, tokens from chat.messages where id = %s",
                      [reply["id"]]).fetchone() == stored


# CONTEXT_TOKENS

def test_context_tokens_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("CONTEXT_TOKENS", raising=False)
    assert Settings(jwt_secret="q" * 32).context_tokens == CONTEXT_TOKENS == 50_000
    monkeypatch.setenv("CONTEXT_TOKENS", "8000")
    assert Settings(jwt_secret="q" * 32).context_tokens == 8000


async def test_the_services_turns_take_the_configured_budget(settings):
    service = create_app(settings.model_copy(update={"context_tokens": 1234}))
    async with service.router.lifespan_context(service):
        assert service.state.turns.context_tokens == 1234


@pytest.mark.parametrize("value", ["0", "-5", "2147483648", "lots"])
def test_a_bad_context_tokens_stops_the_startup_naming_it(value):
    """What make run checks before it starts anything (app.config_check), and the service at its startup."""
    env = service_env(DATABASE_URL=UNREACHABLE_DATABASE.format(port=free_port()), JWT_SECRET="q" * 32,
                      CONTEXT_TOKENS=value)
    result = subprocess.run([sys.executable, "-m", "app.config_check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("cannot start: CONTEXT_TOKENS: "), line
