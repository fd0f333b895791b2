"""Whom an operation acts for: ``User``.

``app.auth`` makes one from a bearer token; every call of the store (``app.store``) takes one, acts as
that user in its transaction, and, for a token's user, has the database check the token against a
deletion of the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class User:
    """Whom an operation acts for: the token's subject, its email claim if any, and for a token the earliest
    time it may have been issued (``app.auth``), which every operation has the database check against a deletion
    of the account (``chat.check_token``). A user made in code, with no token, has none: it is not checked, and
    not provisioned again once deleted."""

    id: UUID
    email: str | None = None
    issued_at: datetime | None = None
