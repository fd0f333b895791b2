"""Bearer tokens as the tests make them: the secret the suite's service
verifies HS256 tokens with, a valid payload for a user, a token of any payload
as it is, the Authorization header that carries a token, and base64url as JWTs
write it (no padding)."""

from __future__ import annotations

import base64
import json
import time

import jwt

# The service's JWT_SECRET in the tests (conftest's settings).
JWT_SECRET = "test-secret-of-at-least-thirty-two-bytes"
# The issuer a test configures (JWT_ISSUER) when it checks iss.
ISSUER = "https://todo.example"


def claims(user, **changes) -> dict:
    """A valid payload for ``user``, issued now and expiring in 5 minutes; a change to None drops that claim."""
    now = int(time.time())
    payload = {"sub": str(user), "iat": now, "exp": now + 300, **changes}
    return {k: v for k, v in payload.items() if v is not None}


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that carries ``token``."""
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    """base64url without padding, as a JWT's segments (and the API's cursors) are written."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64json(data: dict) -> str:
    """``data`` as JSON, in base64url: a JWT's header or payload segment."""
    return b64(json.dumps(data).encode())


def signed(payload: dict, key, algorithm: str, **header) -> str:
    """A token of ``payload`` as it is (PyJWT's jwt.encode refuses some claims a forger may send, as a list for iss)."""
    return jwt.api_jws.encode(json.dumps(payload).encode(), key, algorithm=algorithm, headers=header or None)


def secret_token(payload: dict) -> str:
    """A token of ``payload`` as it is, signed HS256 with the suite's JWT_SECRET."""
    return signed(payload, JWT_SECRET, "HS256")
