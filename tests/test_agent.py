"""The agent responder (``app.agent``): an Agents SDK agent answers the chat turn with the conversation as its
memory and the todo app's task tools, run offline with the SDK's scripted model. Its tool calls and their
outputs are stored as items of the conversation, its final message is the turn's reply (stored once), and
its tools act as the turn's user under row-level security: a task id of another user's is not found, and
nothing of theirs changes. It reads the conversation within the turn's token budget (CONTEXT_TOKENS), and stores
the output tokens the model reports on the items the model wrote. Without OPENAI_API_KEY it cannot be selected,
and says why.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from agents import set_tracing_disabled
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage
from openai.types.responses import ResponseReasoningItem
from openai.types.responses.response_reasoning_item import Summary
from openai.types.responses.response_usage import OutputTokensDetails

from app.agent import AgentResponder, AgentSettings
from app.agent_session import ITEM_KEY
from app.settings import ConfigurationError
from as_user import call, seed_messages
from conftest import ROOT
from http_api import STREAM, events_of
from ports import free_port
from serving import UNREACHABLE_DATABASE, serve, service_env, uvicorn_command
from token_counts import estimate

set_tracing_disabled(True)


def item_rows(db, conversation_id) -> list[tuple]:
    """(seq, role, content, the item's type) of every message of the conversation."""
    return [(seq, role, content, (metadata.get(ITEM_KEY) or {}).get("type"))
            for seq, role, content, metadata in db.execute(
                "select seq, role, content, metadata from chat.messages where conversation_id = %s order by seq",
                [conversation_id])]


def counted_rows(db, conversation_id) -> list[tuple]:
    """(seq, the item's type, tokens_given) of every message of the conversation; and checks that the tokens of
    each one given a count are that count."""
    rows = db.execute("select seq, metadata, tokens_given, tokens from chat.messages"
                      " where conversation_id = %s order by seq", [conversation_id]).fetchall()
    for seq, _, given, tokens in rows:
        assert given is None or tokens == given, seq
    return [(seq, (metadata.get(ITEM_KEY) or {}).get("type", "message"), given) for seq, metadata, given, _ in rows]


def tasks_of(db, user) -> list[tuple]:
    return db.execute("select title, completed from chat.tasks where user_id = %s order by created_at",
                      [user]).fetchall()


def tool_outputs(model: ScriptedModel, call_number: int) -> list[dict]:
    """The tool outputs the model was given in its ``call_number``-th call (0-based), parsed."""
    return [json.loads(item["output"]) for item in model.calls[call_number].input
            if isinstance(item, dict) and item.get("type") == "function_call_output"]


@pytest.fixture
def b_task(app_conn, user_b):
    return call(app_conn, user_b, "insert into chat.tasks (title) values ('B''s secret task') returning id")[0][0]


async def test_a_turn_that_adds_a_task_then_replies(settings, db, auth, user_a, user_b):
    model = ScriptedModel([
        [function_call("add_task", {"title": "buy milk"}, call_id="call-1")],
        [assistant_message("I added buy milk to your list.", item_id="msg-1")],
    ])
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"message": "Add buy milk to my list"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    turn = response.json()
    conversation_id = turn["conversation_id"]
    # the task, for that user only
    assert tasks_of(db, user_a) == [("buy milk", False)]
    assert tasks_of(db, user_b) == []
    # the run's items, one row each, the final message the reply, stored once
    stored = item_rows(db, conversation_id)
    assert [stored[0], stored[1], stored[3]] == [
        (1, "user", "Add buy milk to my list", None),
        (2, "assistant", 'add_task({"title":"buy milk"})', "function_call"),
        (4, "assistant", "I added buy milk to your list.", "message"),
    ]
    assert stored[2][:2] == (3, "tool") and stored[2][3] == "function_call_output"
    assert json.loads(stored[2][2])["added"]["title"] == "buy milk"
    assert tool_outputs(model, 1) == [json.loads(stored[2][2])]
    assert (turn["assistant_message"]["seq"], turn["assistant_message"]["content"]) == (
        4, "I added buy milk to your list.")
    assert db.execute("select reply_seq from chat.turns where conversation_id = %s and seq = 1",
                      [conversation_id]).fetchone() == (4,)
    # the model saw the user's message, as its session read it from the database
    assert model.calls[0].input == [{"role": "user", "content": "Add buy milk to my list"}]
    model.assert_complete()


@pytest.mark.parametrize("tool, arguments", [
    ("complete_task", {}),
    ("update_task", {"title": "pwned", "completed": True}),
    ("delete_task", {}),
])
async def test_another_users_task_id_changes_nothing_and_the_agent_is_told_not_found(settings, db, auth, user_a,
                                                                                   user_b, b_task, snapshot,
                                                                                   tool, arguments):
    model = ScriptedModel([
        [function_call(tool, {"task_id": str(b_task), **arguments}, call_id="call-1")],
        [assistant_message("There is no such task on your list.")],
    ])
    before = snapshot()
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"message": f"{tool} {b_task}"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    (output,) = tool_outputs(model, 1)
    assert output == {"error": f"not found: the user has no task {b_task}"}
    after = snapshot()
    assert after["tasks"] == before["tasks"]
    assert tasks_of(db, user_b) == [("B's secret task", False)]
    assert [row for row in after["messages"] if row not in before["messages"]] != []  # A's turn, stored
    assert all(row[2] == user_a for row in after["messages"] if row not in before["messages"])


async def test_the_tools_list_only_the_users_own_tasks_and_refuse_bad_arguments(settings, db, auth, user_a,
                                                                                b_task, app_conn):
    call(app_conn, user_a, "insert into chat.tasks (title) values ('A''s own')")
    model = ScriptedModel([
        [function_call("list_tasks", {}, call_id="call-1"),
         function_call("complete_task", {"task_id": "not-a-uuid"}, call_id="call-2"),
         function_call("add_task", {"title": ""}, call_id="call-3"),
         function_call("add_task", {"title": "x" * 201}, call_id="call-4"),
         function_call("update_task", {"task_id": str(b_task)}, call_id="call-5")],
        [assistant_message("Done.")],
    ])
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"message": "go"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    listed, bad_id, empty, long, nothing = tool_outputs(model, 1)
    assert [task["title"] for task in listed["tasks"]] == ["A's own"]
    assert "task_id" in bad_id["error"]
    assert empty["error"].startswith("title:") and long["error"].startswith("title:")
    assert nothing["error"].startswith("nothing to change")
    assert tasks_of(db, user_a) == [("A's own", False)]


async def test_the_next_turn_finds_the_items_of_the_one_before(settings, db, auth, user_a):
    model = ScriptedModel([
        [function_call("add_task", {"title": "call mum"}, call_id="call-1")],
        [assistant_message("Added.")],
        [assistant_message("You added call mum.")],
    ])
    async with serve(settings, AgentResponder(model)) as client:
        first = (await client.post("/api/chat", json={"message": "add call mum"}, headers=auth(user_a))).json()
        second = await client.post("/api/chat", json={"conversation_id": first["conversation_id"],
                                                      "message": "what did I add?"}, headers=auth(user_a))
    assert second.status_code == 200, second.text
    kinds = [item.get("type", "message") for item in model.calls[2].input]
    assert kinds == ["message", "function_call", "function_call_output", "message", "message"]
    assert model.calls[2].input[-1] == {"role": "user", "content": "what did I add?"}


async def test_edit_and_regenerate_turns_run_the_agent_on_the_active_path(settings, db, auth, user_a):
    """Another answer: the agent sees the path up to the question, and its items go beside the old answer's; an
    edit: it sees the new version, not the old one nor what followed it."""
    model = ScriptedModel([
        [function_call("add_task", {"title": "call mum"}, call_id="call-1")],
        [assistant_message("Added.")],
        [assistant_message("Done: call mum is on your list.")],
        [assistant_message("Sure, dad it is.")],
    ])
    async with serve(settings, AgentResponder(model)) as client:
        first = (await client.post("/api/chat", json={"message": "add call mum"}, headers=auth(user_a))).json()
        conversation_id = first["conversation_id"]
        again = await client.post("/api/chat", json={"conversation_id": conversation_id, "regenerate_of": 4,
                                                     "client_msg_id": "again"}, headers=auth(user_a))
        edited = await client.post("/api/chat", json={"conversation_id": conversation_id, "edit_of": 1,
                                                      "message": "add call dad"}, headers=auth(user_a))
    assert again.status_code == edited.status_code == 200, (again.text, edited.text)
    assert model.calls[2].input == [{"role": "user", "content": "add call mum"}]
    assert (again.json()["user_message"]["seq"], again.json()["assistant_message"]["seq"]) == (1, 5)
    assert model.calls[3].input == [{"role": "user", "content": "add call dad"}]
    assert db.execute("select seq, parent_seq, role from chat.messages where conversation_id = %s order by seq",
                      [conversation_id]).fetchall() == [
        (1, None, "user"), (2, 1, "assistant"), (3, 2, "tool"), (4, 3, "assistant"), (5, 1, "assistant"),
        (6, None, "user"), (7, 6, "assistant")]
    assert db.execute("select head_seq from chat.conversations where id = %s", [conversation_id]).fetchone() == (7,)
    model.assert_complete()


async def test_the_agent_sees_the_newest_messages_within_the_turns_budget(settings, db, auth, user_a, app_conn):
    """The budget of the chat turn's history, the same messages: 'message N' and 'the 71st one' count 7 tokens each
    (the database's estimate), so 20 of them and the user's fit 147 tokens, and no more."""
    conversation_id = call(app_conn, user_a, "select id from chat.create_conversation('long')")[0][0]
    seed_messages(app_conn, user_a, conversation_id, 70)
    assert {estimate("message 10"), estimate("message 1"), estimate("the 71st one")} == {7}
    model = ScriptedModel([[assistant_message("ok")], [assistant_message("ok")]])
    async with serve(settings, AgentResponder(model), context_tokens=21 * 7) as client:
        response = await client.post("/api/chat", json={"conversation_id": str(conversation_id),
                                                        "message": "the 71st one"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    seen = model.calls[0].input
    assert len(seen) == 21
    assert seen[0] == {"role": "user", "content": "message 51"}
    assert seen[-1] == {"role": "user", "content": "the 71st one"}

    # with the default budget, all of them: no count of 50
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"conversation_id": str(conversation_id),
                                                        "message": "the 73rd"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    seen = model.calls[1].input
    assert len(seen) == 73
    assert seen[0] == {"role": "user", "content": "message 1"}
    assert seen[-1] == {"role": "user", "content": "the 73rd"}


async def test_a_streamed_agent_turn(settings, db, auth, user_a):
    model = ScriptedModel([
        [function_call("add_task", {"title": "water the plants"}, call_id="call-1")],
        [assistant_message("Added water the plants.")],
    ])
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"message": "add water the plants"},
                                     headers={**auth(user_a), **STREAM})
    events = events_of(response.text)
    assert events[0][0] == "user_message" and events[-1][0] == "assistant_message"
    assert "".join(data["text"] for kind, data in events if kind == "delta") == "Added water the plants."
    assert (events[-1][1]["seq"], events[-1][1]["content"]) == (4, "Added water the plants.")
    assert tasks_of(db, user_a) == [("water the plants", False)]
    assert [row[1] for row in item_rows(db, events[0][1]["conversation_id"])] == ["user", "assistant", "tool",
                                                                                  "assistant"]


# the model's token counts

def usage(output_tokens: int, reasoning_tokens: int = 0, input_tokens: int = 400) -> Usage:
    """What a model reports of one response."""
    return Usage(requests=1, input_tokens=input_tokens, output_tokens=output_tokens,
                 total_tokens=input_tokens + output_tokens,
                 output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning_tokens))


