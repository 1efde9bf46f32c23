"""Genomes: fixed-length integer vectors, one gene per choice (docs/ARCHITECTURE.md §3).

Functions take a :class:`GenomeLayout` (from :func:`compile_space`) and genomes as int
arrays, shape (G,) for one or (N, G) for a batch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from nasco.archive.record import genome_key
from nasco.evo.errors import GenomeError
from nasco.evo.space.mobilenet import SearchSpace
from nasco.kernels.cost import batch_costs
from nasco.kernels.reference import decode_reference
from nasco.kernels.tables import COST_NAMES, KIND_NAMES, L_SLOT, LAYER_COLUMNS

if TYPE_CHECKING:  # annotations only: layout imports this module
    from nasco.evo.space.layout import GenomeLayout


def as_genomes(layout: GenomeLayout, genomes: Sequence | np.ndarray) -> np.ndarray:
    """Validate genomes and return them as int64 (N, G) (:meth:`SpaceLayout.as_genomes`).

    Raises:
        GenomeError: wrong dimensionality or length, a non-integer value, or a gene out of
            its bounds (the message names the gene, its value and the allowed range).
    """
    return layout.as_genomes(genomes)


def active_mask(layout: GenomeLayout, genomes: np.ndarray) -> np.ndarray:
    """Boolean (N, G): which genes influence each network (others are inactive)."""
    genomes = as_genomes(layout, genomes)
    t = layout.tables
    depth_gene, block_index = t.gene_active[:, 0], t.gene_active[:, 1]
    has_depth = depth_gene >= 0
    safe = np.where(has_depth, depth_gene, 0)
    depth_values = t.gene_values[safe, genomes[:, safe]]
    return ~has_depth | (depth_values > block_index)


def canonicalize(layout: GenomeLayout, genomes: np.ndarray) -> np.ndarray:
    """Zero every inactive gene; int64, same shape as the input. Idempotent."""
    single = np.asarray(genomes).ndim == 1
    array = as_genomes(layout, genomes)
    out = np.where(active_mask(layout, array), array, 0)
    return out[0] if single else out


def genome_hash(layout: GenomeLayout, genome: np.ndarray) -> str:
    """Stable 16-hex-digit hash of (space id, canonical genome); equal for the same network."""
    return genome_key(layout.space.space_id, canonicalize(layout, np.asarray(genome).reshape(-1)))


def sample_genomes(layout: GenomeLayout, rng: np.random.Generator, n: int, *, canonical: bool = True) -> np.ndarray:
    """``n`` genomes drawn uniformly per gene, int64 (n, G); canonical unless asked otherwise."""
    genomes = rng.integers(0, layout.upper_bounds, size=(n, layout.n_genes), dtype=np.int64)
    return canonicalize(layout, genomes) if canonical else genomes


COMPRESSION_FIELDS = ("prune", "weight_bits", "act_bits")


def gene_field(name: str) -> str:
    """What a gene chooses, from its name: ``"stages[1].blocks[0].weight_bits"`` → ``"weight_bits"``
    (``prune``, ``weight_bits`` and ``act_bits`` are compression; the rest architecture)."""
    return name.rsplit(".", 1)[1]


def fixed_genome(layout: GenomeLayout, *, arch: str = "mid", weight_bits: int = 32, act_bits: int = 32,
                 prune: float = 0.0) -> np.ndarray:
    """A genome with every architecture gene at its ``"min"``, ``"mid"`` or ``"max"`` choice and
    every bits/prune gene at the given value (or the nearest choice a layer allows)."""
    if arch not in ("min", "mid", "max"):
        raise GenomeError(f"arch: {arch!r} is not allowed; allowed: min, mid, max")
    genome = np.zeros(layout.n_genes, dtype=np.int64)
    for g, (name, choices) in enumerate(zip(layout.gene_names, layout.gene_choices, strict=True)):
        field = gene_field(name)
        target = {"weight_bits": weight_bits, "act_bits": act_bits, "prune": prune}.get(field)
        if target is not None:
            genome[g] = int(np.argmin([abs(c - target) for c in choices]))
        else:
            genome[g] = {"min": 0, "mid": (len(choices) - 1) // 2, "max": len(choices) - 1}[arch]
    return canonicalize(layout, genome)


def largest_genome(layout: GenomeLayout) -> np.ndarray:
    """Every architecture gene at its largest choice, float bits (or the most a layer allows), nothing pruned."""
    return fixed_genome(layout, arch="max", weight_bits=32, act_bits=32, prune=0.0)


def genome_costs(layout: GenomeLayout, genomes: np.ndarray) -> np.ndarray:
    """Exact costs of validated genomes, int64 (N, 5), columns ``COST_NAMES``."""
    return batch_costs(layout.tables, as_genomes(layout, genomes))


def parse_genome(text: str) -> np.ndarray:
    """A genome from text: integers separated by commas and/or spaces (brackets allowed)."""
    cleaned = text.replace("[", " ").replace("]", " ").replace(",", " ").split()
    try:
        values = [int(v) for v in cleaned]
    except ValueError:
        raise GenomeError(f"genome {text!r}: allowed: integers separated by commas or spaces") from None
    huge = [v for v in values if not -(2**63) <= v < 2**63]
    if huge:
        raise GenomeError(f"genome: gene value {huge[0]} is out of range; allowed: small integers (choice indices)")
    return np.array(values, dtype=np.int64)


def space_size(layout: GenomeLayout) -> int:
    """Number of distinct canonical genomes (distinct networks) of the space."""
    choices = layout.upper_bounds
    by_block: dict[tuple[int, int], int] = {}
    total = 1
    for g, (depth_gene, block) in enumerate(layout.tables.gene_active):
        if depth_gene < 0:
            continue
        by_block[(int(depth_gene), int(block))] = by_block.get((int(depth_gene), int(block)), 1) * int(choices[g])
    depth_genes = {d for d, _ in by_block}
    for g in range(layout.n_genes):
        if layout.tables.gene_active[g, 0] >= 0:
            continue
        if g not in depth_genes:
            total *= int(choices[g])
            continue
        stage_total = 0
        for depth in layout.gene_choices[g]:
            stage_total += math.prod(by_block[(g, b)] for b in range(int(depth)))
        total *= stage_total
    return total


@dataclass(frozen=True)
class LayerTable:
    """The decoded network of one genome: int64 array (n_layers, len(columns)) + labels; ``columns``
    names the array's columns (``LAYER_COLUMNS`` for the image kind)."""

    array: np.ndarray
    names: tuple[str, ...]
    roles: tuple[str, ...]
    columns: ClassVar[tuple[str, ...]] = LAYER_COLUMNS

    def column(self, name: str) -> np.ndarray:
        """One column by name (see ``columns``)."""
        return self.array[:, self.columns.index(name)]

    def rows(self) -> list[dict[str, int | str]]:
        """One dict per layer: name, role and every column."""
        return [dict(name=n, role=r, **dict(zip(self.columns, map(int, row), strict=True)))
                for n, r, row in zip(self.names, self.roles, self.array, strict=True)]

    def display(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """(headers, rows of text) of the layer table as nasco prints it: channels, kept channels, kernel and
        stride, feature map, bits and prune ratio per layer."""
        headers = ("layer", "kind", "channels", "kept", "k/s", "in→out", "w/a bits", "pruned")
        return headers, [(str(r["name"]), KIND_NAMES[int(r["kind"])], f"{r['c_in']}→{r['c_out']}",
                          f"{r['kept_c_in']}→{r['kept_c_out']}", f"{r['kernel']}/{r['stride']}",
                          f"{r['h_in']}x{r['w_in']}→{r['h_out']}x{r['w_out']}", f"{r['w_bits']}/{r['a_bits']}",
                          f"{1 - r['kept_c_out'] / r['c_out']:.2f}") for r in self.rows()]


def decode(layout: GenomeLayout, genome: np.ndarray) -> LayerTable:
    """Decode one genome (G,) into its :class:`LayerTable` (validated first)."""
    genomes = as_genomes(layout, genome)
    if genomes.shape[0] != 1:
        raise GenomeError(f"decode: expects one genome, got {genomes.shape[0]}")
    array = decode_reference(layout.tables, genomes[0])
    slots = array[:, L_SLOT]
    return LayerTable(
        array=array,
        names=tuple(layout.slot_names[s] for s in slots),
        roles=tuple(layout.slot_roles[s] for s in slots),
    )


def costs_dict(layout: GenomeLayout, genome: np.ndarray) -> dict[str, int]:
    """Costs of one genome by name."""
    return dict(zip(COST_NAMES, map(int, genome_costs(layout, genome)[0]), strict=True))


def pin_architecture(layout: GenomeLayout, genome: np.ndarray) -> SearchSpace:
    """The space with every architecture gene pinned (``fixed``) to ``genome``'s choice: searching it
    searches only the compression (prune ratios, bit-widths) of that one network."""
    genome = as_genomes(layout, genome)[0]
    pins = {name: choices[int(g)] for name, choices, g in zip(layout.gene_names, layout.gene_choices, genome,
                                                              strict=True)
            if gene_field(name) not in COMPRESSION_FIELDS}
    pins.update(layout.space.fixed)
    return dataclasses.replace(layout.space, fixed=tuple(sorted(pins.items())))
