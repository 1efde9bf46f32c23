"""Latency look-up tables: per-layer profiling on the target device, prediction, checks."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "LatencyError": "table", "LatencyTable": "table",
})