async def agent_turn(settings, auth, user, model, message: str, streamed: bool) -> tuple[str, dict]:
    """One chat turn answered by the agent with ``model``: its conversation and its reply as the client gets it."""
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"message": message},
                                     headers={**auth(user), **(STREAM if streamed else {})})
    assert response.status_code == 200, response.text
    if streamed:
        events = events_of(response.text)
        assert events[-1][0] == "assistant_message", events
        return events[0][1]["conversation_id"], events[-1][1]
    return response.json()["conversation_id"], response.json()["assistant_message"]


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "streamed"])
async def test_the_models_output_tokens_are_stored_on_the_items_it_wrote(settings, db, auth, user_a, streamed):
    """Each response's output tokens on the item it produced; the user's message and the tool's output, which the
    model did not write, keep the database's estimate."""
    model = ScriptedModel([
        ModelStep(output=[function_call("add_task", {"title": "buy milk"}, call_id="call-1")], usage=usage(23)),
        ModelStep(output=[assistant_message("I added buy milk to your list.", item_id="msg-1")],
                  usage=usage(11, input_tokens=470)),
    ])
    conversation_id, reply = await agent_turn(settings, auth, user_a, model, "Add buy milk to my list", streamed)
    assert counted_rows(db, conversation_id) == [
        (1, "message", None), (2, "function_call", 23), (3, "function_call_output", None), (4, "message", 11)]
    assert (reply["seq"], reply["tokens"]) == (4, 11)
    model.assert_complete()


