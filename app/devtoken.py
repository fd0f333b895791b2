"""Prints a bearer token for local development: ``.venv/bin/python -m app.devtoken [USER_ID [EMAIL]]``.

``make token`` runs it (``make token USER_ID=… EMAIL=…``). Without USER_ID, the token is the development
user's of ``make run`` (its id kept in ``$LOCAL_DIR/dev-user.id``, its email dev@example.com). Signed with
``JWT_SECRET`` (HS256, naming ``JWT_ISSUER`` and ``JWT_AUDIENCE`` when set), or when neither it nor
``JWT_JWKS_URL`` is set, with the key ``make run`` keeps in ``$LOCAL_DIR/jwt.secret`` (``LOCAL_DIR``: .local
unless set); valid for a day. Production tokens come from the identity provider, never from here; with
``JWT_JWKS_URL`` set, it refuses.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from uuid import UUID

from app.auth import issue_token
from app.settings import ConfigurationError, get_settings

DAY = 24 * 3600
USAGE = "usage: .venv/bin/python -m app.devtoken [USER_ID [EMAIL]]"
DEV_EMAIL = "dev@example.com"


class Refused(Exception):
    """What is wrong with the command line or the local files, in one line."""


def local_dir() -> Path:
    return Path(os.environ.get("LOCAL_DIR") or ".local")


def kept(name: str, missing: str) -> str:
    """A value that ``make run`` keeps in ``$LOCAL_DIR``; ``missing`` says what to do when it is not there."""
    path = local_dir() / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise Refused(missing.format(path=path)) from None


def development_user() -> UUID:
    try:
        return UUID(kept("dev-user.id", "no development user yet ({path}): make run makes one, or give USER_ID"))
    except ValueError:
        raise Refused(f"{local_dir() / 'dev-user.id'} holds no uuid") from None


def use_local_secret() -> None:
    """``JWT_SECRET`` from ``$LOCAL_DIR/jwt.secret``, unless the environment says how tokens are verified
    (the settings read names in any case)."""
    if not any(name.upper() in ("JWT_SECRET", "JWT_JWKS_URL") and value for name, value in os.environ.items()):
        os.environ["JWT_SECRET"] = kept("jwt.secret", "JWT_SECRET is not set, nor kept in {path}: make run keeps one "
                                                       "there")


def main(argv: list[str]) -> int:
    if len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    user_id = email = None
    if argv:
        try:
            user_id = UUID(argv[0])
        except ValueError:
            print(f"devtoken: USER_ID must be a uuid, not {argv[0]!r}", file=sys.stderr)
            return 2
        email = argv[1] if len(argv) == 2 else None
    try:
        if user_id is None:
            user_id, email = development_user(), DEV_EMAIL
        use_local_secret()
        print(issue_token(user_id, get_settings(), email=email, lifetime=DAY))
    except (Refused, ConfigurationError) as error:
        print(f"devtoken: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
