"""The agent responder (``app.agent``): an Agents SDK agent answers the chat turn with the conversation as its
memory and the todo app's task tools, run offline with the SDK's scripted model. Its tool calls and their
outputs are stored as items of the conversation, its final message is the turn's reply (stored once), and
its tools act as the turn's user under row-level security: a task id of another user's is not found, and
nothing of theirs changes. Without OPENAI_API_KEY it cannot be selected, and says why.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from agents import set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message, function_call

from app.agent import AgentResponder, AgentSettings
from app.agent_session import ITEM_KEY
from app.settings import ConfigurationError
from as_user import call, seed_messages
from conftest import ROOT
from http_api import STREAM, events_of
from ports import free_port
from serving import UNREACHABLE_DATABASE, serve, service_env, uvicorn_command

set_tracing_disabled(True)


def item_rows(db, conversation_id) -> list[tuple]:
    """(seq, role, content, the item's type) of every message of the conversation."""
    return [(seq, role, content, (metadata.get(ITEM_KEY) or {}).get("type"))
            for seq, role, content, metadata in db.execute(
                "select seq, role, content, metadata from chat.messages where conversation_id = %s order by seq",
                [conversation_id])]


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


async def test_the_agent_sees_at_most_the_last_50_messages(settings, db, auth, user_a, app_conn):
    conversation_id = call(app_conn, user_a, "select id from chat.create_conversation('long')")[0][0]
    seed_messages(app_conn, user_a, conversation_id, 70)
    model = ScriptedModel([[assistant_message("ok")]])
    async with serve(settings, AgentResponder(model)) as client:
        response = await client.post("/api/chat", json={"conversation_id": str(conversation_id),
                                                        "message": "the 71st"}, headers=auth(user_a))
    assert response.status_code == 200, response.text
    seen = model.calls[0].input
    assert len(seen) == 50
    assert seen[0] == {"role": "assistant", "content": "message 22"}
    assert seen[-1] == {"role": "user", "content": "the 71st"}


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
