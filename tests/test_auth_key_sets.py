"""Bearer tokens that nobody can forge: tokens of an identity provider's key
set (JWKS), served over HTTP on 127.0.0.1.

Proves: RS256, ES256 and EdDSA tokens of the key set are accepted and name
their user; a rotated key set is picked up without a restart; only the key's
own algorithm is accepted (HS256 "signed" with a public key, ``alg: none``,
another algorithm with the same key, a symmetric key in the set are all
refused); ``iss`` is required and checked when JWT_ISSUER is set, in both
modes (JWT_SECRET too); tokens with made-up kids fetch the key set at most
once per cooldown; a key set that cannot be fetched is 503 with Retry-After,
retried no more often, and the fetch never blocks the event loop.
(The configuration the service starts with: test_auth_settings.py.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from app.settings import Settings
from http_api import assert_unauthorized
from ports import free_port
from serving import serve
from tokens import ISSUER, JWT_SECRET, b64, b64json, bearer, claims, secret_token, signed

# Long enough that no test waits it out: whatever a test does, the key set is fetched once.
LONG_COOLDOWN = 60.0
# Short enough to wait out.
SHORT_COOLDOWN = 0.5


# helpers: tokens

def hand_made(header: dict, payload: dict, signature: bytes = b"") -> str:
    """A token put together by hand, whatever its header claims."""
    return f"{b64json(header)}.{b64json(payload)}.{b64(signature)}"


def hs256(header: dict, payload: dict, secret: bytes) -> str:
    """A token signed with HMAC-SHA256 and ``secret``, whatever that secret is (PyJWT refuses a PEM key)."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def with_header(token: str, header: dict) -> str:
    """The token with its header replaced, its payload and signature kept."""
    _, payload, signature = token.split(".")
    return f"{b64json(header)}.{payload}.{signature}"


@dataclass
class SigningKey:
    """A private key of the identity provider, and the public JWK its key set publishes."""

    kid: str
    algorithm: str
    private: object
    publish_alg: bool = True  # some providers leave "alg" out: the key type and curve say it

    def jwk(self) -> dict:
        public = get_default_algorithms()[self.algorithm].to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", **({"alg": self.algorithm} if self.publish_alg else {})}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, payload: dict, algorithm: str | None = None, **header) -> str:
        return signed(payload, self.private, algorithm or self.algorithm, **{"kid": self.kid, **header})


def new_key(algorithm: str, kid: str | None = None, **options) -> SigningKey:
    private = {"RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
               "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
               "EdDSA": ed25519.Ed25519PrivateKey.generate}[algorithm]()
    return SigningKey(kid or f"{algorithm.lower()}-{uuid.uuid4().hex[:8]}", algorithm, private, **options)


@pytest.fixture(scope="session")
def keys() -> dict[str, SigningKey]:
    """The provider's keys, one of each algorithm (the EC key published without "alg")."""
    return {"RS256": new_key("RS256"), "ES256": new_key("ES256", publish_alg=False), "EdDSA": new_key("EdDSA")}


@pytest.fixture(scope="session")
def attacker_keys() -> dict[str, SigningKey]:
    """Keys of nobody the service trusts."""
    return {"RS256": new_key("RS256"), "ES256": new_key("ES256"), "EdDSA": new_key("EdDSA")}


# the identity provider's key set, served over HTTP on 127.0.0.1

