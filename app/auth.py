"""Bearer tokens: JWTs whose ``sub`` is the user's uuid.

They are verified one of two ways, as the settings say: HS256 with
``JWT_SECRET``, or RS256, ES256 or EdDSA against the identity provider's key
set at ``JWT_JWKS_URL``, with the key the token's ``kid`` names and that
key's own algorithm only (whatever else the header says, including ``none``
and HS256 "signed" with a public key, is refused). ``exp`` and ``sub`` are
required, ``nbf`` honoured, 30 seconds of leeway at most; ``iss`` is required
and checked when ``JWT_ISSUER`` is set, ``aud`` when ``JWT_AUDIENCE`` is.
A token may live ``JWT_MAX_AGE`` at most (from its ``iat``, or from now), and
one issued before its account was deleted is refused by the database
(``chat.check_token``) with 401. Anything else is 401. A key set that cannot be fetched is 503: the client did
nothing wrong.

The key set is fetched when first needed and kept for ``KEY_SET_MAX_AGE``; a
``kid`` it lacks refetches it (a rotation), but whatever the tokens say, the
key set is fetched at most once per ``JWT_JWKS_COOLDOWN`` seconds, so that
tokens with made-up kids cannot make the service hammer the provider. The
fetch is blocking I/O: it runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated
from uuid import UUID

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWK, PyJWKClient, PyJWKSet

from app.identity import User
from app.settings import ConfigurationError, Settings, get_settings

logger = logging.getLogger("app.auth")

SECRET_ALGORITHM = "HS256"
# What a key of the key set may sign with: the algorithms of the identity providers a todo app uses
# (Better Auth: EdDSA; Clerk, Auth0: RS256; Supabase: ES256). Never a symmetric one.
KEY_SET_ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
LEEWAY_SECONDS = 30
# How long a fetched key set is trusted: a key removed from it stops being accepted this long after, at the latest.
KEY_SET_MAX_AGE = 300
KEY_SET_TIMEOUT_SECONDS = 5

bearer = HTTPBearer(auto_error=False, description="JWT: HS256 with JWT_SECRET, or RS256, ES256 or EdDSA from the "
                                                  "key set at JWT_JWKS_URL; sub = the user's uuid, exp required")


def unauthorized(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=reason, headers={"WWW-Authenticate": "Bearer"})


class KeySetUnavailable(Exception):
    """The key set could not be fetched or read (the cause is chained), or was not retried yet after that."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class SharedSecret:
    """HS256 with ``JWT_SECRET``: one key, one algorithm."""

    def __init__(self, secret: str):
        self.secret = secret

    async def key_for(self, token: str) -> tuple[str, str]:
        return self.secret, SECRET_ALGORITHM


class KeySetClient(PyJWKClient):
    """PyJWKClient that fetches the key set at most once per ``cooldown`` seconds, successful or not, and turns
    every way a fetch can fail into ``KeySetUnavailable``. Its calls block: run them in a thread."""

    def __init__(self, url: str, cooldown: float):
        super().__init__(url, cache_jwk_set=True, lifespan=max(KEY_SET_MAX_AGE, cooldown),
                         timeout=KEY_SET_TIMEOUT_SECONDS, headers={"User-Agent": "chat-persistence"})
        self.cooldown = cooldown
        self.last_fetch: float | None = None  # time.monotonic() of the last attempt
        self.last_fetch_failed = False
        self.lock = threading.Lock()

    def may_fetch(self) -> bool:
        return self.last_fetch is None or time.monotonic() - self.last_fetch >= self.cooldown

    def retry_after(self) -> int:
        """Seconds until the next fetch may be tried (at least 1)."""
        waited = 0.0 if self.last_fetch is None else time.monotonic() - self.last_fetch
        return max(1, math.ceil(self.cooldown - waited))

    def fetch_data(self):
        if not self.may_fetch():
            raise KeySetUnavailable("the last fetch failed; not retried yet", self.retry_after())
        self.last_fetch = time.monotonic()
        try:
            data = super().fetch_data()  # also parses the keys, into the cache
        except Exception as error:  # a connection refused, an HTTP error, text that is not a key set: all the same
            self.last_fetch_failed = True
            logger.warning("cannot fetch the signing keys from %s: %s", self.uri, error)
            raise KeySetUnavailable(f"cannot fetch the signing keys: {error}", self.retry_after()) from error
        self.last_fetch_failed = False
        return data

    def signing_key(self, kid: str) -> PyJWK | None:
        """The key named ``kid``: from the cached key set while it is fresh, else from a fetched one; the key set
        refetched once when it lacks ``kid``, unless it was fetched less than ``cooldown`` seconds ago."""
        with self.lock:
            key = signing_key_in(self.get_jwk_set(), kid)
            if key is None:
                if self.may_fetch():
                    key = signing_key_in(self.get_jwk_set(refresh=True), kid)
                elif self.last_fetch_failed:
                    # the set we hold may be outdated, and the provider is failing: we cannot say the kid is unknown
                    raise KeySetUnavailable("the last fetch failed; not retried yet", self.retry_after())
            return key

    def cached_signing_key(self, kid: str) -> PyJWK | None:
        """The key named ``kid`` in the cached key set, if it is fresh and has it: no I/O, fit for the event loop."""
        jwk_set = self.jwk_set_cache.get() if self.jwk_set_cache is not None else None
        return None if jwk_set is None else signing_key_in(jwk_set, kid)


