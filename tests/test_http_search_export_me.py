"""Search, export and account deletion over HTTP, through httpx against the ASGI app and a real database:
GET /api/search finds the user's own messages only; GET /api/me/export holds everything of the user and nothing
of anyone else's; DELETE /api/me takes everything of the user and nothing else, and the same token brings
nothing back.
"""

from __future__ import annotations

import pytest

from http_api import MESSAGE_KEYS, assert_refused, new_conversation
from stored_data import conversations_of, stored_user

pytestmark = pytest.mark.errors_as_500


# GET /api/search

async def test_search_finds_the_users_own_messages_only(api, auth, user_a, user_b):
    for user in (user_a, user_b):
        await api.post("/api/chat", json={"message": f"the comet of {user} is green"}, headers=auth(user))
    response = await api.get("/api/search", params={"q": "comet green"}, headers=auth(user_b))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {item["content"] for item in items} == {f"the comet of {user_b} is green",
                                                    f"You said: the comet of {user_b} is green"}
    assert all(set(item) == MESSAGE_KEYS for item in items)
    response = await api.get("/api/search", params={"q": str(user_a)}, headers=auth(user_b))
    assert response.json() == {"items": []}


@pytest.mark.parametrize(("params", "field"), [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "x" * 1001}, "q"), ({"q": "a\x00b"}, "q"),
    ({"q": "moon", "limit": 0}, "limit"), ({"q": "moon", "limit": 501}, "limit"),
])
async def test_search_refuses_bad_input(api, auth, user_a, params, field):
    response = await api.get("/api/search", params=params, headers=auth(user_a))
    assert_refused(response, "query", field)


# GET /api/me/export

async def test_export_holds_everything_of_the_user(api, auth, user_a, user_b):
    turn = (await api.post("/api/chat", json={"message": "remember this"}, headers=auth(user_a))).json()
    await api.post("/api/chat", json={"message": "and not this"}, headers=auth(user_b))
    response = await api.get("/api/me/export", headers=auth(user_a))
    assert response.status_code == 200, response.text
    exported = response.json()
    assert exported["user"]["id"] == str(user_a)
    (conversation,) = exported["conversations"]
    assert conversation["id"] == turn["conversation_id"]
    assert [m["content"] for m in conversation["messages"]] == ["remember this", "You said: remember this"]
    assert set(conversation["messages"][0]) == MESSAGE_KEYS
    assert "and not this" not in response.text and str(user_b) not in response.text


# DELETE /api/me

async def test_delete_me_takes_everything_of_the_user_and_nothing_else(api, db, auth, user_a, user_b, snapshot):
    for user in (user_a, user_b):
        await api.post("/api/chat", json={"message": f"hello from {user}"}, headers=auth(user))
        await new_conversation(api, auth(user), title="empty")
    theirs = {table: [row for row in rows if user_a not in row] for table, rows in snapshot().items()}

    response = await api.delete("/api/me", headers=auth(user_a))
    assert response.status_code == 204 and response.content == b""
    assert stored_user(db, user_a) is None
    assert conversations_of(db, user_a) == 0
    assert db.execute("select count(*) from chat.messages where user_id = %s", [user_a]).fetchone() == (0,)
    after = snapshot()
    # what is left of A: the tombstone of the deletion, the id and the time (tests/test_account_deletion.py)
    assert [row[0] for row in after.pop("deleted_users")] == [user_a]
    assert after == {table: rows for table, rows in theirs.items() if table != "deleted_users"}
    assert conversations_of(db, user_b) == 2

    # the same token brings nothing back (tests/test_account_deletion.py: and a newer one makes a new user)
    again = await api.get("/api/conversations", headers=auth(user_a, email="a@example.com"))
    assert again.status_code == 401
    assert stored_user(db, user_a) is None