class KeySetServer:
    """A JWKS endpoint in a thread of this process: serves ``keys`` as they are at each request (or fails with
    HTTP ``failing``, or serves ``body`` as it is); counts the requests in ``hits``. Held (``hold``), it answers
    only once ``released`` is set, as a slow provider would, and says when a request has ``arrived``; it gives up
    waiting after ``HOLD_SECONDS`` (``gave_up``), so that a test never hangs."""

    HOLD_SECONDS = 10

    def __init__(self):
        self.keys: list[dict] = []
        self.failing: int | None = None
        self.body: bytes | None = None
        self.held = False
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.gave_up = False
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.hits += 1
                if owner.held:
                    owner.arrived.set()
                    owner.gave_up = not owner.released.wait(owner.HOLD_SECONDS)
                if owner.failing is not None:
                    self.send_error(owner.failing)
                    return
                body = owner.body if owner.body is not None else json.dumps({"keys": owner.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/api/auth/jwks"

    def publish(self, *keys: SigningKey) -> None:
        self.keys = [key.jwk() for key in keys]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def key_server(keys) -> KeySetServer:
    server = KeySetServer()
    server.publish(*keys.values())
    yield server
    server.stop()


@pytest.fixture
def jwks_settings(settings, key_server) -> Settings:
    """The test's database, tokens verified against the key server's set (and nothing from the environment)."""
    return Settings(database_url=settings.database_url, jwt_secret=None, jwt_jwks_url=key_server.url,
                    jwt_issuer=None, jwt_audience=None, jwt_jwks_cooldown=LONG_COOLDOWN,
                    pool_min_size=1, pool_max_size=5, pool_timeout=10)


@pytest.fixture
async def jwks_api(jwks_settings):
    async with serve(jwks_settings) as client:
        yield client


def stored_users(db) -> list[uuid.UUID]:
    return [row[0] for row in db.execute("select id from chat.users").fetchall()]


def assert_key_set_unavailable(response: httpx.Response, cooldown: float) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"detail": "cannot fetch the signing keys; try again"}
    assert 1 <= int(response.headers["retry-after"]) <= max(1, round(cooldown + 0.5))


# the key set: tokens of the identity provider

@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_a_token_of_each_key_of_the_set_is_accepted_for_its_user(jwks_api, key_server, keys, db, algorithm):
    user = uuid.uuid4()
    headers = bearer(keys[algorithm].sign(claims(user, email="ada@example.com")))
    listed = await jwks_api.get("/api/conversations", headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "next_cursor": None}
    exported = await jwks_api.get("/api/me/export", headers=headers)
    assert exported.status_code == 200, exported.text
    assert exported.json()["user"]["id"] == str(user)
    assert exported.json()["user"]["email"] == "ada@example.com"
    assert stored_users(db) == [user]
    assert key_server.hits == 1  # fetched once, then cached


async def test_the_key_set_is_fetched_once_for_all_its_keys_and_users(jwks_api, key_server, keys):
    tokens = [key.sign(claims(uuid.uuid4())) for key in keys.values() for _ in range(5)]
    answers = await asyncio.gather(*(jwks_api.get("/api/conversations", headers=bearer(token)) for token in tokens))
    assert [answer.status_code for answer in answers] == [200] * len(tokens)
    assert key_server.hits == 1


async def test_a_rotated_key_set_is_picked_up_without_a_restart(jwks_settings, key_server, keys):
    old, new = keys["EdDSA"], new_key("EdDSA")
    key_server.publish(old)
    async with serve(jwks_settings, jwt_jwks_cooldown=SHORT_COOLDOWN) as api:
        user = uuid.uuid4()
        assert (await api.get("/api/conversations", headers=bearer(old.sign(claims(user))))).status_code == 200
        assert key_server.hits == 1

        key_server.publish(new)  # the provider rotates: a new kid published, the old one withdrawn
        # until the set is refetched, the cached one holds
        assert (await api.get("/api/conversations", headers=bearer(old.sign(claims(user))))).status_code == 200
        assert key_server.hits == 1

        await asyncio.sleep(SHORT_COOLDOWN)
        # the new kid refetches the set
        assert (await api.get("/api/conversations", headers=bearer(new.sign(claims(user))))).status_code == 200
        assert key_server.hits == 2
        # and the withdrawn key is no longer accepted
        assert_unauthorized(await api.get("/api/conversations", headers=bearer(old.sign(claims(user)))),
                            "invalid token: unknown kid")
        assert key_server.hits == 2


def made_up_kid_tokens(attacker_keys, count: int) -> list[str]:
    return [attacker_keys["RS256"].sign(claims(uuid.uuid4()), kid=uuid.uuid4().hex) for _ in range(count)]


async def test_made_up_kids_do_not_refetch_the_key_set_within_the_cooldown(jwks_api, key_server, keys,
                                                                           attacker_keys, db):
    assert (await jwks_api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(uuid.uuid4()))))
            ).status_code == 200
    forged = made_up_kid_tokens(attacker_keys, 100)
    answers = await asyncio.gather(*(jwks_api.get("/api/conversations", headers=bearer(token)) for token in forged))
    for answer in answers:
        assert_unauthorized(answer, "invalid token: unknown kid")
    assert key_server.hits == 1
    assert len(stored_users(db)) == 1


