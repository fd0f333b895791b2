"""Branches over HTTP: a chat turn that edits a user message (``edit_of``) or asks for another answer
(``regenerate_of``), streamed or not, retried, raced on two instances; messages that carry ``parent_seq`` and
their place among their versions (``sibling_index`` of ``sibling_count``); ``POST …/head`` to switch and ``GET
…/messages/{seq}/siblings``; and another user's conversation refused exactly as a missing one.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from http_api import MESSAGE_KEYS, STREAM, assert_refused, events_of
from serving import duplicates_on_two, serve
from stored_data import broken_conversations, conversations_of, head_of

pytestmark = pytest.mark.errors_as_500


class Recording:
    """Answers "answer N to <the last message>", N counting its calls; keeps the seqs of each history it saw."""

    def __init__(self):
        self.histories: list[list[int]] = []
        self.gate: asyncio.Event | None = None
        self.called = asyncio.Event()

    async def reply(self, history):
        self.histories.append([m.seq for m in history])
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        return f"answer {len(self.histories)} to {history[-1].content}"

    async def stream(self, history):
        reply = await self.reply(history)
        for word in reply.split(" "):
            yield word + " "


@pytest.fixture
def responder():
    return Recording()


def tree(db, conversation_id) -> list[tuple]:
    """(seq, parent_seq, role, content) of every message, by seq."""
    return db.execute("select seq, parent_seq, role, content from chat.messages where conversation_id = %s"
                      " order by seq", [conversation_id]).fetchall()



def placed(message: dict) -> tuple:
    """(seq, parent_seq, sibling_index, sibling_count) of a message as the API answers it."""
    return message["seq"], message["parent_seq"], message["sibling_index"], message["sibling_count"]


async def chat(api, headers, **body):
    response = await api.post("/api/chat", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def three_turns(api, headers) -> str:
    """A conversation of three turns: user 1, 3, 5; assistant 2, 4, 6."""
    first = await chat(api, headers, message="one")
    for message in ("two", "three"):
        await chat(api, headers, conversation_id=first["conversation_id"], message=message)
    return first["conversation_id"]


async def active_path(api, headers, conversation_id) -> list[tuple]:
    response = await api.get(f"/api/conversations/{conversation_id}/messages", headers=headers)
    assert response.status_code == 200, response.text
    return [placed(m) for m in response.json()["items"]]


# edit and regenerate, at the first, a middle and the last position

@pytest.mark.parametrize("position", [1, 3, 5], ids=["first", "middle", "last"])
async def test_an_edited_message_is_stored_beside_it_and_answered_from_the_active_path(api, db, auth, user_a,
                                                                                     responder, position):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    parent = position - 1 or None

    turn = await chat(api, headers, conversation_id=conversation_id, edit_of=position, message="edited",
                      client_msg_id="edit-1")
    assert set(turn["user_message"]) == set(turn["assistant_message"]) == MESSAGE_KEYS
    assert placed(turn["user_message"]) == (7, parent, 2, 2)
    assert placed(turn["assistant_message"]) == (8, 7, 1, 1)
    assert turn["assistant_message"]["content"] == "answer 4 to edited"
    # the responder saw the path up to the edited message's parent, then the new version
    assert responder.histories[-1] == [*range(1, position), 7]
    assert tree(db, conversation_id)[6:] == [(7, parent, "user", "edited"), (8, 7, "assistant", "answer 4 to edited")]
    assert head_of(db, conversation_id) == 8
    assert await active_path(api, headers, conversation_id) == [
        *[(seq, seq - 1 or None, 1, 1) for seq in range(1, position)], (7, parent, 2, 2), (8, 7, 1, 1)]
    assert broken_conversations(db) == []


@pytest.mark.parametrize("position", [2, 4, 6], ids=["first", "middle", "last"])
async def test_a_regenerated_answer_is_a_new_reply_beside_the_old(api, db, auth, user_a, responder, position):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)

    turn = await chat(api, headers, conversation_id=conversation_id, regenerate_of=position, client_msg_id="again-1")
    assert placed(turn["user_message"]) == (position - 1, position - 2 or None, 1, 1)
    assert placed(turn["assistant_message"]) == (7, position - 1, 2, 2)
    assert turn["assistant_message"]["client_msg_id"] == "again-1"
    assert responder.histories[-1] == list(range(1, position))
    assert head_of(db, conversation_id) == 7
    assert await active_path(api, headers, conversation_id) == [
        *[(seq, seq - 1 or None, 1, 1) for seq in range(1, position - 1)], (position - 1, position - 2 or None, 1, 1),
        (7, position - 1, 2, 2)]
    # the old answer is still there, the first of two versions
    siblings = await api.get(f"/api/conversations/{conversation_id}/messages/{position}/siblings", headers=headers)
    assert siblings.status_code == 200, siblings.text
    assert [placed(m) for m in siblings.json()["items"]] == [(position, position - 1, 1, 2), (7, position - 1, 2, 2)]
    assert broken_conversations(db) == []


async def test_a_turn_continues_the_branch_it_answered(api, db, auth, user_a, responder):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    await chat(api, headers, conversation_id=conversation_id, regenerate_of=4)           # 7 beside 4
    turn = await chat(api, headers, conversation_id=conversation_id, message="go on")   # 8, 9 after 7
    assert placed(turn["user_message"]) == (8, 7, 1, 1)
    assert responder.histories[-1] == [1, 2, 3, 7, 8]


# switching, and the versions of a position

async def test_switching_to_each_version_and_back(api, db, auth, user_a):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    await chat(api, headers, conversation_id=conversation_id, edit_of=3, message="two, again")   # 7, 8

    switched = await api.post(f"/api/conversations/{conversation_id}/head", json={"seq": 3}, headers=headers)
    assert switched.status_code == 200, switched.text
    assert switched.json()["id"] == conversation_id and switched.json()["message_count"] == 8
    assert head_of(db, conversation_id) == 6
    assert [seq for seq, *_ in await active_path(api, headers, conversation_id)] == [1, 2, 3, 4, 5, 6]
    recent = await api.get(f"/api/conversations/{conversation_id}/messages/recent?limit=2", headers=headers)
    assert [placed(m) for m in recent.json()["items"]] == [(5, 4, 1, 1), (6, 5, 1, 1)]

    back = await api.post(f"/api/conversations/{conversation_id}/head", json={"seq": 7}, headers=headers)
    assert back.status_code == 200
    assert [placed(m) for m in (await api.get(f"/api/conversations/{conversation_id}/messages?limit=2",
                                              headers=headers)).json()["items"]] == [(1, None, 1, 1), (2, 1, 1, 1)]
    assert [seq for seq, *_ in await active_path(api, headers, conversation_id)] == [1, 2, 7, 8]


async def test_a_plain_append_after_a_switch_continues_the_chosen_branch(api, db, auth, user_a):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    await chat(api, headers, conversation_id=conversation_id, regenerate_of=6)   # 7 beside 6
    await api.post(f"/api/conversations/{conversation_id}/head", json={"seq": 6}, headers=headers)
    appended = await api.post(f"/api/conversations/{conversation_id}/messages",
                              json={"role": "user", "content": "thanks"}, headers=headers)
    assert appended.status_code == 201, appended.text
    assert placed(appended.json()) == (8, 6, 1, 1)
    assert [seq for seq, *_ in await active_path(api, headers, conversation_id)] == [1, 2, 3, 4, 5, 6, 8]


# retries, streams and two instances

async def test_retried_edit_and_regenerate_turns_return_the_stored_turn(api, db, auth, user_a, responder):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    edit = {"conversation_id": conversation_id, "edit_of": 3, "message": "two!", "client_msg_id": "e-1"}
    again = {"conversation_id": conversation_id, "regenerate_of": 8, "client_msg_id": "r-1"}
    first_edit = await chat(api, headers, **edit)
    assert await chat(api, headers, **edit) == first_edit
    first_again = await chat(api, headers, **again)
    assert await chat(api, headers, **again) == first_again
    assert len(responder.histories) == 5
    assert [seq for seq, *_ in tree(db, conversation_id)] == list(range(1, 10))
    # a turn answered again answers its retries with its latest answer, the one on the active path
    retried_edit = await chat(api, headers, **edit)
    assert (retried_edit["user_message"], retried_edit["assistant_message"]) == (
        first_edit["user_message"], first_again["assistant_message"])
    assert len(responder.histories) == 5
    # the key of a regenerated answer names that answer: used for another message, it is a 409
    reused = await api.post("/api/chat", json={**again, "regenerate_of": 2}, headers=headers)
    assert reused.status_code == 409, reused.text
    edited_again = await api.post("/api/chat", json={**edit, "message": "two?"}, headers=headers)
    assert edited_again.status_code == 409, edited_again.text
    assert len(tree(db, conversation_id)) == 9


@pytest.mark.parametrize("kind", ["edit", "regenerate"])
async def test_streamed_edit_and_regenerate_turns(api, db, auth, user_a, responder, kind):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    body = ({"edit_of": 5, "message": "three?"} if kind == "edit" else {"regenerate_of": 6})
    response = await api.post("/api/chat", json={"conversation_id": conversation_id, "client_msg_id": "s-1", **body},
                              headers={**headers, **STREAM})
    assert response.status_code == 200, response.text
    events = events_of(response.text)
    assert [name for name, _ in events][0] == "user_message" and events[-1][0] == "assistant_message"
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    user_message, reply = events[0][1], events[-1][1]
    assert deltas == reply["content"]
    if kind == "edit":
        assert (placed(user_message), placed(reply)) == ((7, 4, 2, 2), (8, 7, 1, 1))
    else:
        assert (placed(user_message), placed(reply)) == ((5, 4, 1, 1), (7, 5, 2, 2))
    retried = await api.post("/api/chat", json={"conversation_id": conversation_id, "client_msg_id": "s-1", **body},
                             headers={**headers, **STREAM})
    assert events_of(retried.text)[-1] == ("assistant_message", reply)
    assert len(responder.histories) == 4


async def test_racing_regenerate_retries_on_two_instances_answer_once(settings, api, db, auth, user_a):
    headers = auth(user_a)
    conversation_id = await three_turns(api, headers)
    first, second = Recording(), Recording()
    first.gate, second.gate = asyncio.Event(), asyncio.Event()
    body = {"conversation_id": conversation_id, "regenerate_of": 6, "client_msg_id": "race-again"}
    async with serve(settings, first) as one, serve(settings, second) as other:
        responses = await duplicates_on_two(one, other, (first, second), body, headers)
        retried = await one.post("/api/chat", json=body, headers=headers)
    assert len(first.histories) + len(second.histories) == 1
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}, statuses
    (answer,) = {response.json()["assistant_message"]["id"] for response in responses if response.status_code == 200}
    assert retried.json()["assistant_message"]["id"] == answer
    assert [row for row in tree(db, conversation_id) if row[1] == 5] == [(6, 5, "assistant", "answer 3 to three"),
                                                                        (7, 5, "assistant", "answer 1 to three")]


# refusals: bad input names its field; another user's conversation is a missing one

@pytest.mark.parametrize(("body", "field"), [
    ({"edit_of": 2, "message": "x"}, "edit_of"),                 # an assistant message
    ({"regenerate_of": 1}, "regenerate_of"),                     # a user message
    ({"regenerate_of": 99}, "regenerate_of"),
    ({"edit_of": 99, "message": "x"}, "edit_of"),
    ({"regenerate_of": 2, "message": "x"}, "message"),
    ({"edit_of": 1}, "message"),
    ({"edit_of": 1, "regenerate_of": 2, "message": "x"}, "regenerate_of"),
    ({"edit_of": 0, "message": "x"}, "edit_of"),
    ({"regenerate_of": "2"}, "regenerate_of"),
], ids=["edit an answer", "regenerate a question", "regenerate nothing", "edit nothing", "regenerate with a message",
        "edit without one", "both", "seq 0", "seq as text"])
async def test_bad_edit_and_regenerate_requests_are_422_naming_the_field(api, db, auth, user_a, body, field):
    headers = auth(user_a)
    turn = await chat(api, headers, message="one")
    response = await api.post("/api/chat", json={"conversation_id": turn["conversation_id"], **body}, headers=headers)
    assert_refused(response, "body", field)
    assert len(tree(db, turn["conversation_id"])) == 2 and head_of(db, turn["conversation_id"]) == 2


@pytest.mark.parametrize("field", ["edit_of", "regenerate_of"])
async def test_edit_and_regenerate_need_a_conversation(api, db, auth, user_a, field):
    response = await api.post("/api/chat", json={field: 2, **({"message": "x"} if field == "edit_of" else {})},
                              headers=auth(user_a))
    assert_refused(response, "body", "conversation_id")
    assert conversations_of(db, user_a) == 0


async def test_a_bad_switch_or_siblings_request_is_refused(api, db, auth, user_a):
    headers = auth(user_a)
    conversation_id = (await chat(api, headers, message="one"))["conversation_id"]
    for body, loc in (({"seq": 3}, ["body", "seq"]), ({"seq": 0}, ["body", "seq"]), ({}, ["body", "seq"]),
                      ({"seq": 1, "at": 2}, ["body", "at"])):
        assert_refused(await api.post(f"/api/conversations/{conversation_id}/head", json=body, headers=headers), *loc)
    missing = await api.get(f"/api/conversations/{conversation_id}/messages/3/siblings", headers=headers)
    assert (missing.status_code, missing.json()) == (404, {"detail": "message not found"})
    assert_refused(await api.get(f"/api/conversations/{conversation_id}/messages/0/siblings", headers=headers),
                   "path", "seq")
    assert head_of(db, conversation_id) == 2


async def test_another_users_conversation_is_refused_exactly_as_a_missing_one(api, db, auth, user_a, user_b):
    conversation_id = await three_turns(api, auth(user_a))
    before = tree(db, conversation_id)
    for target in (conversation_id, str(uuid.uuid4())):
        answers = [
            await api.post(f"/api/conversations/{target}/head", json={"seq": 1}, headers=auth(user_b)),
            await api.get(f"/api/conversations/{target}/messages/1/siblings", headers=auth(user_b)),
            await api.post("/api/chat", json={"conversation_id": target, "edit_of": 1, "message": "x"},
                           headers=auth(user_b)),
            await api.post("/api/chat", json={"conversation_id": target, "regenerate_of": 2}, headers=auth(user_b)),
        ]
        assert [(a.status_code, a.json()) for a in answers] == [(404, {"detail": "conversation not found"})] * 4
    assert tree(db, conversation_id) == before and head_of(db, conversation_id) == 6
    assert conversations_of(db, user_b) == 0


# the contract, as OpenAPI tells it

async def test_openapi_documents_branches(api):
    spec = (await api.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/conversations/{conversation_id}/head"]["post"]["responses"]) >= {"200", "404", "422"}
    assert set(paths["/api/conversations/{conversation_id}/messages/{seq}/siblings"]["get"]["responses"]) >= {
        "200", "404", "422"}
    schemas = spec["components"]["schemas"]
    assert {"parent_seq", "sibling_index", "sibling_count"} <= set(schemas["Message"]["properties"])
    assert {"edit_of", "regenerate_of"} <= set(schemas["ChatRequest"]["properties"])
    assert "message" not in schemas["ChatRequest"].get("required", [])
