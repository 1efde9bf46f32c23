"""Surrogate features of genomes: encoded genes plus exact costs (numeric matrices only).

Per gene with more than one choice, the ordinal position of the chosen value scaled to
[0, 1] (``"ordinal"``) or a one-hot of the choice (``"onehot"``); inactive genes (blocks
beyond a stage's depth) are all zeros. Then the exact costs from the kernels, in log scale:
log MACs, log params, log BitOps, log weight bits, log peak activation bits; and the mean,
minimum and maximum weight bit-width, activation bit-width and prune ratio over the active
layers/groups (one 2-bit layer can cost more accuracy than the mean shows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from nasco.evo.errors import GenomeError
from nasco.evo.space.genome import active_mask, as_genomes, gene_field
from nasco.kernels.encode import STATS, encode_genomes

if TYPE_CHECKING:  # annotations only: layout imports this module
    from nasco.evo.space.layout import GenomeLayout

ENCODINGS = ("ordinal", "onehot")
FIELD_CODES = {"weight_bits": 1, "act_bits": 2, "prune": 3}  # the means of kernels.encode


def feature_names(layout: GenomeLayout, encoding: str = "ordinal") -> list[str]:
    """Names of the columns :func:`genome_features` returns."""
    names = []
    for name, choices in zip(layout.gene_names, layout.gene_choices, strict=True):
        if len(choices) > 1:
            names += [name] if encoding == "ordinal" else [f"{name}={c:g}" for c in choices]
    summaries = [f"{stat}_{field}" for field in ("weight_bits", "act_bits", "prune") for stat in STATS]
    return [*names, "log_macs", "log_params", "log_bitops", "log_size_bits", "log_peak_act_bits", *summaries]


def genome_features(layout: GenomeLayout, genomes: np.ndarray, encoding: str = "ordinal") -> np.ndarray:
    """Feature matrix float64 (N, F) of genomes (N, G); see the module docstring."""
    if encoding not in ENCODINGS:
        raise GenomeError(f"encoding: {encoding!r} is not allowed; allowed: {list(ENCODINGS)}")
    genomes = as_genomes(layout, genomes)
    varying = np.flatnonzero(layout.upper_bounds > 1)
    field = np.array([FIELD_CODES.get(gene_field(n), 0) for n in layout.gene_names], dtype=np.int64)
    encoded = encode_genomes(layout.tables, genomes, varying, field)  # ordinal genes + 9 summaries
    genes, summaries = encoded[:, : len(varying)], encoded[:, len(varying):]
    if encoding == "onehot":
        active = active_mask(layout, genomes)
        n_choices = layout.upper_bounds
        genes = np.concatenate([(genomes[:, [g]] == np.arange(n_choices[g])[None, :]) & active[:, [g]]
                                for g in varying], axis=1).astype(np.float64)
    costs = np.log(layout.costs(genomes))  # the kind's exact costs
    return np.column_stack([genes, costs, summaries])
