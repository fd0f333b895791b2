"""Prints a bearer token for local development: ``python -m app.devtoken USER_ID [EMAIL]``.

Signed with ``JWT_SECRET`` (HS256, naming ``JWT_ISSUER`` and ``JWT_AUDIENCE``
when set), valid for a day. Production tokens come from the identity
provider, never from here; with ``JWT_JWKS_URL`` set, it refuses.
"""

from __future__ import annotations

import sys
from uuid import UUID

from app.auth import issue_token
from app.settings import ConfigurationError, get_settings

DAY = 24 * 3600


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    email = argv[1] if len(argv) == 2 else None
    try:
        print(issue_token(UUID(argv[0]), get_settings(), email=email, lifetime=DAY))
    except ConfigurationError as error:
        print(f"devtoken: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
