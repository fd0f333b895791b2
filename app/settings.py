"""Configuration, from the environment (names are case-insensitive).

The defaults suit the local development database that ``make run`` starts;
in production set at least ``DATABASE_URL`` and ``JWT_SECRET``.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_parse_none_str="none", extra="ignore")

    # The runtime login (granted chat_app, never the owner). May be a
    # transaction-mode pooler such as Neon's pooled endpoint.
    database_url: str = "postgresql://chat_api@127.0.0.1:54329/chat"

    # HS256 key of the bearer tokens, and the audience they must name (if set).
    jwt_secret: SecretStr = SecretStr("local-development-secret-not-for-production")
    jwt_audience: str | None = None

    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    # How long a request waits for a free connection before it gets 503.
    pool_timeout: float = Field(5.0, gt=0)
    # Bounds every statement; set per transaction, so that it also holds
    # behind a pooler that ignores startup parameters.
    statement_timeout_ms: int = Field(5000, ge=0)
    # psycopg prepares a statement after this many executions; "none" turns
    # prepared statements off, as PgBouncer before 1.21 (transaction mode) needs.
    prepare_threshold: int | None = Field(5, ge=0)


@lru_cache
def get_settings() -> Settings:
    return Settings()
