"""The database's estimate of a message's tokens, as tests expect it (``chat_private.estimated_tokens``;
``tests/test_context.py`` holds this to it): ceil(characters / 4) + 4, of the larger of the content and the
metadata as JSON text (none when it is empty)."""

from __future__ import annotations


def estimate(content: str, metadata_text: str | None = None) -> int:
    """``metadata_text``: the metadata as PostgreSQL prints jsonb (``metadata::text``), None when it is {}."""
    return (max(len(content), len(metadata_text or "")) + 3) // 4 + 4

