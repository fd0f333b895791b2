"""The chat page in Chromium: it loads without a token and is no route of the API; everything it loads comes
from the service; a link carrying #token=… signs in and the token leaves the address bar; the form signs in,
and a refused token (401) brings the form back with a message; the keyboard alone works it, its focus
visible; at a phone's width it is one column, the list folded away."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import expect

from as_user import call, seed_messages
from chat_page import PHONE, ChatPage, only_conversation, opened_page, starting
from stored_data import stored_messages, stored_user
from tokens import bearer

pytest_plugins = ["browser"]

# What the page is made of, each answered by the service: (path, its content type).
PAGE_FILES = [("/static/chat.js", "javascript"), ("/static/api.js", "javascript"),
              ("/static/chat.css", "text/css"), ("/static/icon.svg", "image/svg+xml")]


def test_the_page_answers_without_a_token_and_is_no_route_of_the_api(service):
    page = httpx.get(f"{service}/")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/chat.js">' in page.text
    # the browser itself refuses anything from elsewhere
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for path, kind in PAGE_FILES:
        file = httpx.get(f"{service}{path}")
        assert file.status_code == 200 and kind in file.headers["content-type"], path
    paths = httpx.get(f"{service}/openapi.json").json()["paths"]
    assert "/" not in paths and not [path for path in paths if path.startswith("/static")]


def test_everything_the_page_loads_comes_from_the_service(chat, token, user_a, db):
    requested: list[str] = []
    chat.page.on("request", lambda request: requested.append(request.url))
    secret = token(user_a)
    chat.open(secret)
    chat.send("Hello from the browser")
    expect(chat.message("You said: Hello from the browser")).to_be_visible()

    service = urlsplit(chat.base)
    assert [url for url in requested if urlsplit(url)[:2] != service[:2]] == []
    assert {urlsplit(url).path for url in requested} >= {
        "/", "/static/chat.js", "/static/chat.css", "/api/conversations", "/api/chat"}
    # the token travels in a header, never in an address
    assert [url for url in requested if secret in url] == []
    assert stored_messages(db, only_conversation(db, user_a)) == [
        (1, "user", "Hello from the browser"), (2, "assistant", "You said: Hello from the browser")]


def test_a_link_with_a_token_signs_in_and_the_token_leaves_the_address_bar(chat, token, user_a, app_conn, db):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('Groceries')")[0][0]
    seed_messages(app_conn, user_a, conversation, 2)
    secret = token(user_a)
    chat.open(secret)
    expect(chat.conversation_link("Groceries")).to_be_visible()
    assert chat.page.url == f"{chat.base}/"
    assert chat.page.evaluate("sessionStorage.getItem('chat.token')") == secret

    # this tab stays signed in across a reload
    chat.page.reload()
    chat.conversation_link("Groceries").click()
    expect(chat.title).to_have_text("Groceries")
    expect(chat.contents).to_have_text(["message 1", "message 2"])
    assert chat.page.url == f"{chat.base}/#conversation={conversation}"
    assert [content for _, _, content in stored_messages(db, conversation)] == ["message 1", "message 2"]


def test_the_form_signs_in_and_a_refused_token_brings_it_back(chat, token, db):
    user = uuid.uuid4()  # not provisioned: the first call with a token of theirs does it
    chat.open()
    field = chat.page.get_by_label("Access token")
    expect(field).to_be_focused()
    field.fill("not-a-token")
    chat.button("Sign in").click()
    expect(chat.sign_in_message).to_have_text("The service refused the token: invalid token.")
    expect(chat.page.get_by_role("alert")).to_have_text("The service refused the token: invalid token.")

    secret = token(user)
    field.fill(secret)
    field.press("Enter")
    expect(chat.page.get_by_text("No conversations yet")).to_be_visible()
    assert stored_user(db, user) == (None,)

    # the account is deleted elsewhere: the tokens issued before are refused from then on
    assert httpx.delete(f"{chat.base}/api/me", headers=bearer(secret)).status_code == 204
    chat.send("Anyone there?")
    expect(chat.sign_in_form).to_be_visible()
    expect(chat.sign_in_message).to_contain_text("this account was deleted after the token was issued")
    assert chat.page.evaluate("sessionStorage.getItem('chat.token')") is None
    assert stored_user(db, user) is None
    assert db.execute("select count(*) from chat.messages where user_id = %s", [user]).fetchone() == (0,)


def test_the_keyboard_alone_opens_a_conversation_and_sends(chat, token, user_a, app_conn, db):
    conversation = call(app_conn, user_a, "select id from chat.create_conversation('Chores')")[0][0]
    chat.open(token(user_a))
    link = chat.conversation_link("Chores")
    expect(link).to_be_visible()
    for _ in range(20):  # Tab through the controls before it
        chat.page.keyboard.press("Tab")
        if link.evaluate("link => link === document.activeElement"):
            break
    expect(link).to_be_focused()
    assert link.evaluate("link => getComputedStyle(link).outlineStyle") == "solid"  # the focus is seen

    chat.page.keyboard.press("Enter")
    expect(chat.title).to_have_text("Chores")
    chat.composer.focus()
    chat.page.keyboard.type("Sweep the floor")
    chat.page.keyboard.press("Shift+Enter")
    chat.page.keyboard.type("and the stairs")
    expect(chat.composer).to_have_value("Sweep the floor\nand the stairs")
    chat.page.keyboard.press("Enter")
    expect(chat.message("You said: Sweep the floor\nand the stairs")).to_be_visible()
    assert stored_messages(db, conversation) == [
        (1, "user", "Sweep the floor\nand the stairs"), (2, "assistant", "You said: Sweep the floor\nand the stairs")]


def test_at_a_phone_width_the_page_is_one_column_with_the_list_folded(service, browser, token, user_a, app_conn,
                                                                     db):
    weekend = call(app_conn, user_a, "select id from chat.create_conversation('Weekend plans')")[0][0]
    seed_messages(app_conn, user_a, weekend, 2)
    call(app_conn, user_a, "select chat.create_conversation('Groceries')")
    with opened_page(browser, PHONE) as page:
        chat = ChatPage(page, service).open(token(user_a))
        toggle = chat.button("Conversations")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(chat.sidebar).to_be_hidden()
        expect(chat.composer).to_be_visible()

        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(chat.conversation_links).to_have_text([starting("Groceries"), starting("Weekend plans")])
        chat.conversation_link("Weekend plans").click()
        expect(chat.sidebar).to_be_hidden()
        expect(chat.contents).to_have_text(["message 1", "message 2"])

        chat.send("Pack the tent")
        reply = chat.message("You said: Pack the tent")
        expect(reply).to_be_visible()
        for shown in [chat.composer, chat.button("Send"), reply, chat.title]:
            box = shown.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert stored_messages(db, weekend)[2:] == [(3, "user", "Pack the tent"),
                                                (4, "assistant", "You said: Pack the tent")]

