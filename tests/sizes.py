"""Values of an exact size, for the tests at a limit."""

from __future__ import annotations

import json


def padded(size: int) -> dict:
    """A JSON object whose text form (as jsonb prints it) is exactly size bytes."""
    base = len(json.dumps({"k": ""}))
    return {"k": "x" * (size - base)}
