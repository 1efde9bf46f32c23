"""Search-space kinds: declaration, TOML, compile to a genome layout, genome operations (docs/ARCHITECTURE.md §2–§3)."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "CompressionSpec": "mobilenet", "HeadSpec": "mobilenet", "SearchSpace": "mobilenet", "StageSpec": "mobilenet",
    "StemSpec": "mobilenet", "default_space": "default", "dump_space": "toml_io", "load_space": "toml_io",
    "save_space": "toml_io", "space_from_dict": "toml_io", "GenomeLayout": "layout", "compile_space": "layout",
    "LayerTable": "genome", "as_genomes": "genome", "canonicalize": "genome", "decode": "genome",
    "fixed_genome": "genome", "genome_costs": "genome", "genome_hash": "genome", "parse_genome": "genome",
    "sample_genomes": "genome", "space_size": "genome", "feature_names": "features", "genome_features": "features",
    "SpaceKind": "base", "SpaceLayout": "base", "register_space_kind": "kinds", "space_kind": "kinds",
    "space_kinds": "kinds", "SPACE_KINDS": "kinds", "GenesSpace": "genes", "GenesLayout": "genes",
    "compile_any": "kinds",
    "SequenceSpace": "sequence", "SequenceStageSpec": "sequence", "default_sequence_space": "sequence",
    "SequenceLayout": "sequence_layout", "compile_sequence": "sequence_layout",
})
