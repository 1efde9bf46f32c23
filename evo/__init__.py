"""nasco's search layer: space kinds, training, campaigns, results and the command line (docs/ARCHITECTURE.md §2).

The public names of every subpackage are re-exported here and loaded on first use (PEP 562),
so ``from nasco.evo import run_campaign`` works and light commands never import torch.
"""

from nasco.evo.lazy import lazy_exports

_SUBPACKAGES = ("space", "train", "latency", "search", "results")
_EXPORTS = {"GenomeError": "errors", "NascoError": "errors", "SpaceError": "errors", "EntryError": "registry",
            "Registry": "registry", "load_entry": "registry"}
for _sub in _SUBPACKAGES:
    _module = __import__(f"nasco.evo.{_sub}", fromlist=["__all__"])
    _EXPORTS.update({name: f"{_sub}" for name in _module.__all__})

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
