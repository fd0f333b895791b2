"""Chat turns on the chat page in Chromium, streamed: the reply grows as its pieces come; Stop ends the stream,
and the service still stores the whole reply; a failed turn (the stream's error event, a connection cut) is
retried with the same client_msg_id, and the database holds one user message for it, a 409 shown while the
first attempt is still answered; an edited message and a regenerated reply are new versions, and the
"< 2/3 >" switcher moves between versions. Each test checks what the page shows against what the database
holds."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Route, expect

from chat_page import ChatPage, eventually, only_conversation, starting
from scripted_responders import FailingFirst, Held, Numbered
from stored_data import head_of, stored_messages

pytest_plugins = ["browser"]

# crypto.randomUUID()'s
RANDOM_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def user_messages(db, conversation) -> list[tuple]:
    """(seq, content, client_msg_id) of the conversation's user messages."""
    return db.execute("select seq, content, client_msg_id from chat.messages"
                      " where conversation_id = %s and role = 'user' order by seq", [conversation]).fetchall()



def test_a_turn_streams_its_reply_as_it_grows(serve_page, page, token, user_a, db):
    responder = Held(["Hello ", "there, "], ["general ", "Kenobi."])
    chat = ChatPage(page, serve_page(responder)).open(token(user_a))
    chat.send("<b>hi</b> & bye")

    growing = chat.growing_reply
    expect(growing).to_have_attribute("aria-busy", "true")
    expect(growing).to_have_attribute("aria-live", "polite")
    expect(growing.locator(".message-content")).to_have_text(re.compile(r"^Hello there,\s*$"))
    expect(chat.button("Stop")).to_be_visible()
    expect(chat.composer).to_have_value("")
    conversation = only_conversation(db, user_a)
    [(seq, content, client_msg_id)] = user_messages(db, conversation)
    assert (seq, content) == (1, "<b>hi</b> & bye") and RANDOM_UUID.match(client_msg_id)
    assert len(stored_messages(db, conversation)) == 1  # the reply is not stored yet

    responder.release()
    expect(chat.message("Hello there, general Kenobi.")).to_be_visible()
    expect(chat.growing_reply).to_have_count(0)
    expect(chat.button("Stop")).to_be_hidden()
    # markup in a message is shown as the text it is
    expect(chat.message("<b>hi</b> & bye")).to_be_visible()
    expect(chat.page.locator("#message-list b")).to_have_count(0)
    expect(chat.conversation_links.first).to_have_text(starting("<b>hi</b> & bye"))
    expect(chat.title).to_have_text("<b>hi</b> & bye")
    assert chat.page.url == f"{chat.base}/#conversation={conversation}"
    assert stored_messages(db, conversation) == [(1, "user", "<b>hi</b> & bye"),
                                                 (2, "assistant", "Hello there, general Kenobi.")]


def test_stop_ends_the_stream_and_the_service_still_stores_the_reply(serve_page, page, token, user_a, db):
    responder = Held(["The first part. "], ["The rest."])
    chat = ChatPage(page, serve_page(responder)).open(token(user_a))
    chat.send("Tell me a long story")
    expect(chat.growing_reply).to_contain_text("The first part.")

    chat.button("Stop").click()
    expect(chat.status).to_contain_text("Stopped.")
    expect(chat.growing_reply).to_have_count(0)
    expect(chat.contents).to_have_text(["Tell me a long story"])  # read again: no reply stored yet
    expect(chat.button("Stop")).to_be_hidden()
    expect(chat.composer).to_be_focused()
    conversation = only_conversation(db, user_a)
    assert stored_messages(db, conversation) == [(1, "user", "Tell me a long story")]

    responder.release()
    eventually(lambda: len(stored_messages(db, conversation)) == 2)
    chat.conversation_links.first.click()  # the conversation, read again
    expect(chat.contents).to_have_text(["Tell me a long story", "The first part. The rest."])
    assert stored_messages(db, conversation) == [(1, "user", "Tell me a long story"),
                                                 (2, "assistant", "The first part. The rest.")]
    assert responder.calls == 1


def test_a_failed_turn_is_retried_with_the_same_client_msg_id(serve_page, page, token, user_a, db):
    responder = FailingFirst()
    chat = ChatPage(page, serve_page(responder)).open(token(user_a))
    chat.send("What is the answer?")
    expect(chat.problem).to_have_text("The assistant could not answer; your message is stored, and a retry with its "
                                      "client_msg_id answers it again.")
    expect(chat.growing_reply).to_have_count(0)  # the partial reply is not kept, as it is not stored
    expect(chat.contents).to_have_text(["What is the answer?"])
    conversation = only_conversation(db, user_a)
    [(_, _, client_msg_id)] = user_messages(db, conversation)
    assert len(stored_messages(db, conversation)) == 1

    chat.button("Retry").click()
    expect(chat.message("Let me see… the answer is 42.")).to_be_visible()
    expect(chat.problem).to_be_empty()
    expect(chat.button("Retry")).to_be_hidden()
    assert user_messages(db, conversation) == [(1, "What is the answer?", client_msg_id)]
    assert stored_messages(db, conversation) == [(1, "user", "What is the answer?"),
                                                 (2, "assistant", "Let me see… the answer is 42.")]
    assert responder.calls == 2


