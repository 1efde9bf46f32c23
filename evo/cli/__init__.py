"""The ``nasco`` command line: one thin module per command over the library."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {"main": "main"})
