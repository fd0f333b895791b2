"""The chat page as its browser tests use it: pages to open it in (a desktop's width, a phone's), the page
as a person uses it (``ChatPage``, by the names people and screen readers see), patterns of shown text, and
reads of what the database holds once the service is done."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from playwright.sync_api import Browser, Locator, Page, expect

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}

# Long enough for a loaded 2-core machine; expect() returns as soon as what it waits for is there.
expect.set_options(timeout=15_000)

_T = TypeVar("_T")


@contextmanager
def opened_page(browser: Browser, viewport: dict) -> Iterator[Page]:
    """A page in a context of its own (its own sessionStorage), closed after; an uncaught error of the page's
    scripts fails the test."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page's scripts failed: {errors}"



class ChatPage:
    """The chat page as a person uses it: by the names people and screen readers see."""

    def __init__(self, page: Page, base: str):
        self.page = page
        self.base = base

    def open(self, token: str | None = None, conversation=None) -> ChatPage:
        """The page, signed in by a link carrying ``token`` (and showing ``conversation``) when given."""
        fragment = "&".join(part for part in [f"token={token}" if token else "",
                                              f"conversation={conversation}" if conversation else ""] if part)
        self.page.goto(f"{self.base}/" + (f"#{fragment}" if fragment else ""))
        if token:
            expect(self.composer).to_be_visible()
        return self

    def open_live(self, token: str, conversation=None) -> ChatPage:
        """The page signed in as ``open`` does it, once its live updates' stream is open (``GET /api/events``
        answered 200)."""
        with self.page.expect_response(lambda response: urlsplit(response.url).path == "/api/events") as opened:
            self.open(token, conversation)
        assert opened.value.status == 200, opened.value.status
        return self

    @property
    def sign_in_form(self) -> Locator:
        return self.page.locator("#sign-in")

    @property
    def sign_in_message(self) -> Locator:
        return self.page.locator("#sign-in-message")

    @property
    def sidebar(self) -> Locator:
        return self.page.get_by_role("navigation", name="Conversations")

    @property
    def conversation_links(self) -> Locator:
        return self.page.locator("#conversation-list a")

    def conversation_link(self, title: str) -> Locator:
        return self.page.locator("#conversation-list a", has_text=title)

    @property
    def title(self) -> Locator:
        return self.page.locator("#conversation-title")

    @property
    def messages(self) -> Locator:
        """The messages shown, the growing reply included."""
        return self.page.locator("#message-list > li")

    @property
    def contents(self) -> Locator:
        """The contents of the stored messages shown (each has its seq): not the reply still growing, whose text
        may be whole before the service has stored it."""
        return self.page.locator("#message-list > li[data-seq] .message-content")

    def message(self, text: str) -> Locator:
        """The shown message whose content is ``text``, exactly: a stored one (it has its seq), never the reply
        still growing, whose text may be whole before the service has stored it."""
        return self.page.locator("#message-list > li[data-seq]").filter(
            has=self.page.locator(".message-content", has_text=exactly(text)))

    @property
    def growing_reply(self) -> Locator:
        return self.page.locator("#message-list > li[aria-busy]")

    @property
    def composer(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message", exact=True)

    @property
    def problem(self) -> Locator:
        """What went wrong, as the page says it (an alert)."""
        return self.page.locator("#problem")

    @property
    def status(self) -> Locator:
        return self.page.locator("#status")

    @property
    def live_status(self) -> Locator:
        """The state of the live updates, as the page says it: nothing while they flow."""
        return self.page.locator("#live-status")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def send(self, text: str) -> None:
        """``text`` written in the message box and sent with Enter."""
        self.composer.fill(text)
        self.composer.press("Enter")


def exactly(text: str) -> re.Pattern:
    """A pattern of the whole of ``text``, for has_text and to_have_text (a string would match a part)."""
    return re.compile(f"^{re.escape(text)}$")


def starting(text: str) -> re.Pattern:
    """A pattern of what starts with ``text`` (a conversation's link: its title, then how many messages)."""
    return re.compile(f"^{re.escape(text)}")


def only_conversation(db, user) -> UUID:
    """The id of the user's one conversation, as stored."""
    [(conversation,)] = db.execute("select id from chat.conversations where user_id = %s", [user]).fetchall()
    return conversation


def eventually(check: Callable[[], _T], timeout: float = 30) -> _T:
    """What ``check`` returns once it is true: for what the service finishes after the page stopped watching
    (a stopped turn's reply is stored in the background), read in the database."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "the service did not get there in time"
        time.sleep(0.05)
    return result
