"""Lazy package exports (PEP 562): a name's module is imported on first use.

Subpackage ``__init__`` modules list their public names with the module that defines each;
``from nasco.evo.search import Campaign`` then imports only what it needs, so light commands
(``nasco front``, ``nasco space``) never pay for importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[list[str], Callable[[str], Any], Callable[[], list]]:
    """(``__all__``, ``__getattr__``, ``__dir__``) for ``package`` from ``{name: module under package}``."""
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(f"{package}.{exports[name]}")
        value = getattr(module, name)
        vars(import_module(package))[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