async def test_a_responses_reasoning_tokens_go_on_its_reasoning_and_the_rest_are_shared(settings, db, auth, user_a):
    """101 output tokens, 60 of them reasoning: 60 on the reasoning item, 41 shared by two tool calls of the same
    length (the odd one to the first), adding up to what the model reported. A response without usage leaves the
    estimate."""
    calls = [function_call("add_task", {"title": title}, call_id=f"call-{title}") for title in ("milk", "eggs")]
    reasoning = ResponseReasoningItem(id="rs-1", type="reasoning",
                                      summary=[Summary(text="Two tasks to add.", type="summary_text")])
    model = ScriptedModel([
        ModelStep(output=[reasoning, *calls], usage=usage(101, reasoning_tokens=60)),
        [assistant_message("Added both.")],
    ])
    conversation_id, _ = await agent_turn(settings, auth, user_a, model, "add milk and eggs", False)
    assert counted_rows(db, conversation_id) == [
        (1, "message", None), (2, "reasoning", 60), (3, "function_call", 21), (4, "function_call", 20),
        (5, "function_call_output", None), (6, "function_call_output", None), (7, "message", None)]
    assert sorted(tasks_of(db, user_a)) == [("eggs", False), ("milk", False)]  # the two calls ran side by side


async def test_a_message_and_a_call_of_one_response_share_its_tokens_by_their_length(settings, db, auth, user_a):
    model = ScriptedModel([
        ModelStep(output=[assistant_message("Let me look at your list first, then I will tell you.", item_id="m-1"),
                          function_call("list_tasks", {}, call_id="call-1")], usage=usage(30)),
        ModelStep(output=[assistant_message("Nothing on it.", item_id="m-2")], usage=usage(5)),
    ])
    conversation_id, reply = await agent_turn(settings, auth, user_a, model, "what is on my list?", False)
    rows = counted_rows(db, conversation_id)
    assert [(seq, kind) for seq, kind, _ in rows] == [(1, "message"), (2, "message"), (3, "function_call"),
                                                     (4, "function_call_output"), (5, "message")]
    (_, _, message), (_, _, call_) = rows[1], rows[2]
    assert message + call_ == 30 and message > call_ > 0
    assert (rows[4][2], reply["tokens"]) == (5, 5)


