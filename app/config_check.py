"""Whether the service can start with this environment's configuration: ``python -m app.config_check``.

Reads the settings and makes the responder ``RESPONDER`` names, as the service does when it starts, and
says nothing when both are sound. Otherwise it prints what is wrong in one line (``cannot start: …``) and
exits 1, so that ``make run`` can stop before it starts a database or prints a banner for a service that
would not run.
"""

from __future__ import annotations

import sys

from app.chat import load_responder
from app.settings import ConfigurationError, get_settings


def main() -> int:
    try:
        load_responder(get_settings().responder)
    except ConfigurationError as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