async def test_made_up_kids_refetch_the_key_set_at_most_once_per_cooldown(jwks_settings, key_server, keys,
                                                                          attacker_keys):
    async with serve(jwks_settings, jwt_jwks_cooldown=SHORT_COOLDOWN) as api:
        assert (await api.get("/api/conversations", headers=bearer(keys["ES256"].sign(claims(uuid.uuid4()))))
                ).status_code == 200
        await asyncio.sleep(SHORT_COOLDOWN)
        started = time.monotonic()
        for _ in range(3):  # bursts of concurrent requests, one after the other
            forged = made_up_kid_tokens(attacker_keys, 40)
            answers = await asyncio.gather(*(api.get("/api/conversations", headers=bearer(token))
                                             for token in forged))
            for answer in answers:
                assert_unauthorized(answer, "invalid token: unknown kid")
        elapsed = time.monotonic() - started
        # the first made-up kid after the cooldown refetched the set; then at most one fetch per cooldown
        assert 2 <= key_server.hits <= 2 + int(elapsed / SHORT_COOLDOWN), (key_server.hits, elapsed)
        # and the provider's keys still work
        assert (await api.get("/api/conversations", headers=bearer(keys["EdDSA"].sign(claims(uuid.uuid4()))))
                ).status_code == 200


# only the key's own algorithm, only RS256, ES256 and EdDSA

SYMMETRIC_SECRET = b"a-symmetric-key-the-provider-should-never-publish"
SYMMETRIC_JWK = {"kty": "oct", "kid": "shared", "use": "sig", "alg": "HS256", "k": b64(SYMMETRIC_SECRET)}


def spliced(k, a, user) -> str:
    """A token of the Ed25519 key, with the signature of another of its tokens."""
    head = k["EdDSA"].sign(claims(user)).rsplit(".", 1)[0]
    return f"{head}.{k['EdDSA'].sign(claims(uuid.uuid4())).rsplit('.', 1)[1]}"


# name: (token(keys, attacker_keys, user), the 401's detail)
REFUSED_TOKENS = {
    "HS256 signed with the RSA public key PEM": (
        lambda k, a, user: hs256({"alg": "HS256", "typ": "JWT", "kid": k["RS256"].kid}, claims(user),
                                 k["RS256"].public_pem()), "invalid token"),
    "HS256 signed with the EC public key PEM": (
        lambda k, a, user: hs256({"alg": "HS256", "typ": "JWT", "kid": k["ES256"].kid}, claims(user),
                                 k["ES256"].public_pem()), "invalid token"),
    "HS256 signed with the RSA JWK as text": (
        lambda k, a, user: hs256({"alg": "HS256", "typ": "JWT", "kid": k["RS256"].kid}, claims(user),
                                 json.dumps(k["RS256"].jwk()).encode()), "invalid token"),
    "HS256 with a symmetric key the set holds": (
        lambda k, a, user: hs256({"alg": "HS256", "typ": "JWT", "kid": "shared"}, claims(user), SYMMETRIC_SECRET),
        "invalid token: the key's algorithm is not accepted"),
    "HS256 with the service's test secret": (
        lambda k, a, user: jwt.encode(claims(user), JWT_SECRET, algorithm="HS256"), "invalid token: no kid"),
    "alg none with a kid of the set": (
        lambda k, a, user: hand_made({"alg": "none", "typ": "JWT", "kid": k["RS256"].kid}, claims(user)),
        "invalid token"),
    "alg none without kid": (
        lambda k, a, user: hand_made({"alg": "none", "typ": "JWT"}, claims(user)), "invalid token: no kid"),
    "RS512 by the RSA key itself": (lambda k, a, user: k["RS256"].sign(claims(user), "RS512"), "invalid token"),
    "PS256 by the RSA key itself": (lambda k, a, user: k["RS256"].sign(claims(user), "PS256"), "invalid token"),
    "RS256 token whose header says ES256": (
        lambda k, a, user: with_header(k["RS256"].sign(claims(user)),
                                       {"alg": "ES256", "typ": "JWT", "kid": k["RS256"].kid}), "invalid token"),
    "ES256 by another key, with the RSA key's kid": (
        lambda k, a, user: a["ES256"].sign(claims(user), kid=k["RS256"].kid), "invalid token"),
    "EdDSA by another key, with the EC key's kid": (
        lambda k, a, user: a["EdDSA"].sign(claims(user), kid=k["ES256"].kid), "invalid token"),
    "RS256 by another key, with the RSA key's kid": (
        lambda k, a, user: a["RS256"].sign(claims(user), kid=k["RS256"].kid), "invalid token"),
    "EdDSA with the signature of another token": (spliced, "invalid token"),
    "no kid": (lambda k, a, user: jwt.encode(claims(user), k["RS256"].private, algorithm="RS256"),
               "invalid token: no kid"),
    "unknown kid": (lambda k, a, user: a["RS256"].sign(claims(user)), "invalid token: unknown kid"),
    "expired beyond leeway": (
        lambda k, a, user: k["EdDSA"].sign(claims(user, exp=int(time.time()) - 60)), "token expired"),
    "exp missing": (lambda k, a, user: k["EdDSA"].sign(claims(user, exp=None)), "invalid token"),
    "nbf in the future beyond leeway": (
        lambda k, a, user: k["EdDSA"].sign(claims(user, nbf=int(time.time()) + 120)), "invalid token"),
    "sub missing": (lambda k, a, user: k["EdDSA"].sign(claims(user, sub=None)), "invalid token"),
    "sub not a uuid": (lambda k, a, user: k["EdDSA"].sign(claims(user, sub="ada")),
                       "invalid token: sub must be a uuid"),
    "malformed": (lambda k, a, user: "not-a-jwt", "invalid token"),
}


