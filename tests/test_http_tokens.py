"""The HTTP API's door, through httpx against the ASGI app and a real database: every /api route needs a
bearer token (HS256 pinned, exp required, nbf honoured, 30 s of leeway, aud when configured), and the OpenAPI
schema says so of each; a bad token is 401 and provisions nobody; first use provisions the user without ever
failing on the email claim; /healthz needs no token, and is 503 without the database.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import jwt
import pytest

from serving import ROUTES, serve
from stored_data import conversations_of, stored_user
from tokens import b64json, bearer, claims

OTHER_SECRET = "another-secret-of-at-least-thirty-two-bytes"


pytestmark = [pytest.mark.errors_as_500,
              pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]


# helpers: tokens

def sign(payload: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(payload: dict) -> str:
    """An ``alg: none`` token, made by hand: no signature at all."""
    return f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b64json(payload)}."


def with_payload(token: str, payload: dict) -> str:
    """The token with its payload replaced and its header and signature kept: a forgery."""
    header, _, signature = token.split(".")
    return f"{header}.{b64json(payload)}.{signature}"


def now_plus(seconds: int) -> int:
    return int(time.time()) + seconds


# 401: every /api route needs a valid token

@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_every_api_route_needs_a_token(api, user_a, method, path, body, snapshot):
    before = snapshot()
    assert before["users"], "user_a exists, and stays"
    url = path.format(id=uuid.uuid4())
    response = await api.request(method, url, json=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot() == before


REFUSED_TOKENS: dict[str, Callable[[uuid.UUID, str], dict[str, str]]] = {
    "no Authorization header": lambda user, key: {},
    "Basic scheme": lambda user, key: {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
    "token without scheme": lambda user, key: {"Authorization": sign(claims(user), key)},
    "Bearer without token": lambda user, key: {"Authorization": "Bearer"},
    "malformed token": lambda user, key: bearer("not-a-jwt"),
    "three garbage segments": lambda user, key: bearer("a.b.c"),
    "wrong signature": lambda user, key: bearer(sign(claims(user), OTHER_SECRET)),
    "payload swapped": lambda user, key: bearer(with_payload(sign(claims(user), key),
                                                             claims(user, exp=now_plus(10**6)))),
    "alg none": lambda user, key: bearer(unsigned(claims(user))),
    "alg none by pyjwt": lambda user, key: bearer(jwt.encode(claims(user), None, algorithm="none")),
    "HS384 with the right secret": lambda user, key: bearer(sign(claims(user), key, "HS384")),
    "HS512 with the right secret": lambda user, key: bearer(sign(claims(user), key, "HS512")),
    "expired beyond leeway": lambda user, key: bearer(sign(claims(user, exp=now_plus(-60)), key)),
    "exp missing": lambda user, key: bearer(sign(claims(user, exp=None), key)),
    "exp not a number": lambda user, key: bearer(sign(claims(user, exp="tomorrow"), key)),
    "sub missing": lambda user, key: bearer(sign(claims(user, sub=None), key)),
    "sub not a uuid": lambda user, key: bearer(sign(claims(user, sub="alice"), key)),
    "sub a number": lambda user, key: bearer(sign(claims(user, sub=42), key)),
    "nbf in the future beyond leeway": lambda user, key: bearer(sign(claims(user, nbf=now_plus(120)), key)),
}


@pytest.mark.parametrize("make_headers", REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
async def test_a_bad_token_is_401_and_provisions_nobody(api, db, settings, make_headers):
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=make_headers(user, settings.jwt_secret.get_secret_value()))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert isinstance(response.json()["detail"], str)
    assert db.execute("select count(*) from chat.users").fetchone()[0] == 0


@pytest.mark.parametrize("changes", [{"exp": -10}, {"nbf": 10}], ids=["expired 10 s ago", "nbf in 10 s"])
async def test_leeway_of_thirty_seconds_is_allowed(api, db, token, changes):
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=bearer(token(user, **{
        claim: now_plus(offset) for claim, offset in changes.items()})))
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}
    assert stored_user(db, user) is not None


@pytest.mark.parametrize(("aud", "status"), [(None, 401), ("other", 401), (["other", "more"], 401),
                                             ("chat", 200), (["other", "chat"], 200)],
                         ids=["no aud", "wrong aud", "wrong auds", "aud chat", "auds with chat"])
async def test_audience_is_checked_when_configured(settings, token, aud, status):
    async with serve(settings, jwt_audience="chat") as client:
        response = await client.get("/api/conversations", headers=bearer(token(uuid.uuid4(), aud=aud)))
    assert response.status_code == status, response.text


async def test_audience_is_ignored_when_not_configured(api, token):
    response = await api.get("/api/conversations", headers=bearer(token(uuid.uuid4(), aud="anything")))
    assert response.status_code == 200, response.text


# provisioning on first use

@pytest.mark.parametrize(("email", "stored"), [
    ("new@example.com", "new@example.com"),
    (None, None),
    ("not an email", None),
    ("x" * 320 + "@example.com", None),
    ("nul\x00@example.com", None),
    (123, None),
    (["a@example.com"], None),
], ids=["well formed", "absent", "malformed", "too long", "with NUL", "a number", "a list"])
async def test_first_use_provisions_the_user_with_a_usable_email(api, db, auth, email, stored):
    user = uuid.uuid4()
    assert stored_user(db, user) is None
    response = await api.post("/api/conversations", json={}, headers=auth(user, email=email))
    assert response.status_code == 201, response.text
    assert stored_user(db, user) == (stored,)
    assert conversations_of(db, user) == 1


async def test_a_taken_email_provisions_the_user_without_it(api, db, auth, make_user):
    owner = make_user("taken@example.com")
    user = uuid.uuid4()
    response = await api.get("/api/conversations", headers=auth(user, email="taken@example.com"))
    assert response.status_code == 200, response.text
    assert "taken@example.com" not in response.text
    assert stored_user(db, user) == (None,)
    assert stored_user(db, owner) == ("taken@example.com",)


async def test_a_known_user_keeps_the_stored_email(api, db, auth, user_a):
    response = await api.get("/api/conversations", headers=auth(user_a, email="changed@example.com"))
    assert response.status_code == 200
    assert stored_user(db, user_a) == ("a@example.com",)
    assert db.execute("select count(*) from chat.users").fetchone()[0] == 1


# health and the schema

async def test_healthz(api):
    response = await api.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_healthz_is_503_without_the_database(settings):
    async with serve(settings, database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1") as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"
    assert "retry-after" in response.headers


def spec_operations(paths: dict) -> set[tuple[str, str]]:
    return {(method, re.sub(r"\{[^}]+\}", "{id}", path)) for path, item in paths.items() for method in item}


# (a message's seq in a path, as OpenAPI's {seq}, is {id} for spec_operations)
API_OPERATIONS = {(method, re.sub(r"/\d+(?=/)", "/{id}", path.split("?")[0])) for method, path, _ in ROUTES}


async def test_openapi_lists_every_api_route_of_the_spec_each_secured_by_bearer(api):
    response = await api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    listed = spec_operations(paths)
    assert {operation for operation in listed if operation[1].startswith("/api")} == API_OPERATIONS
    assert len(API_OPERATIONS) == 15  # the SPEC's table, /healthz and / aside
    for path, item in paths.items():
        if path.startswith("/api"):
            for method, operation in item.items():
                assert operation.get("security") == [{"HTTPBearer": []}], f"{method} {path}"
