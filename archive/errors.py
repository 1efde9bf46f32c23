"""The archive's exception (the archive layer imports nothing else of nasco)."""

from __future__ import annotations


class ArchiveError(ValueError):
    """An archive file, record or operation is invalid; the message says which and why."""
