"""Errors on the chat page in Chromium, told as people read them, never a blank screen: a 422 names the field
and why, and nothing is stored; a 503 says why and when to try again (its Retry-After), with Retry; a 404
says the conversation is missing or not the person's, the same for both. (The 409 of a turn still being
answered: tests/test_browser_turns.py.)"""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from as_user import append_message, call
from chat_page import ChatPage
from ports import free_port
from serving import UNREACHABLE_DATABASE
from stored_data import stored_messages, stored_user

pytest_plugins = ["browser"]


def test_a_422_names_the_field_and_nothing_is_stored(chat, token, user_a, app_conn, db):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('Short title')")[0][0]
    chat.open(token(user_a), conversation)
    chat.button("Rename").click()
    title = chat.page.get_by_label("Title", exact=True)
    title.fill("x" * 201)
    title.press("Enter")
    expect(chat.problem).to_have_text(
        "The service did not accept this: title: String should have at most 200 characters.")
    expect(title).to_be_focused()  # still open, to be put right
    expect(chat.button("Retry")).to_be_hidden()
    assert db.execute("select title from chat.conversations where id = %s", [conversation]).fetchone() == (
        "Short title",)

    chat.button("Cancel").click()
    expect(chat.title).to_have_text("Short title")
    too_long = "a" * 10_001
    chat.composer.fill(too_long)
    chat.composer.press("Enter")
    expect(chat.problem).to_have_text(
        "The service did not accept this: message: String should have at most 10000 characters.")
    expect(chat.composer).to_have_value(too_long)  # kept, to be cut short
    expect(chat.button("Retry")).to_be_hidden()
    assert stored_messages(db, conversation) == []


def test_a_503_says_why_and_when_to_try_again(serve_page, page, token, db):
    user = uuid.uuid4()
    unavailable = "The service is unavailable for now: the database is unreachable. Try again in 1 second."
    base = serve_page(database_url=UNREACHABLE_DATABASE.format(port=free_port()), pool_timeout=1)
    chat = ChatPage(page, base).open(token(user))
    expect(chat.problem).to_have_text(unavailable)  # the list could not be read
    expect(chat.button("Retry")).to_be_visible()
    expect(chat.sidebar).to_be_visible()

    with chat.page.expect_response("**/api/chat") as answer:
        chat.send("Is anyone there?")
    assert answer.value.status == 503
    expect(chat.problem).to_have_text(unavailable)
    expect(chat.composer).to_have_value("Is anyone there?")  # kept, to be sent again
    expect(chat.button("Retry")).to_be_visible()
    assert stored_user(db, user) is None  # nothing reached the database


def test_a_404_says_the_conversation_is_missing_or_not_yours(chat, token, user_a, user_b, app_conn, db):
    theirs = call(app_conn, user_b, "select id from chat.create_conversation('Secret plans')")[0][0]
    append_message(app_conn, user_b, theirs, content="between us")
    not_found = "This conversation does not exist, or it is not yours."

    chat.open(token(user_a), theirs)
    expect(chat.problem).to_have_text(not_found)
    expect(chat.title).to_have_text("Conversation not found")
    expect(chat.contents).to_have_count(0)
    expect(chat.button("Retry")).to_be_hidden()
    expect(chat.page.get_by_text("Secret plans")).to_have_count(0)

    missing = uuid.uuid4()
    with chat.page.expect_response(lambda response: f"/api/conversations/{missing}" in response.url) as answer:
        chat.page.goto(f"{chat.base}/#conversation={missing}")
    assert answer.value.status == 404
    expect(chat.title).to_have_text("Conversation not found")
    expect(chat.problem).to_have_text(not_found)
    assert stored_messages(db, theirs) == [(1, "user", "between us")]
    assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (0,)
