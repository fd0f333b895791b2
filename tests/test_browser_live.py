"""Live updates on the chat page in Chromium (``GET /api/events``, followed by the page): two pages signed in as
the same user on one service, and what one does shows on the other without a reload or a click: a new
conversation in the list, a turn's messages in the open conversation, a rename, a deletion; the page that sent
the turn shows its messages once. Another user's page shows nothing of it, and is told nothing of it. A stream
the network cuts (a relay between browser and service resets its connections, and refuses new ones a while)
opens again by itself, resumes from its last event (Last-Event-ID), and shows what changed meanwhile. A flood
of changes is shown whole, with a few reads; a message that comes while one reads earlier ones moves nothing.
A service whose live updates are off is said to be so once, and not asked again. Each test checks what the
pages show against what the database holds."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, expect

from as_user import append_message, call, seed_messages
from chat_page import DESKTOP, ChatPage, only_conversation, opened_page, starting
from stored_data import stored_messages
from tokens import bearer

pytest_plugins = ["browser"]


def create_conversation(app_conn, user, title: str):
    return call(app_conn, user, "select id from chat.create_conversation(%s)", [title])[0][0]


def not_reloaded(page: Page) -> None:
    """Marks the page's window: a reload (or any navigation to another document) would lose the mark."""
    page.evaluate("window.notReloaded = true")


def still_the_same_document(page: Page) -> bool:
    return page.evaluate("window.notReloaded === true")


def api_requests(page: Page) -> list[str]:
    """The paths of the API requests the page makes from now on (the list grows as it makes them)."""
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urlsplit(request.url).path)
            if urlsplit(request.url).path.startswith("/api/") else None)
    return paths


class Relay:
    """A TCP relay on a loopback port of its own to the service at ``target``: the network between a browser and
    the service, which ``cut()`` takes away as a network that goes down does: every connection through it is
    reset, and new ones are refused (reset as they come) until ``restore()``. (Chromium's offline emulation,
    ``set_offline``, fails new requests only: a stream already open goes on.)"""

    def __init__(self, target: str):
        host, port = urlsplit(target).hostname, urlsplit(target).port
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.down = threading.Event()
        self.cuts = 0  # connections reset by cut()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.down.set()
        with self._lock:
            for sock in self._open:
                self.cuts += 1
                reset(sock)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.cut()
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.down.is_set():
                reset(client)
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._lock:
            self._open.difference_update((source, sink))


