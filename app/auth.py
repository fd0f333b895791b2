"""Bearer tokens: HS256 JWTs whose ``sub`` is the user's uuid.

The algorithm is pinned (``none`` and every other are refused), ``exp`` is
required, ``nbf`` honoured, 30 seconds of leeway at most, and ``aud`` checked
when ``JWT_AUDIENCE`` is set. Anything else is 401.
"""

from __future__ import annotations

import time
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.settings import Settings, get_settings
from app.store import User

ALGORITHM = "HS256"
LEEWAY_SECONDS = 30

bearer = HTTPBearer(auto_error=False, description="HS256 JWT; sub = the user's uuid, exp required")


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def decode_token(token: str, settings: Settings) -> User:
    """The user a token names, or 401."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token expired") from None
    except jwt.InvalidTokenError:
        raise unauthorized("invalid token") from None
    try:
        user_id = UUID(claims["sub"])
    except (TypeError, ValueError, AttributeError):
        raise unauthorized("invalid token: sub must be a uuid") from None
    email = claims.get("email")
    return User(user_id, email if isinstance(email, str) else None)


def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    settings: Annotated[Settings, Depends(get_settings)],
) -> User:
    if credentials is None:
        raise unauthorized("missing bearer token")
    return decode_token(credentials.credentials, settings)


def issue_token(user_id: UUID, settings: Settings, *, email: str | None = None, lifetime: int = 3600) -> str:
    """A token for ``user_id``: for development and tests (production tokens come from the identity provider)."""
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    if email is not None:
        claims["email"] = email
    if settings.jwt_audience is not None:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)
