"""The API documentation pages, /docs (Swagger UI) and /redoc, work without
the internet: every script, style sheet, icon and URL they use is the
service's own, and answers."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi import FastAPI

from app import main

# What the service answers for each kind of asset a page loads.
ASSET_TYPES = {"script": ("text/javascript", "application/javascript"), "link": ("text/css", "image/"),
               "img": ("image/",)}

# A quoted URL in a page's inline script: swagger's url (the schema) and its OAuth2 redirect.
QUOTED_URL = re.compile(r"""['"]((?:https?:)?//[^'"]*|/[^'"]*)['"]""")


class Page(HTMLParser):
    """The URLs a page loads (script src, link href, img src), and those it names elsewhere: in attributes
    such as ReDoc's spec-url, and in its inline scripts."""

    def __init__(self, html: str):
        super().__init__()
        self.assets: list[tuple[str, str]] = []  # (tag, url)
        self.named: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        loaded = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs.items():
            if value is None:
                continue
            if name == loaded:
                self.assets.append((tag, value))
            elif name.endswith(("src", "href", "url")):
                self.named.append(value)
        self._in_script = tag == "script" and "src" not in attrs

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.named.extend(QUOTED_URL.findall(data))


def same_origin(base: str, url: str) -> bool:
    resolved, origin = urlsplit(urljoin(base, url)), urlsplit(base)
    return (resolved.scheme, resolved.netloc) == (origin.scheme, origin.netloc)


@pytest.mark.parametrize(("path", "schema_reference"), [("/docs", "url: '/openapi.json'"),
                                                        ("/redoc", 'spec-url="/openapi.json"')])
async def test_a_documentation_page_loads_everything_from_the_service(api, path, schema_reference):
    response = await api.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert schema_reference in response.text
    assert {tag for tag, _ in page.assets} >= {"script", "link"}
    assert "/openapi.json" in page.named
    base = str(response.url)
    for url in [url for _, url in page.assets] + page.named:
        assert same_origin(base, url), url
    for tag, url in page.assets:
        asset = await api.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"].startswith(ASSET_TYPES[tag]), (url, asset.headers["content-type"])
        assert asset.content, url
    for url in page.named:
        assert (await api.get(url)).status_code == 200, url


async def test_the_schema_is_the_one_fastapi_publishes_with_its_own_pages(api, monkeypatch):
    published = (await api.get("/openapi.json")).json()
    monkeypatch.setattr(main, "FastAPIOffline", FastAPI)  # FastAPI's own /docs and /redoc, from a CDN
    assert published == main.create_app().openapi()
    assert {"/healthz", "/api/conversations", "/api/chat"} <= set(published["paths"])
    assert not [path for path in published["paths"] if path.startswith(("/docs", "/redoc", "/static"))]
