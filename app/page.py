"""The chat page, for people in a browser: ``GET /`` and its files under ``/static/`` (``app/static``).

Plain HTML, CSS and JavaScript modules, served as they are: no build step, and nothing loaded from anywhere
but the service (the Content-Security-Policy says so to the browser too). The page needs no token to load;
it reads one from its URL fragment or a form, and sends it with its calls of the API. It is no part of the
API: it stays out of the OpenAPI schema.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).parent / "static"

# Scripts, styles, images and calls from the service only; no frames, no plugins, no form posts elsewhere.
# (The export's download is a blob: URL made by the page, which needs no allowance.)
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

# Every file of the page: checked again (by its ETag) on every load, so that a new version of the service is
# served with its own page and scripts, never beside cached ones of the last; and taken as the type it is sent as.
FILE_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

PAGE_HEADERS = {
    **FILE_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # the page's address may carry a token in its fragment until the page removes it: never sent on
    "Referrer-Policy": "no-referrer",
}


class PageFiles(StaticFiles):
    """The page's files, with FILE_HEADERS."""

    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200):
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(FILE_HEADERS)
        return response


def add_chat_page(app: FastAPI) -> None:
    app.mount("/static", PageFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def chat_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)
