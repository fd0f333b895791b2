"""Bearer tokens that nobody can forge: the configuration the service starts with.

Proves: without a way to verify tokens (neither JWT_SECRET nor JWT_JWKS_URL,
an empty secret, a secret under 32 UTF-8 bytes, both set, a key set URL that
is not http) ``uvicorn app.main:app`` exits at startup naming the variable,
and never prints a secret; with one it starts, database or not; ``Settings``
checks the same at every construction and explains a refusal without its
values. ``app.devtoken`` signs for JWT_SECRET and refuses with JWT_JWKS_URL;
``current_user`` serves an application of its own that builds no verifier.
(Tokens of a key set: test_auth_key_sets.py.)
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from typing import Annotated

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from app.auth import TokenVerifier, current_user, verifier_from_environment
from app.identity import User
from app.settings import Settings, explain, get_settings
from conftest import ROOT
from http_api import assert_unauthorized
from ports import free_port
from serving import UNREACHABLE_DATABASE, service_env, uvicorn_command
from tokens import ISSUER, JWT_SECRET, bearer, claims, secret_token


# starting: no configuration that anyone could forge tokens for


REFUSED_CONFIGURATIONS = {
    "neither": ({}, ["JWT_SECRET", "JWT_JWKS_URL"]),
    "JWT_SECRET empty": ({"JWT_SECRET": ""}, ["JWT_SECRET", "JWT_JWKS_URL"]),
    "JWT_SECRET of 31 bytes": ({"JWT_SECRET": "q" * 31}, ["JWT_SECRET", "32"]),
    "JWT_SECRET of 31 bytes in 16 characters": ({"JWT_SECRET": "é" * 15 + "q"}, ["JWT_SECRET", "32"]),
    "both": ({"JWT_SECRET": "q" * 48, "JWT_JWKS_URL": "https://todo.example/api/auth/jwks"},
             ["JWT_SECRET", "JWT_JWKS_URL", "not both"]),
    "JWT_JWKS_URL a file": ({"JWT_JWKS_URL": "file:///etc/passwd"}, ["JWT_JWKS_URL", "https://"]),
}


@pytest.mark.parametrize(("variables", "named"), REFUSED_CONFIGURATIONS.values(), ids=REFUSED_CONFIGURATIONS.keys())
def test_the_service_refuses_to_start_without_an_unforgeable_way_to_verify_tokens(variables, named):
    database_url = UNREACHABLE_DATABASE.format(port=free_port())
    result = subprocess.run(uvicorn_command(free_port()), cwd=ROOT, env=service_env(DATABASE_URL=database_url,
                                                                                    **variables),
                            capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Application startup failed" in output
    reason = next((line for line in output.splitlines() if line.startswith("cannot start: ")), None)
    assert reason is not None, output  # one line that says it all, before the traceback
    for name in named:
        assert name in reason, output
    assert "not-to-be-printed" not in output
    if variables.get("JWT_SECRET"):
        assert variables["JWT_SECRET"] not in output


STARTING_CONFIGURATIONS = {
    "JWT_SECRET of 32 bytes": {"JWT_SECRET": "q" * 32},
    "JWT_SECRET of 32 bytes in 16 characters": {"JWT_SECRET": "é" * 16},
    "JWT_JWKS_URL": {"JWT_JWKS_URL": "http://127.0.0.1:9/api/auth/jwks"},
    "JWT_JWKS_URL, JWT_SECRET empty": {"JWT_JWKS_URL": "http://127.0.0.1:9/api/auth/jwks", "JWT_SECRET": ""},
}


@pytest.mark.parametrize("variables", STARTING_CONFIGURATIONS.values(), ids=STARTING_CONFIGURATIONS.keys())
def test_the_service_starts_with_one_way_to_verify_tokens_database_or_not(variables):
    port = free_port()
    env = service_env(DATABASE_URL=UNREACHABLE_DATABASE.format(port=free_port()), POOL_TIMEOUT="1", **variables)
    process = subprocess.Popen(uvicorn_command(port), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
        assert health.status_code == 503
        assert health.json() == {"status": "database unreachable"}
        assert_unauthorized(httpx.get(f"http://127.0.0.1:{port}/api/conversations", timeout=5))
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_settings_are_checked_at_every_construction_and_explained_without_values(monkeypatch):
    for name in ("JWT_SECRET", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as refused:
        Settings(database_url="postgresql://u:not-to-be-printed@h/chat", jwt_secret="short-secret")
    assert explain(refused.value) == "JWT_SECRET is too short: an HS256 key needs at least 32 bytes"
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "JWT_SECRET" in explain(refused.value) and "JWT_JWKS_URL" in explain(refused.value)
    with pytest.raises(ValidationError) as refused:
        Settings(jwt_jwks_url="https://todo.example/api/auth/jwks", jwt_jwks_cooldown=0)
    assert explain(refused.value) == "JWT_JWKS_COOLDOWN: Input should be greater than 0"
    assert Settings(jwt_secret="", jwt_jwks_url="https://todo.example/api/auth/jwks").jwt_secret is None


# make run's tokens

def devtoken(*args: str, **variables: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.devtoken", *args], cwd=ROOT, env=service_env(**variables),
                          capture_output=True, text=True, timeout=60, check=False)


def test_devtoken_signs_for_the_secret_and_refuses_with_a_key_set():
    user = uuid.uuid4()
    made = devtoken(str(user), "dev@example.com", JWT_SECRET=JWT_SECRET, JWT_ISSUER=ISSUER)
    assert made.returncode == 0, made.stderr
    payload = jwt.decode(made.stdout.strip(), JWT_SECRET, algorithms=["HS256"], issuer=ISSUER)
    assert (payload["sub"], payload["email"]) == (str(user), "dev@example.com")

    refused = devtoken(str(user), JWT_JWKS_URL="https://todo.example/api/auth/jwks")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("devtoken: JWT_JWKS_URL is set"), refused.stderr

    unconfigured = devtoken(str(user))
    assert unconfigured.returncode == 1 and unconfigured.stdout == ""
    assert "JWT_SECRET" in unconfigured.stderr and "Traceback" not in unconfigured.stderr


# an application of its own that uses current_user, as the README shows

async def test_current_user_serves_an_application_that_builds_no_verifier(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", JWT_SECRET)
    for name in ("JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    verifier_from_environment.cache_clear()
    try:
        app = FastAPI()

        @app.get("/me")
        async def me(user: Annotated[User, Depends(current_user)]):
            return {"id": str(user.id)}

        user = uuid.uuid4()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
            response = await client.get("/me", headers=bearer(secret_token(claims(user))))
            assert response.json() == {"id": str(user)}
            assert_unauthorized(await client.get("/me", headers=bearer(jwt.encode(claims(user), "x" * 40))),
                                "invalid token")
        assert isinstance(verifier_from_environment(), TokenVerifier)
    finally:
        get_settings.cache_clear()
        verifier_from_environment.cache_clear()