@pytest.mark.parametrize(("make_token", "detail"), REFUSED_TOKENS.values(), ids=REFUSED_TOKENS.keys())
async def test_a_bad_token_is_401_and_provisions_nobody(jwks_settings, key_server, keys, attacker_keys, db,
                                                       make_token, detail):
    key_server.keys = [*key_server.keys, SYMMETRIC_JWK]
    user = uuid.uuid4()
    async with serve(jwks_settings) as api:
        assert_unauthorized(await api.get("/api/conversations", headers=bearer(make_token(keys, attacker_keys, user))),
                            detail)
        # a good token of the same key set is welcome: the refusal is the token's, not the set's
        welcome = uuid.uuid4()
        assert (await api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(welcome))))
                ).status_code == 200
    assert stored_users(db) == [welcome]
    assert key_server.hits == 1


# the issuer and the audience

@pytest.mark.parametrize("mode", ["JWT_SECRET", "JWT_JWKS_URL"])
@pytest.mark.parametrize(("iss", "status"), [(ISSUER, 200), ("https://elsewhere.example", 401), (None, 401),
                                             ([ISSUER], 401), (ISSUER + "/", 401)],
                         ids=["right iss", "wrong iss", "no iss", "iss a list", "iss with a slash more"])
async def test_the_issuer_is_required_and_checked_when_configured(settings, jwks_settings, keys, mode, iss, status):
    sign = secret_token if mode == "JWT_SECRET" else keys["EdDSA"].sign
    async with serve(settings if mode == "JWT_SECRET" else jwks_settings, jwt_issuer=ISSUER) as api:
        response = await api.get("/api/conversations", headers=bearer(sign(claims(uuid.uuid4(), iss=iss))))
    assert response.status_code == status, response.text
    if status == 401:
        assert_unauthorized(response, "invalid token")


@pytest.mark.parametrize("mode", ["JWT_SECRET", "JWT_JWKS_URL"])
async def test_the_issuer_is_ignored_when_not_configured(api, jwks_api, keys, mode):
    sign = secret_token if mode == "JWT_SECRET" else keys["ES256"].sign
    client = api if mode == "JWT_SECRET" else jwks_api
    response = await client.get("/api/conversations", headers=bearer(sign(claims(uuid.uuid4(), iss="anyone"))))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("aud", "status"), [("chat", 200), (["todo", "chat"], 200), ("todo", 401), (None, 401)])
