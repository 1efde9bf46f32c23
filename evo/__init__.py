"""Search spaces, genomes, the torch network builder and the command line (DESIGN.md §2)."""

from nasco.evo.builder import build_model
from nasco.evo.default_space import default_space
from nasco.evo.errors import GenomeError, NascoError, SpaceError
from nasco.evo.export import load_model
from nasco.evo.genome import (
    LayerTable,
    canonicalize,
    decode,
    genome_costs,
    genome_hash,
    sample_genomes,
    space_size,
)
from nasco.evo.layout import GenomeLayout, compile_space
from nasco.evo.space import CompressionSpec, HeadSpec, SearchSpace, StageSpec, StemSpec
from nasco.evo.space_io import dump_space, load_space, save_space, space_from_dict

__all__ = [
    "CompressionSpec", "GenomeError", "GenomeLayout", "HeadSpec", "LayerTable", "NascoError",
    "SearchSpace", "SpaceError", "StageSpec", "StemSpec", "build_model", "canonicalize",
    "compile_space", "decode", "default_space", "dump_space", "genome_costs", "genome_hash",
    "load_model", "load_space", "sample_genomes", "save_space", "space_from_dict", "space_size",
]