def signing_key_in(jwk_set: PyJWKSet, kid: str) -> PyJWK | None:
    """The signing key named ``kid`` (a key meant for encryption is none)."""
    return next((key for key in jwk_set.keys if key.key_id == kid and key.public_key_use in ("sig", None)), None)


class KeySet:
    """The identity provider's public keys, at ``JWT_JWKS_URL``."""

    def __init__(self, url: str, cooldown: float):
        self.client = KeySetClient(url, cooldown)
        # One lookup that may fetch at a time: the others wait here, not each in a thread of its own.
        self.fetching = asyncio.Lock()

    async def key_for(self, token: str) -> tuple[PyJWK, str]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise unauthorized("invalid token") from None
        if kid is None:
            raise unauthorized("invalid token: no kid")
        key = self.client.cached_signing_key(kid)
        if key is None:
            async with self.fetching:
                try:
                    key = await asyncio.to_thread(self.client.signing_key, kid)
                except KeySetUnavailable as error:
                    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                                        detail="cannot fetch the signing keys; try again",
                                        headers={"Retry-After": str(error.retry_after)}) from None
        if key is None:
            raise unauthorized("invalid token: unknown kid")
        if key.algorithm_name not in KEY_SET_ALGORITHMS:
            raise unauthorized("invalid token: the key's algorithm is not accepted")
        return key, key.algorithm_name


class TokenVerifier:
    """Checks bearer tokens as the settings say. Built once, at startup, and kept in ``app.state.tokens``."""

    def __init__(self, keys: SharedSecret | KeySet, *, issuer: str | None = None, audience: str | None = None,
                 max_age: int = 86_400):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.max_age = max_age

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        if settings.jwt_jwks_url is not None:
            keys = KeySet(settings.jwt_jwks_url, settings.jwt_jwks_cooldown)
        else:
            keys = SharedSecret(settings.jwt_secret.get_secret_value())
        return cls(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience, max_age=settings.jwt_max_age)

    async def user(self, token: str) -> User:
        """The user a token names, or 401 (503 when the key set cannot be fetched)."""
        key, algorithm = await self.keys.key_for(token)
        required = ["exp", "sub"] + (["iss"] if self.issuer is not None else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],  # the key's own, whatever the header says
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("token expired") from None
        except jwt.PyJWTError:
            raise unauthorized("invalid token") from None
        try:
            user_id = UUID(claims["sub"])
        except (TypeError, ValueError, AttributeError):
            raise unauthorized("invalid token: sub must be a uuid") from None
        # PyJWT has checked that iat, when there is one, is a number and not in the future
        issued = claims.get("iat")
        if claims["exp"] - (time.time() if issued is None else issued) > self.max_age + LEEWAY_SECONDS:
            raise unauthorized(f"invalid token: it lives longer than JWT_MAX_AGE ({self.max_age} s)")
        email = claims.get("email")
        return User(user_id, email if isinstance(email, str) else None, issued_at=earliest_issue(claims, self.max_age))


def earliest_issue(claims: dict, max_age: int) -> datetime:
    """The earliest time, by the database's clock, that a token may have been issued: its iat less the clocks'
    drift, or without iat, the earliest its exp allows. The database refuses it when its account was deleted at
    or after that time, so that a token that may predate a deletion never acts."""
    issued = claims.get("iat")
    return datetime.fromtimestamp((claims["exp"] - max_age if issued is None else issued) - LEEWAY_SECONDS, UTC)


def token_verifier(request: Request) -> TokenVerifier:
    """The application's verifier (``create_app`` builds it at startup); for an application that builds none,
    one made from the environment on first use."""
    verifier = getattr(request.app.state, "tokens", None)
    return verifier if verifier is not None else verifier_from_environment()


@lru_cache
def verifier_from_environment() -> TokenVerifier:
    return TokenVerifier.from_settings(get_settings())


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    tokens: Annotated[TokenVerifier, Depends(token_verifier)],
) -> User:
    if credentials is None:
        raise unauthorized("missing bearer token")
    return await tokens.user(credentials.credentials)


def issue_token(user_id: UUID, settings: Settings, *, email: str | None = None, lifetime: int = 3600) -> str:
    """A token for ``user_id``: for development and tests (production tokens come from the identity provider).
    HS256 with ``JWT_SECRET`` only: with ``JWT_JWKS_URL`` set, the provider holds the signing keys."""
    if settings.jwt_secret is None:
        raise ConfigurationError("JWT_JWKS_URL is set: tokens come from the identity provider, which holds the "
                                 "signing keys; only tokens for JWT_SECRET (HS256) can be made here")
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime}
    if email is not None:
        claims["email"] = email
    if settings.jwt_issuer is not None:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience is not None:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=SECRET_ALGORITHM)
