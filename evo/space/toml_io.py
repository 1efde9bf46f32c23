"""Search spaces to and from TOML (and plain dicts), with errors that name the field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from nasco.evo.errors import SpaceError
from nasco.evo.space.kinds import space_kind
from nasco.evo.space.mobilenet import mobilenet_from_dict

__all__ = ["dump_space", "load_space", "mobilenet_from_dict", "save_space", "space_from_dict"]


def space_from_dict(data: dict) -> Any:
    """Build and validate a space of any kind from a nested dict (as read from TOML or JSON);
    ``kind`` picks the space kind (default ``mobilenet``)."""
    kind = data.get("kind", "mobilenet") if isinstance(data, dict) else "mobilenet"
    if not isinstance(kind, str):
        raise SpaceError(f"kind: {kind!r} is not allowed; allowed: the name of a space kind")
    return space_kind(kind).from_dict(data)


def load_space(path: str | Path) -> Any:
    """Read a space from a TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpaceError(f"space file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise SpaceError(f"space file {str(path)!r} is not valid TOML: {err}") from None
    return space_from_dict(data)


def dump_space(space: Any) -> str:
    """The space as TOML text; ``space_from_dict(tomllib.loads(text)) == space``."""
    return tomli_w.dumps(space.to_dict())


def save_space(space: Any, path: str | Path) -> None:
    """Write the space to a TOML file."""
    Path(path).write_text(dump_space(space), encoding="utf-8")
