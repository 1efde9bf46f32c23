"""Registries of named kinds — evaluators, executors, space kinds — all in one style.

A :class:`Registry` maps a kind's name to its entry (a factory, a class or an instance; built-ins as
``"package.module:attribute"`` strings imported on first use, so that validating a config imports no
torch). A name a config gives is looked up, in order, among

1. the registered names (built-ins and ``register``),
2. the installed packages' entry points of the registry's group (``nasco.evaluators``,
   ``nasco.executors``, ``nasco.space_kinds``): a plugin declares
   ``[project.entry-points."nasco.evaluators"] bowl = "mypackage.bowl:factory"`` in its
   ``pyproject.toml``, and ``kind = "bowl"`` works in every process where it is installed,
3. an import path ``"package.module:attribute"`` written in the config itself.

Everything else is a :class:`~nasco.evo.errors.NascoError` naming the field, the name and the allowed ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from nasco.evo.errors import NascoError

T = TypeVar("T")


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


def instance_of(base: type, field: str, error: type[NascoError] = NascoError) -> Callable[[Any, str], Any]:
    """A registry ``check`` for entries that are ``base`` instances: a loaded subclass of ``base`` is
    instantiated, anything else but an instance is refused naming ``field`` and the base class."""

    def check(obj: Any, name: str) -> Any:
        entry = obj() if isinstance(obj, type) and issubclass(obj, base) else obj
        if not isinstance(entry, base):
            raise error(f"{field} = {name!r} names {type(entry).__name__}; allowed: a {base.__name__} (instance or "
                        f"class, {base.__module__}.{base.__qualname__})")
        return entry

    return check


class Registry(Generic[T]):
    """Named entries of one kind of plugin (see the module docstring for the lookup order).

    Args:
        field: the config field that names a kind (``"evaluator.kind"``), used in errors.
        group: the entry-point group plugins declare (``"nasco.evaluators"``).
        builtins: name → entry or ``"package.module:attribute"``.
        check: turns a loaded object into the entry (e.g. instantiates a class, checks its type); raises
            :class:`NascoError` naming ``field`` otherwise. Identity by default.
        error: the :class:`NascoError` subclass an unknown name raises.
    """

    def __init__(self, field: str, group: str, builtins: dict[str, T | str],
                 check: Callable[[Any, str], T] | None = None, error: type[NascoError] = NascoError) -> None:
        self.field, self.group, self.error = field, group, error
        self.builtins = tuple(builtins)
        self._entries: dict[str, T | str] = dict(builtins)
        self._loaded: dict[str, T] = {}  # name → the entry its import path gave, checked
        self._check = check or (lambda obj, name: obj)

    def register(self, name: str, entry: T | str) -> None:
        """Make ``name`` mean ``entry`` (an object or an import path), replacing an earlier one."""
        if not name:
            raise NascoError(f"{self.field}: a registered kind needs a non-empty name")
        self._entries[name] = entry
        self._loaded.pop(name, None)

    def registered(self, name: str) -> bool:
        """True when ``name`` is registered in this process (no entry-point scan)."""
        return name in self._entries

    def names(self) -> list[str]:
        """Registered and installed (entry-point) names, sorted."""
        return sorted({*self._entries, *(ep.name for ep in entry_points(group=self.group))})

    def allows(self, name: str) -> bool:
        """True when ``name`` is registered, installed, or has the form of an import path (checked on use)."""
        return name in self._entries or is_entry(name) or name in self.names()

    def allowed(self) -> str:
        """The allowed values, for error messages."""
        return f"{', '.join(self.names())}, or a plugin's 'package.module:attribute'"

    def get(self, name: str) -> T:
        """The entry of ``name`` (imported and checked on first use, then kept).

        Raises:
            NascoError: ``name`` is none of the allowed values, or its entry cannot be loaded or is not one.
        """
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            installed = [ep for ep in entry_points(group=self.group) if ep.name == name]
            if installed:
                entry = installed[0].value
            elif is_entry(name):
                entry = name
            else:
                raise self.error(f"{self.field} = {name!r} is not allowed; allowed: {self.allowed()}")
        if not isinstance(entry, str):
            return entry
        self._loaded[name] = self._check(load_entry(entry, self.field), name)
        return self._loaded[name]
