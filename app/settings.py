"""Configuration, from the environment (names are case-insensitive).

The defaults suit the local development database that ``make run`` starts;
in production set at least ``DATABASE_URL``. Tokens are verified one way,
and there is no default for it: ``JWT_SECRET`` (an HS256 key of at least 32
bytes) or ``JWT_JWKS_URL`` (the identity provider's key set), exactly one of
them. Every construction of ``Settings`` checks that.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.models import MAX_TOKENS

# The least length of an HS256 key, in UTF-8 bytes: as many as the hash has (RFC 7518, 3.2).
MIN_SECRET_BYTES = 32
# How long a chat turn's claim outlasts RESPONDER_TIMEOUT, in seconds: the time to store the reply, and
# the clocks' drift between the instance and the database. chat.begin_turn takes a lease of a day at most.
TURN_LEASE_GRACE = 30.0
MAX_TURN_LEASE = 86_400.0
# The chat turn's history, in tokens (CONTEXT_TOKENS), sized for the Agents SDK's default model, gpt-5.6-luna
# (AGENT_MODEL chooses another). Its window holds 1,050,000 tokens, 128,000 of them output at most; but a request
# of more than 272,000 input tokens is billed at twice the price, all of it, so a request stays under that. A
# request holds more than the history: the instructions and the tools' schemas (about 1,000 tokens), and what the
# turn adds as it runs (each of up to AGENT_MAX_TURNS model calls reads the tool calls and outputs before it: a
# list of a hundred tasks is some 10,000 tokens). And the history is counted by the database's estimate where no
# writer gave a count: 4 characters a token, right for English, while Chinese or Japanese text takes up to a
# token a character, 4 times the estimate. 50,000 tokens of history are 200,000 at worst, which leaves room for
# the rest under 272,000; a reply of 128,000 fits the window beside them. A model call then reads some 50,000
# tokens of a long conversation ($0.01 at gpt-5.6-luna's $0.20 a million).
CONTEXT_TOKENS = 50_000


class ConfigurationError(Exception):
    """The environment does not configure a service that may start; the message names what is wrong."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_parse_none_str="none", extra="ignore")

    # The runtime login (granted chat_app, never the owner). May be a
    # transaction-mode pooler such as Neon's pooled endpoint.
    database_url: str = "postgresql://chat_api@127.0.0.1:54329/chat"
    # A read replica (a Neon read replica's endpoint, a streaming standby), as
    # the same runtime login; unset, every read goes to DATABASE_URL. The reads
    # of the HTTP API go there (lists, conversations, messages, search,
    # export); writes and the chat turn's history stay on the primary. A
    # replica more than READ_MAX_LAG seconds behind, or unreachable, is passed
    # over: the primary answers, and the log says so.
    database_read_url: str | None = None
    read_max_lag: float = Field(5.0, ge=0)
    # Live updates (GET /api/events): the connection that LISTENs for the
    # changes the database announces, one per instance, as the same runtime
    # login. It must reach PostgreSQL directly: a transaction-mode pooler
    # (PgBouncer, Neon's pooled endpoint) loses a LISTEN with its
    # transaction. Unset, DATABASE_URL; where that is a pooler, set this to
    # the direct endpoint, or /api/events answers 503 saying why.
    database_listen_url: str | None = None

    # How bearer tokens are verified, one of the two: the HS256 key they are
    # signed with, or the URL of the key set (JWKS) of the identity provider
    # that signs them with RS256, ES256 or EdDSA.
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    # The issuer (iss) and the audience (aud) tokens must name, when set.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # The least time between two fetches of the key set, in seconds: a token
    # naming a kid the cached set lacks refetches it at most this often.
    jwt_jwks_cooldown: float = Field(10.0, gt=0)
    # The longest a token may live, in seconds: from its iat to its exp (a
    # token without iat: from now to its exp). A longer-lived one is refused.
    # A deleted account's tombstone must outlast every token issued before the
    # deletion, and make purge forgets it after this long.
    jwt_max_age: int = Field(86_400, gt=0)

    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    # How long a request waits for a free connection before it gets 503.
    pool_timeout: float = Field(5.0, gt=0)
    # Bounds every statement; set per transaction, so that it also holds
    # behind a pooler that ignores startup parameters.
    statement_timeout_ms: int = Field(5000, ge=0)
    # Prepared statements: off ("none") unless a number says after how many
    # executions psycopg prepares a statement. Worth little here (BENCHMARKS.md),
    # and a transaction-mode pooler without prepared-statement support
    # (PgBouncer before 1.21) does not tell the client it is one: there a
    # statement could run as another client's of the same name. Turn them on
    # for a direct connection or a pooler that keeps them (PgBouncer 1.21+ with
    # max_prepared_statements, Neon's pooled endpoint); where the server then
    # refuses one, the store turns them off and logs it once.
    prepare_threshold: int | None = Field(None, ge=0)
    # What writes the assistant's replies in a chat turn: module:attribute, as
    # uvicorn names an app, naming a class or a factory called with no
    # argument; what it makes has ``async def reply(self, history) -> str``.
    responder: str = "app.chat:EchoResponder"
    # The most a responder may take to answer a turn, in seconds: past it the
    # turn fails (502) and a retry may run it again. A turn's claim in the
    # database lasts this and 30 s more: a retry that comes while it lasts
    # gets 409; after, the turn's process is taken for dead and the retry
    # runs it again.
    responder_timeout: float = Field(120.0, gt=0, le=MAX_TURN_LEASE - TURN_LEASE_GRACE)
    # How long shutdown waits for the chat turns in flight (a reply is stored
    # even when its client went away) before it cancels them; a cancelled turn
    # keeps its user message, and a retry runs it again.
    shutdown_timeout: float = Field(30.0, ge=0)
    # The chat turn's history, as a number of tokens (not of messages): the
    # responder, the agent of app.agent included, sees the newest messages
    # of the conversation whose token counts (the writer's, or the
    # database's estimate) add up to at most this, never starting with a
    # tool's output whose call is left out; the newest, the user's message,
    # always; a compaction summary standing in for the messages it covers
    # (chat.fetch_context), and at most 1,000 messages. Sized for the default
    # model (see CONTEXT_TOKENS above); set it for another one.
    context_tokens: int = Field(CONTEXT_TOKENS, ge=1, le=MAX_TOKENS)

    @field_validator("responder")
    @classmethod
    def module_and_attribute(cls, value: str) -> str:
        if not re.fullmatch(r"[\w.]+:[\w.]+", value):
            raise ValueError("must be module:attribute, as uvicorn names an app (app.chat:EchoResponder)")
        return value

    @field_validator("jwt_secret", "jwt_jwks_url", "jwt_issuer", "jwt_audience", "database_read_url",
                     "database_listen_url", mode="before")
    @classmethod
    def empty_is_unset(cls, value):
        """``JWT_SECRET=`` is no secret at all, not an empty one."""
        return None if value == "" else value

    @field_validator("jwt_jwks_url")
    @classmethod
    def fetchable(cls, url: str | None) -> str | None:
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValueError("must be an https:// (or http://) URL")
        return url

    @model_validator(mode="after")
    def one_way_to_verify_tokens(self) -> Settings:
        if self.jwt_secret is None and self.jwt_jwks_url is None:
            raise ValueError("set JWT_SECRET (an HS256 key of at least 32 bytes) or JWT_JWKS_URL (the identity "
                             "provider's key set): bearer tokens cannot be verified without one")
        if self.jwt_secret is not None and self.jwt_jwks_url is not None:
            raise ValueError("JWT_SECRET and JWT_JWKS_URL are both set: set one of them, not both")
        if self.jwt_secret is not None and len(self.jwt_secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"JWT_SECRET is too short: an HS256 key needs at least {MIN_SECRET_BYTES} bytes")
        return self


def explain(error: ValidationError) -> str:
    """What is wrong, one clause per error, naming the variables and never their values (a secret, or a
    password in DATABASE_URL, must not reach the logs)."""
    clauses = []
    for item in error.errors(include_url=False, include_input=False):
        message = item["msg"].removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"]).upper()
        clauses.append(f"{field}: {message}" if field else message)
    return "; ".join(clauses)


@lru_cache
def get_settings() -> Settings:
    """The settings from the environment, read once; ``ConfigurationError`` when they are wrong."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigurationError(explain(error)) from None
