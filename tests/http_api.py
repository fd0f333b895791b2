"""The HTTP API as its tests use it: the keys of its JSON answers, requests
that make a conversation or a message through it, the checks of a 401 and of
a 422 naming a field, and the events of a streamed chat turn."""

from __future__ import annotations

import json

import httpx

CONVERSATION_KEYS = {"id", "title", "metadata", "message_count", "created_at", "updated_at"}
MESSAGE_KEYS = {"id", "conversation_id", "seq", "role", "content", "metadata", "client_msg_id", "created_at",
                "tokens", "summary_from", "summary_through", "parent_seq", "sibling_index", "sibling_count"}

# The header that asks POST /api/chat for Server-Sent Events.
STREAM = {"Accept": "text/event-stream"}


async def new_conversation(api, headers, **body) -> dict:
    response = await api.post("/api/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def post_message(api, headers, conversation_id, content="hello", role="user", **extra) -> httpx.Response:
    return await api.post(f"/api/conversations/{conversation_id}/messages",
                          json={"role": role, "content": content, **extra}, headers=headers)


async def send_raw(api, method, url, body, headers) -> httpx.Response:
    """``body`` as ASCII JSON text (lone surrogates travel as \\ud800 escapes, as any client may send them)."""
    return await api.request(method, url, content=json.dumps(body),
                             headers={**headers, "content-type": "application/json"})


def assert_unauthorized(response: httpx.Response, detail: str | None = None) -> None:
    """401 asking for a bearer token, with ``detail`` when given."""
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    if detail is not None:
        assert response.json()["detail"] == detail


def locs(response: httpx.Response) -> list[list]:
    return [error["loc"] for error in response.json()["detail"]]


def assert_refused(response: httpx.Response, *loc) -> None:
    """422 with an error whose location is ``loc`` (a field name alone: anywhere in the body)."""
    assert response.status_code == 422, response.text
    if len(loc) == 1:
        assert any(loc[0] in error_loc for error_loc in locs(response)), response.text
    else:
        assert list(loc) in locs(response), response.text


def events_of(text: str) -> list[tuple[str, dict]]:
    """The events of a Server-Sent Events body: (event, data as JSON), comments (pings) left out."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = [line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")]
        if fields:
            named = dict(fields)
            events.append((named.get("event", "message"), json.loads(named["data"])))
    return events
