"""Search spaces to and from TOML (and plain dicts), with errors that name the field."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import tomli_w

from nasco.evo.errors import SpaceError
from nasco.evo.space.base import space_kind
from nasco.evo.space.mobilenet import CompressionSpec, HeadSpec, SearchSpace, StageSpec, StemSpec


def _section(where: str, data: object, cls: type, *, required: tuple[str, ...] = ()) -> dict:
    allowed = [f.name for f in fields(cls)]
    if not isinstance(data, dict):
        raise SpaceError(f"{where}: {data!r} is not allowed; allowed: a table with keys {allowed}")
    for key in data:
        if key not in allowed:
            raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {allowed}")
    for key in required:
        if key not in data:
            raise SpaceError(f"{where}: missing key {key!r}; required keys: {list(required)}")
    list_fields = {f.name for f in fields(cls) if str(f.type).startswith("tuple") and f.name != "fixed"}
    out = {}
    for key, value in data.items():
        if key in list_fields and key != "stages":
            if not isinstance(value, list):
                raise SpaceError(f"{where}.{key}: {value!r} is a {type(value).__name__}; allowed: a list")
            value = tuple(value)
        out[key] = value
    return out


def space_from_dict(data: dict) -> Any:
    """Build and validate a space of any kind from a nested dict (as read from TOML or JSON);
    ``kind`` picks the space kind (default ``mobilenet``)."""
    kind = data.get("kind", "mobilenet") if isinstance(data, dict) else "mobilenet"
    if not isinstance(kind, str):
        raise SpaceError(f"kind: {kind!r} is not allowed; allowed: the name of a space kind")
    return space_kind(kind).from_dict(data)


def mobilenet_from_dict(data: dict) -> SearchSpace:
    """Build and validate a ``mobilenet`` space from a nested dict."""
    top = _section("space", data, SearchSpace, required=("input_shape", "num_classes", "stages"))
    stages_data = top.get("stages")
    if not isinstance(stages_data, list):
        raise SpaceError(f"stages: {stages_data!r} is not allowed; allowed: an array of [[stages]] tables")
    stages = []
    for i, stage in enumerate(stages_data):
        where = f"stages[{i}]"
        kwargs = _section(where, stage, StageSpec, required=("stride", "depth", "width"))
        try:
            stages.append(StageSpec(**kwargs))
        except SpaceError as err:
            raise SpaceError(str(err).replace("stage.", f"{where}.", 1)) from None
    top["stages"] = tuple(stages)
    if "fixed" in top:
        if not isinstance(top["fixed"], dict):
            raise SpaceError(f"fixed: {top['fixed']!r} is not allowed; allowed: a table of gene name = value")
        top["fixed"] = tuple(sorted(top["fixed"].items()))
    for key, cls in (("stem", StemSpec), ("head", HeadSpec), ("compression", CompressionSpec)):
        if key in top:
            top[key] = cls(**_section(key, top[key], cls))
    return SearchSpace(**top)


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
