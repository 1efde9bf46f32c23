"""``"package.module:attribute"`` entries: how configs name user code (evaluators, cost functions)."""

from __future__ import annotations

import importlib
from typing import Any

from nasco.evo.errors import NascoError


class EntryError(NascoError, ValueError):
    """An entry string is malformed, or its module or attribute cannot be imported."""


def is_entry(text: str) -> bool:
    """True when ``text`` has the form of an entry (``"package.module:attribute"``)."""
    module_name, sep, attribute = text.partition(":")
    return bool(sep and module_name and attribute)


def load_entry(entry: str, where: str) -> Any:
    """The object ``entry`` names (``"package.module:callable"``, dots after the colon allowed).

    Raises:
        EntryError: naming ``where`` (the config field), the entry and why it failed.
    """
    if not is_entry(entry):
        raise EntryError(f"{where}: {entry!r} is not allowed; allowed: 'package.module:callable'")
    module_name, _, attribute = entry.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as err:
        raise EntryError(f"{where}: cannot import module {module_name!r} of {entry!r} "
                         f"({type(err).__name__}: {err})") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise EntryError(f"{where}: module {module_name!r} has no attribute {attribute!r} ({entry!r})")
        obj = getattr(obj, part)
    return obj