async def test_a_failing_model_is_a_502_the_message_kept_and_a_retry_runs_again(settings, db, auth, user_a):
    model = ScriptedModel([RuntimeError("the model is down"), [assistant_message("Back again.")]])
    body = {"message": "hello", "client_msg_id": "agent-1"}
    async with serve(settings, AgentResponder(model)) as client:
        failed = await client.post("/api/chat", json=body, headers=auth(user_a))
        assert failed.status_code == 502, failed.text
        conversation_id = failed.json()["conversation_id"]
        assert item_rows(db, conversation_id) == [(1, "user", "hello", None)]
        retried = await client.post("/api/chat", json=body, headers=auth(user_a))
    assert retried.status_code == 200, retried.text
    assert retried.json()["assistant_message"]["content"] == "Back again."
    assert item_rows(db, conversation_id) == [(1, "user", "hello", None), (2, "assistant", "Back again.", "message")]


# choosing it

def test_without_a_key_the_agent_cannot_be_made_and_says_why():
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        AgentResponder(settings=AgentSettings(openai_api_key=None))


def test_with_a_key_the_model_is_the_one_agent_model_names():
    responder = AgentResponder(settings=AgentSettings(openai_api_key="sk-test", agent_model="gpt-test-mini"))
    assert responder.agent.model.model == "gpt-test-mini"
    assert [tool.name for tool in responder.agent.tools] == ["list_tasks", "add_task", "complete_task",
                                                             "update_task", "delete_task"]


def test_responder_app_agent_without_a_key_stops_the_startup_naming_both():
    env = service_env(DATABASE_URL=UNREACHABLE_DATABASE.format(port=free_port()), JWT_SECRET="q" * 32,
                      RESPONDER="app.agent:AgentResponder")
    env.pop("OPENAI_API_KEY", None)
    result = subprocess.run(uvicorn_command(free_port()), cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    reason = next((line for line in output.splitlines() if line.startswith("cannot start: ")), None)
    assert reason is not None and "RESPONDER=app.agent:AgentResponder" in reason and "OPENAI_API_KEY" in reason
