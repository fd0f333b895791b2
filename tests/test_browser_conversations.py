"""The chat page's conversations in Chromium: the list, newest activity first, a page at a time (More); a long
conversation read back page by page as one scrolls up (and by Load earlier); rename; delete, once confirmed;
search, whose results open their conversation and hold no one else's message; the export, downloaded as a
JSON file. Each test checks what the page shows against what the database holds."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from as_user import append_message, call, seed_messages
from chat_page import starting
from stored_data import stored_messages

pytest_plugins = ["browser"]


def create_conversation(app_conn, user, title: str):
    return call(app_conn, user, "select id from chat.create_conversation(%s)", [title])[0][0]


def test_the_list_shows_the_newest_activity_first_a_page_at_a_time(chat, token, user_a, app_conn, db):
    for n in range(1, 26):
        create_conversation(app_conn, user_a, f"Conversation {n:02}")
    chat.open(token(user_a))
    expect(chat.conversation_links).to_have_count(20)
    expect(chat.conversation_links.first).to_have_text(starting("Conversation 25"))
    more = chat.button("More")
    more.click()
    expect(chat.conversation_links).to_have_count(25)
    expect(more).to_be_hidden()
    # the keyboard goes on from the first conversation the last page brought
    expect(chat.conversation_link("Conversation 05")).to_be_focused()

    stored = [title for (title,) in db.execute("select title from chat.conversations where user_id = %s"
                                               " order by updated_at desc, id desc", [user_a])]
    assert chat.page.locator("#conversation-list .conversation-name").all_text_contents() == stored
    assert stored[0] == "Conversation 25" and len(stored) == 25


def test_a_long_conversation_is_read_back_as_one_scrolls_up(chat, token, user_a, app_conn, db):
    conversation = create_conversation(app_conn, user_a, "A long one")
    seed_messages(app_conn, user_a, conversation, 250)
    chat.open(token(user_a), conversation)
    expect(chat.contents).to_have_count(50)  # the recent ones
    expect(chat.contents.first).to_have_text("message 201")
    expect(chat.contents.last).to_have_text("message 250")
    expect(chat.contents.last).to_be_in_viewport()

    chat.page.locator("#messages").evaluate("messages => { messages.scrollTop = 0; }")
    expect(chat.contents).to_have_count(150)
    expect(chat.contents.first).to_have_text("message 101")
    # what was read stays in place: the earlier messages go above it
    expect(chat.message("message 201")).to_be_in_viewport()

    load_earlier = chat.button("Load earlier messages")
    load_earlier.click()
    expect(chat.contents).to_have_count(250)
    expect(chat.contents.first).to_have_text("message 1")
    expect(load_earlier).to_be_hidden()
    assert chat.contents.all_text_contents() == [content for _, _, content in stored_messages(db, conversation)]


def test_rename(chat, token, user_a, app_conn, db):
    create_conversation(app_conn, user_a, "Trip")
    conversation = create_conversation(app_conn, user_a, "Untitled trip")
    chat.open(token(user_a), conversation)
    expect(chat.title).to_have_text("Untitled trip")
    chat.button("Rename").click()
    title = chat.page.get_by_label("Title", exact=True)
    expect(title).to_be_focused()
    expect(title).to_have_value("Untitled trip")
    title.fill("Lisbon in May")
    title.press("Enter")
    expect(chat.title).to_have_text("Lisbon in May")
    expect(chat.button("Rename")).to_be_focused()
    expect(chat.conversation_links.first).to_have_text(starting("Lisbon in May"))
    assert db.execute("select title from chat.conversations where id = %s", [conversation]).fetchone() == (
        "Lisbon in May",)


def test_delete_once_confirmed(chat, token, user_a, app_conn, db):
    kept = create_conversation(app_conn, user_a, "Keep me")
    doomed = create_conversation(app_conn, user_a, "Delete me")
    seed_messages(app_conn, user_a, doomed, 3)
    chat.open(token(user_a), doomed)
    expect(chat.contents).to_have_count(3)

    dialog = chat.page.get_by_role("dialog", name="Delete this conversation?")
    chat.button("Delete").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("“Delete me” and its 3 messages will be deleted for good.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert db.execute("select count(*) from chat.conversations where id = %s", [doomed]).fetchone() == (1,)

    chat.button("Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(chat.status).to_have_text("The conversation was deleted.")
    expect(chat.conversation_links).to_have_text([starting("Keep me")])
    expect(chat.title).to_have_text("New conversation")
    expect(chat.contents).to_have_count(0)
    assert chat.page.url == f"{chat.base}/"
    assert db.execute("select id from chat.conversations where user_id = %s", [user_a]).fetchall() == [(kept,)]
    assert db.execute("select count(*) from chat.messages where conversation_id = %s", [doomed]).fetchone() == (0,)


def test_search_finds_the_users_own_messages_and_opens_their_conversation(chat, token, user_a, user_b, app_conn,
                                                                          db):
    groceries = create_conversation(app_conn, user_a, "Groceries")
    append_message(app_conn, user_a, groceries, content="buy oat milk and bread")
    append_message(app_conn, user_a, groceries, "assistant", "Added both to your list.")
    chores = create_conversation(app_conn, user_a, "Chores")
    append_message(app_conn, user_a, chores, content="fix the bike")
    theirs = create_conversation(app_conn, user_b, "Not yours")
    append_message(app_conn, user_b, theirs, content="my milk is someone else's business")

    chat.open(token(user_a), chores)
    # a result is named by its conversation as the list shows it: the list loaded first
    expect(chat.conversation_link("Groceries")).to_have_count(1)
    search = chat.page.get_by_role("searchbox", name="Search your messages")
    search.fill("milk")
    search.press("Enter")
    results = chat.page.locator("#search-list a")
    expect(chat.page.locator("#search-summary")).to_have_text("1 message found for “milk”.")
    expect(results).to_have_count(1)
    expect(results.locator(".search-excerpt")).to_have_text("You: buy oat milk and bread")
    expect(results.locator(".conversation-meta")).to_have_text("Groceries")
    results.first.click()
    expect(chat.title).to_have_text("Groceries")
    expect(chat.contents).to_have_text(["buy oat milk and bread", "Added both to your list."])
    assert chat.page.url == f"{chat.base}/#conversation={groceries}"
    # the other user's message is stored, and found by no one else
    assert db.execute("select count(*) from chat.messages where content ilike '%%milk%%'").fetchone() == (2,)

    # a query the service refuses is told where the search is
    search.fill("milk " * 201)
    search.press("Enter")
    expect(chat.page.locator("#search-summary")).to_have_text(
        "The service did not accept this: q: String should have at most 1000 characters.")


def test_export_downloads_everything_stored_as_a_json_file(chat, token, user_a, app_conn, db):
    conversation = create_conversation(app_conn, user_a, "Keepsake")
    seed_messages(app_conn, user_a, conversation, 2)
    chat.open(token(user_a))
    with chat.page.expect_download() as download:
        chat.button("Export my data").click()
    expect(chat.status).to_have_text("Your data was downloaded as a JSON file.")
    assert download.value.suggested_filename.startswith("chat-export-")
    assert download.value.suggested_filename.endswith(".json")
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))

    assert exported["user"]["id"] == str(user_a)
    [kept] = exported["conversations"]
    assert (kept["id"], kept["title"]) == (str(conversation), "Keepsake")
    assert [(m["seq"], m["role"], m["content"]) for m in kept["messages"]] == stored_messages(db, conversation)
