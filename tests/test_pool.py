"""Many users through few connections: 100 users interleave their requests
through a pool of 5 connections, each connection serving many users in turn.
Every row a caller gets back is its own, and every write landed with its
author: app.user_id never outlives the transaction that set it.
"""

from __future__ import annotations

import asyncio
import random
import uuid

USERS = 100
MESSAGES = 4


async def conversation_of_one_user(api, auth, user: uuid.UUID, seen: dict) -> None:
    headers = auth(user)
    pause = random.Random(user.int).random

    async def call(method, url, **kwargs):
        await asyncio.sleep(pause() / 100)  # shuffle the interleaving
        response = await api.request(method, url, headers=headers, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    conversation = await call("POST", "/api/conversations", json={"title": str(user)})
    seen["conversations"].append((user, conversation["id"]))
    for n in range(MESSAGES):
        message = await call("POST", f"/api/conversations/{conversation['id']}/messages",
                             json={"role": "user", "content": f"{user} {n}"})
        seen["messages"].append((user, message["id"], message["content"]))
    for item in (await call("GET", "/api/conversations?limit=500"))["items"]:
        seen["conversations"].append((user, item["id"]))
        assert item["title"] == str(user)
    for item in (await call("GET", f"/api/conversations/{conversation['id']}/messages/recent"))["items"]:
        seen["messages"].append((user, item["id"], item["content"]))
    turn = await call("POST", "/api/chat", json={"conversation_id": conversation["id"], "message": f"{user} chat"})
    for message in (turn["user_message"], turn["assistant_message"]):
        seen["messages"].append((user, message["id"], message["content"]))


async def test_a_hundred_users_through_five_connections_get_only_their_own_rows(api, auth, db, settings):
    assert settings.pool_max_size == 5
    users = [uuid.uuid4() for _ in range(USERS)]
    seen = {"conversations": [], "messages": []}

    await asyncio.gather(*(conversation_of_one_user(api, auth, user, seen) for user in users))

    stats = api.app.state.store.pool.get_stats()
    assert stats["pool_max"] == 5 and stats.get("connections_num", 0) <= 5
    assert stats.get("requests_waiting", 0) + stats.get("requests_queued", 0) > 0  # they really queued

    # every conversation a caller got back is the caller's own
    owner = dict(db.execute("select id, user_id from chat.conversations").fetchall())
    assert len(owner) == USERS
    assert all(owner[uuid.UUID(cid)] == user for user, cid in seen["conversations"])
    # every message too, and its text is the caller's
    author = dict(db.execute("select id, user_id from chat.messages").fetchall())
    assert all(author[uuid.UUID(mid)] == user for user, mid, _ in seen["messages"])
    assert all(content.startswith("You said: " + str(user)) or content.startswith(str(user))
               for user, _, content in seen["messages"])
    # and in the database, each conversation holds exactly its owner's messages, numbered 1..n
    rows = db.execute("""
        select c.user_id, c.title, c.message_count, count(m.*), min(m.seq), max(m.seq),
               bool_and(m.user_id = c.user_id), bool_and(m.role = 'assistant' or m.content like c.title || '%%')
          from chat.conversations c join chat.messages m on m.conversation_id = c.id
         group by c.user_id, c.id""").fetchall()
    expected_count = MESSAGES + 2
    assert sorted(rows) == sorted((user, str(user), expected_count, expected_count, 1, expected_count, True, True)
                                  for user in users)