def reset(sock: socket.socket) -> None:
    """Ends a connection with a reset (RST), as a network gone away leaves it, waking whatever reads it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@contextmanager
def relayed(target: str) -> Iterator[Relay]:
    relay = Relay(target)
    try:
        yield relay
    finally:
        relay.close()


def settled(page: Page, requested: list[str]) -> int:
    """How many requests ``requested`` holds once the page has made none for half a second."""
    count = -1
    for _ in range(40):
        if count == len(requested):
            return count
        count = len(requested)
        page.wait_for_timeout(500)
    raise AssertionError(f"the page kept making requests: {requested}")


def test_what_one_page_does_shows_on_another_without_a_reload(service, page, browser, token, user_a, db):
    secret = token(user_a)
    first = ChatPage(page, service).open_live(secret)
    with opened_page(browser, DESKTOP) as other:
        second = ChatPage(other, service).open_live(secret)
        expect(second.page.get_by_text("No conversations yet")).to_be_visible()
        not_reloaded(second.page)

        # a new conversation: in the second page's list, with its two messages
        first.send("Plan my week")
        expect(first.message("You said: Plan my week")).to_be_visible()
        conversation = only_conversation(db, user_a)
        expect(second.conversation_links).to_have_text([starting("Plan my week")])
        expect(second.conversation_link("Plan my week")).to_contain_text("2 messages")
        second.conversation_link("Plan my week").click()
        expect(second.contents).to_have_text(["Plan my week", "You said: Plan my week"])
        expect(second.conversation_link("Plan my week")).to_be_focused()

        # a turn in the conversation the second page has open: its messages show there as they are stored
        first.send("And on Friday?")
        shown = ["Plan my week", "You said: Plan my week", "And on Friday?", "You said: And on Friday?"]
        expect(second.contents).to_have_text(shown)
        expect(second.conversation_link("Plan my week")).to_contain_text("4 messages")
        # the page that sent it shows each message once, though it is told of them too
        first.page.wait_for_timeout(500)
        expect(first.contents).to_have_text(shown)
        assert [content for _, _, content in stored_messages(db, conversation)] == shown
        assert [int(seq) for seq in second.messages.evaluate_all("items => items.map((i) => i.dataset.seq)")] \
            == [seq for seq, _, _ in stored_messages(db, conversation)]

        # a rename: the second page's list and title
        first.button("Rename").click()
        title = first.page.get_by_label("Title", exact=True)
        title.fill("The week ahead")
        title.press("Enter")
        expect(second.conversation_links).to_have_text([starting("The week ahead")])
        expect(second.title).to_have_text("The week ahead")
        # the list was drawn again under the person: their place in it kept, the open conversation marked
        expect(second.conversation_link("The week ahead")).to_be_focused()
        expect(second.conversation_link("The week ahead")).to_have_attribute("aria-current", "page")
        assert db.execute("select title from chat.conversations where id = %s", [conversation]).fetchone() == (
            "The week ahead",)

        # a deletion: the second page's view of it is cleared, and says why
        first.button("Delete").click()
        first.page.get_by_role("dialog", name="Delete this conversation?").get_by_role("button", name="Delete").click()
        expect(second.status).to_have_text("The conversation you had open was deleted.")
        expect(second.title).to_have_text("New conversation")
        expect(second.contents).to_have_count(0)
        expect(second.conversation_links).to_have_count(0)
        assert second.page.url == f"{service}/"
        assert db.execute("select count(*) from chat.conversations where user_id = %s", [user_a]).fetchone() == (0,)
        assert db.execute("select count(*) from chat.messages where conversation_id = %s",
                          [conversation]).fetchone() == (0,)
        assert still_the_same_document(second.page)
        expect(second.live_status).to_be_empty()


def test_another_users_page_shows_and_is_told_nothing_of_it(service, page, browser, token, user_a, user_b, app_conn,
                                                          db):
    first = ChatPage(page, service).open_live(token(user_a))
    with opened_page(browser, DESKTOP) as theirs_page, opened_page(browser, DESKTOP) as watching:
        theirs = ChatPage(theirs_page, service).open_live(token(user_b))
        expect(theirs.page.get_by_text("No conversations yet")).to_be_visible()
        requested = api_requests(theirs.page)
        # the other user's own change shows on their page: their stream is open, and followed
        create_conversation(app_conn, user_b, "Theirs")
        expect(theirs.conversation_links).to_have_text([starting("Theirs")])
        told = settled(theirs.page, requested)
        assert "/api/conversations" in requested

        mine = ChatPage(watching, service).open_live(token(user_a))
        first.send("Only for me")
        expect(mine.conversation_links).to_have_text([starting("Only for me")])
        first.button("Rename").click()
        first.page.get_by_label("Title", exact=True).fill("Mine alone")
        first.page.get_by_label("Title", exact=True).press("Enter")
        expect(mine.conversation_links).to_have_text([starting("Mine alone")])
        theirs.page.wait_for_timeout(500)  # what came to user_a's pages would have come to this one by now

        expect(theirs.conversation_links).to_have_text([starting("Theirs")])
        expect(theirs.page.get_by_text("Mine alone")).to_have_count(0)
        expect(theirs.contents).to_have_count(0)
        assert requested[told:] == []  # told of no change: it read nothing again
        assert stored_messages(db, only_conversation(db, user_a)) == [(1, "user", "Only for me"),
                                                                      (2, "assistant", "You said: Only for me")]
        assert db.execute("select title from chat.conversations where user_id = %s", [user_b]).fetchall() == [
            ("Theirs",)]


def test_a_stream_the_network_cuts_resumes_by_itself_from_its_last_event(service, page, token, user_a, app_conn,
                                                                          db):
    conversation = create_conversation(app_conn, user_a, "Away")
    append_message(app_conn, user_a, conversation, content="before")
    secret = token(user_a)
    resumed_from: list[str | None] = []  # the Last-Event-ID of each request of the stream
    page.on("request", lambda request: resumed_from.append(request.headers.get("last-event-id"))
            if urlsplit(request.url).path == "/api/events" else None)
    with relayed(service) as relay:
        chat = ChatPage(page, relay.base).open_live(secret, conversation)
        expect(chat.contents).to_have_text(["before"])
        not_reloaded(chat.page)

        append_message(app_conn, user_a, conversation, "assistant", "while online")
        expect(chat.contents).to_have_text(["before", "while online"])
        [(last_seen,)] = db.execute("select id from chat.events where user_id = %s and kind = 'message'"
                                    " and seq = 2", [user_a]).fetchall()

        relay.cut()
        assert relay.cuts >= 2  # the stream's connection, both ends
        expect(chat.live_status).to_have_text("Reconnecting to live updates…")
        # changes while the page cannot hear: a message by SQL as the runtime role, a rename through the API
        append_message(app_conn, user_a, conversation, content="while away")
        renamed = httpx.patch(f"{service}/api/conversations/{conversation}", json={"title": "Back again"},
                              headers=bearer(secret), timeout=10)
        assert renamed.status_code == 200, renamed.text
        chat.page.wait_for_timeout(300)
        expect(chat.contents).to_have_text(["before", "while online"])

        relay.restore()
        expect(chat.contents).to_have_text(["before", "while online", "while away"])
        expect(chat.title).to_have_text("Back again")
        expect(chat.conversation_links).to_have_text([starting("Back again")])
        expect(chat.live_status).to_be_empty()
        assert still_the_same_document(chat.page)
        # the first stream opened anew; every one since, refused or not, resumed from the last event the page had
        attempts = list(resumed_from)
    assert attempts[0] is None and len(attempts) >= 2
    assert set(attempts[1:]) == {str(last_seen)}
    assert stored_messages(db, conversation) == [(1, "user", "before"), (2, "assistant", "while online"),
                                                 (3, "user", "while away")]


def test_a_flood_of_changes_is_shown_whole_with_few_reads(chat, token, user_a, app_conn, db):
    conversation = create_conversation(app_conn, user_a, "Busy")
    append_message(app_conn, user_a, conversation, content="message 0")
    requested = api_requests(chat.page)
    chat.open_live(token(user_a), conversation)
    expect(chat.contents).to_have_text(["message 0"])
    before = settled(chat.page, requested)

    for n in range(1, 101):  # a hundred messages, one transaction each, as fast as they come
        append_message(app_conn, user_a, conversation, "user" if n % 2 else "assistant", f"message {n}")
    expect(chat.contents).to_have_count(101)
    expect(chat.conversation_link("Busy")).to_contain_text("101 messages")
    stored = stored_messages(db, conversation)
    assert chat.contents.all_text_contents() == [content for _, _, content in stored]
    assert len(stored) == 101
    # the events that come close together are followed together: a few reads, not one or two per message
    settled(chat.page, requested)
    reads = requested[before:]
    assert 2 <= len(reads) <= 25, reads



def test_a_message_that_comes_while_one_reads_earlier_ones_moves_nothing(chat, token, user_a, app_conn, db):
    conversation = create_conversation(app_conn, user_a, "Long read")
    seed_messages(app_conn, user_a, conversation, 60)
    requested = api_requests(chat.page)
    chat.open_live(token(user_a), conversation)
    expect(chat.contents).to_have_count(50)  # the recent ones
    expect(chat.contents.last).to_be_in_viewport()
    settled(chat.page, requested)
    chat.message("message 20").scroll_into_view_if_needed()
    expect(chat.message("message 20")).to_be_in_viewport()
    reading = chat.page.locator("#messages").evaluate("messages => messages.scrollTop")

    append_message(app_conn, user_a, conversation, content="message 61")
    expect(chat.contents).to_have_count(51)
    expect(chat.contents.last).to_have_text("message 61")
    # the person reads on where they were: neither scrolled to the new message nor back to the first ones
    expect(chat.message("message 20")).to_be_in_viewport()
    expect(chat.message("message 61")).not_to_be_in_viewport()
    assert chat.page.locator("#messages").evaluate("messages => messages.scrollTop") == reading
    assert [content for _, _, content in stored_messages(db, conversation)][-51:] == chat.contents.all_text_contents()

def test_a_service_without_live_updates_says_so_once_and_the_page_works_on(serve_page, page, token, user_a, db):
    # a listening URL through Neon's pooler, where LISTEN hears nothing: the service turns live updates off
    base = serve_page(database_listen_url="postgresql://chat@ep-quiet-sky-123456-pooler.example.invalid/chat")
    requested = api_requests(page)
    chat = ChatPage(page, base).open(token(user_a))
    expect(chat.live_status).to_have_text("Live updates are off on this service: what changes elsewhere shows when "
                                          "you open a conversation again.")
    expect(chat.page.get_by_role("status").filter(has_text="Live updates are off")).to_have_count(1)
    chat.send("Still there?")
    expect(chat.message("You said: Still there?")).to_be_visible()
    chat.page.wait_for_timeout(1_600)  # past the first two waits of a page that would try again
    assert requested.count("/api/events") == 1
    expect(chat.problem).to_be_empty()
    assert stored_messages(db, only_conversation(db, user_a)) == [(1, "user", "Still there?"),
                                                                  (2, "assistant", "You said: Still there?")]