def test_a_turn_cut_off_is_retried_409_while_it_is_still_answered(serve_page, page, token, user_a, db):
    responder = Held(["Working on it. "], ["Done."])
    chat = ChatPage(page, serve_page(responder)).open(token(user_a))

    def cut_off(route: Route) -> None:
        """The request reaches the service, which starts the turn; then the connection drops."""
        headers = {name: value for name, value in route.request.all_headers().items()
                   if name in ("authorization", "content-type", "accept")}
        with httpx.stream("POST", route.request.url, content=route.request.post_data_buffer, headers=headers,
                          timeout=30) as response:
            next(line for line in response.iter_lines() if line.startswith("data:"))  # the stored user message
        route.abort("connectionreset")

    chat.page.route("**/api/chat", cut_off)
    chat.send("Summarise my week")
    expect(chat.problem).to_have_text("The connection to the service failed. Check the network, then retry.")
    chat.page.unroute("**/api/chat")
    conversation = only_conversation(db, user_a)
    [(_, _, client_msg_id)] = user_messages(db, conversation)

    chat.button("Retry").click()
    expect(chat.problem).to_have_text("This message is still being answered. Try again in 1 second.")
    expect(chat.page.get_by_role("alert")).to_have_text("This message is still being answered. Try again in 1 second.")
    assert stored_messages(db, conversation) == [(1, "user", "Summarise my week")]

    responder.release()
    eventually(lambda: len(stored_messages(db, conversation)) == 2)
    chat.button("Retry").click()
    expect(chat.message("Working on it. Done.")).to_be_visible()
    expect(chat.problem).to_be_empty()
    assert user_messages(db, conversation) == [(1, "Summarise my week", client_msg_id)]
    assert stored_messages(db, conversation) == [(1, "user", "Summarise my week"),
                                                 (2, "assistant", "Working on it. Done.")]
    assert responder.calls == 1


def test_an_edit_is_a_new_version_and_the_switcher_moves_between_versions(chat, token, user_a, db):
    chat.open(token(user_a))
    chat.send("Plan a picnic")
    expect(chat.message("You said: Plan a picnic")).to_be_visible()

    chat.message("Plan a picnic").get_by_role("button", name="Edit this message").click()
    editor = chat.page.get_by_role("textbox", name="Edit your message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("Plan a picnic")
    editor.fill("Plan a barbecue")
    editor.press("Enter")
    expect(chat.contents).to_have_text(["Plan a barbecue", "You said: Plan a barbecue"])
    edited = chat.message("Plan a barbecue")
    expect(edited.locator(".versions-position")).to_have_text("2/2")
    conversation = only_conversation(db, user_a)
    assert stored_messages(db, conversation, "seq, role, content, parent_seq") == [
        (1, "user", "Plan a picnic", None), (2, "assistant", "You said: Plan a picnic", 1),
        (3, "user", "Plan a barbecue", None), (4, "assistant", "You said: Plan a barbecue", 3)]
    assert head_of(db, conversation) == 4

    edited.get_by_role("button", name="Previous version").click()
    expect(chat.contents).to_have_text(["Plan a picnic", "You said: Plan a picnic"])
    first = chat.message("Plan a picnic")
    expect(first.locator(".versions-position")).to_have_text("1/2")
    # the focus stays on the switcher: on Next, Previous being disabled at the first version
    expect(first.get_by_role("button", name="Next version")).to_be_focused()
    assert head_of(db, conversation) == 2

    chat.page.keyboard.press("Enter")
    expect(chat.contents).to_have_text(["Plan a barbecue", "You said: Plan a barbecue"])
    assert head_of(db, conversation) == 4
    assert len(stored_messages(db, conversation)) == 4  # switching stores nothing


def test_regenerate_writes_another_reply_beside_the_first(serve_page, page, token, user_a, db):
    chat = ChatPage(page, serve_page(Numbered())).open(token(user_a))
    chat.send("Name a colour")
    expect(chat.message("1. You said: Name a colour")).to_be_visible()

    chat.message("1. You said: Name a colour").get_by_role("button", name="Regenerate this reply").click()
    expect(chat.contents).to_have_text(["Name a colour", "2. You said: Name a colour"])
    second = chat.message("2. You said: Name a colour")
    expect(second.locator(".versions-position")).to_have_text("2/2")
    conversation = only_conversation(db, user_a)
    assert stored_messages(db, conversation, "seq, role, content, parent_seq") == [
        (1, "user", "Name a colour", None), (2, "assistant", "1. You said: Name a colour", 1),
        (3, "assistant", "2. You said: Name a colour", 1)]
    [(client_msg_id,)] = db.execute("select client_msg_id from chat.messages where conversation_id = %s"
                                    " and seq = 3", [conversation]).fetchall()
    assert RANDOM_UUID.match(client_msg_id)  # the regenerated reply's key, as the page made it
    assert head_of(db, conversation) == 3

    second.get_by_role("button", name="Previous version").click()
    expect(chat.contents).to_have_text(["Name a colour", "1. You said: Name a colour"])
    expect(chat.message("1. You said: Name a colour").locator(".versions-position")).to_have_text("1/2")
    assert head_of(db, conversation) == 2