async def test_the_audience_is_checked_when_configured_with_a_key_set(jwks_settings, keys, aud, status):
    async with serve(jwks_settings, jwt_audience="chat") as api:
        response = await api.get("/api/conversations",
                                 headers=bearer(keys["RS256"].sign(claims(uuid.uuid4(), aud=aud))))
    assert response.status_code == status, response.text


# a key set that cannot be fetched: 503, retried at most once per cooldown

FAILURES = {
    "HTTP 500": {"failing": 500},
    "HTTP 404": {"failing": 404},
    "not JSON": {"body": b"<html>maintenance</html>"},
    "not a key set": {"body": b'["keys"]'},
    "no usable key": {"body": b'{"keys": [{"kty": "XYZ", "kid": "k"}]}'},
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_a_key_set_that_cannot_be_fetched_is_503_and_retried_after_the_cooldown(
        jwks_settings, key_server, keys, db, caplog, failure):
    for attribute, value in failure.items():
        setattr(key_server, attribute, value)
    async with serve(jwks_settings, jwt_jwks_cooldown=SHORT_COOLDOWN) as api:
        for _ in range(10):
            response = await api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(uuid.uuid4()))))
            assert_key_set_unavailable(response, SHORT_COOLDOWN)
        assert key_server.hits == 1  # not retried on every request
        assert any("cannot fetch the signing keys" in record.getMessage() for record in caplog.records)

        key_server.failing, key_server.body = None, None  # the provider is back
        await asyncio.sleep(SHORT_COOLDOWN)
        response = await api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(uuid.uuid4()))))
        assert response.status_code == 200, response.text
        assert key_server.hits == 2
    assert len(stored_users(db)) == 1


async def test_an_unreachable_key_set_is_503(jwks_settings, keys):
    async with serve(jwks_settings, jwt_jwks_url=f"http://127.0.0.1:{free_port()}/api/auth/jwks") as api:
        for _ in range(3):
            response = await api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(uuid.uuid4()))))
            assert_key_set_unavailable(response, LONG_COOLDOWN)


async def test_while_the_provider_is_down_the_cached_keys_still_work(jwks_settings, key_server, keys):
    rotated = new_key("ES256")
    async with serve(jwks_settings, jwt_jwks_cooldown=SHORT_COOLDOWN) as api:
        assert (await api.get("/api/conversations", headers=bearer(keys["RS256"].sign(claims(uuid.uuid4()))))
                ).status_code == 200
        key_server.failing = 503
        await asyncio.sleep(SHORT_COOLDOWN)
        # a known key: the cached set answers, nothing is fetched
        assert (await api.get("/api/conversations", headers=bearer(keys["EdDSA"].sign(claims(uuid.uuid4()))))
                ).status_code == 200
        assert key_server.hits == 1
        # an unknown kid may be a new key the provider cannot tell about: 503, not 401, and tried once
        for _ in range(5):
            assert_key_set_unavailable(
                await api.get("/api/conversations", headers=bearer(rotated.sign(claims(uuid.uuid4())))),
                SHORT_COOLDOWN)
        assert key_server.hits == 2
        # the provider is back, with the new key
        key_server.failing = None
        key_server.publish(*keys.values(), rotated)
        await asyncio.sleep(SHORT_COOLDOWN)
        assert (await api.get("/api/conversations", headers=bearer(rotated.sign(claims(uuid.uuid4()))))
                ).status_code == 200
        assert key_server.hits == 3


async def test_fetching_the_key_set_does_not_block_the_event_loop(jwks_api, key_server, keys):
    key_server.held = True  # a slow provider: the key set comes only when the test releases it
    waiting = asyncio.create_task(jwks_api.get("/api/conversations",
                                               headers=bearer(keys["RS256"].sign(claims(uuid.uuid4())))))
    await asyncio.to_thread(key_server.arrived.wait, KeySetServer.HOLD_SECONDS)  # the fetch is under way
    health = await jwks_api.get("/healthz")
    # answered while the fetch was still held: a fetch on the event loop would have held /healthz until the
    # key server gave up waiting
    assert (health.status_code, key_server.gave_up, waiting.done()) == (200, False, False)
    key_server.released.set()
    assert (await waiting).status_code == 200
    assert (key_server.hits, key_server.gave_up) == (1, False)
