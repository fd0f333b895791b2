"""The chat page's browser tests' fixtures (a plugin their modules name in ``pytest_plugins``): Debian's
Chromium driven by Playwright's sync API (nothing downloaded: the browser is the system's), and the service
served over HTTP by uvicorn in a thread, on the test's own copy of the database.

``browser`` (one Chromium per test module), ``serve_page`` (an instance of the service, with a responder of the
test's and changed settings), ``service`` (the default one's base URL), ``page`` (a fresh browser context and
page at a desktop's width; an error of the page's scripts fails the test), and ``chat`` (``ChatPage`` on
``service``). What the tests use besides: ``tests/chat_page.py``."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.chat import EchoResponder
from app.main import create_app
from chat_page import DESKTOP, ChatPage, opened_page
from serving import over_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # as root (the suite's containers), Chromium's sandbox cannot start
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def serve_page(settings) -> Iterator[Callable[..., str]]:
    """``serve_page(responder=None, **changes)``: the base URL of an instance of the service with ``responder``
    (the echo when None) and ``changes`` to the test's settings, stopped after the test. A responder with
    ``release()`` is released first, so that the shutdown does not wait for a reply it holds."""
    with ExitStack() as stack:

        def serve(responder=None, **changes) -> str:
            service = create_app(settings.model_copy(update=changes), responder or EchoResponder())
            base = stack.enter_context(over_http(service))
            if hasattr(responder, "release"):
                stack.callback(responder.release)
            return base

        yield serve


@pytest.fixture
def service(serve_page) -> str:
    """The base URL of the service with the echo responder."""
    return serve_page()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    with opened_page(browser, DESKTOP) as page:
        yield page


@pytest.fixture
def chat(service, page) -> ChatPage:
    """The page, on the service with the echo responder. (The service is set up first, so that it stops last,
    once the page and its connections are gone.)"""
    return ChatPage(page, service)
