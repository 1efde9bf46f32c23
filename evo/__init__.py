"""Search spaces, genomes, the torch network builder and the command line (DESIGN.md §2).

Names are loaded on first use (PEP 562), so light commands (``nasco front``, ``nasco space``)
do not pay for importing torch.
"""

from importlib import import_module

_EXPORTS = {
    "build_model": "builder", "default_space": "default_space", "GenomeError": "errors", "NascoError": "errors",
    "SpaceError": "errors", "load_model": "export", "LayerTable": "genome", "canonicalize": "genome",
    "decode": "genome", "genome_costs": "genome", "genome_hash": "genome", "sample_genomes": "genome",
    "space_size": "genome", "GenomeLayout": "layout", "compile_space": "layout", "CompressionSpec": "space",
    "HeadSpec": "space", "SearchSpace": "space", "StageSpec": "space", "StemSpec": "space",
    "dump_space": "space_io", "load_space": "space_io", "save_space": "space_io", "space_from_dict": "space_io",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nasco.evo' has no attribute {name!r}")
    value = getattr(import_module(f"nasco.evo.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
