"""Project exceptions. Each names the field, the bad value and what is allowed."""

from __future__ import annotations


class NascoError(Exception):
    """Base of every error nasco raises on purpose."""


class SpaceError(NascoError, ValueError):
    """A search space (TOML or dataclass) is invalid, or cannot serve an input shape."""


class GenomeError(NascoError, ValueError):
    """A genome has the wrong length, dtype or an out-of-bounds gene."""
