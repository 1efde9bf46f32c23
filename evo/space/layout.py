"""Compile a :class:`SearchSpace` into its genome layout and numeric tables for the kernels.

Gene order (G genes): stem (width, weight bits, act bits, prune); per stage ``s``: depth,
width, then per block ``b`` up to the largest depth: kernel, expansion, prune (hidden group),
expand/dw/project weight and act bits; head (width, weight bits, act bits, prune);
classifier (weight bits, act bits). A gene with one choice is fixed at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nasco.evo.errors import SpaceError
from nasco.evo.space.base import NetworkLayout
from nasco.evo.space.gene_builder import GeneBuilder
from nasco.evo.space.genome import decode, genome_costs
from nasco.evo.space.mobilenet import SearchSpace
from nasco.kernels.reference import costs_reference, decode_reference
from nasco.kernels.tables import (
    KIND_CONV,
    KIND_DEPTHWISE,
    KIND_LINEAR,
    N_SLOT_COLUMNS,
    S_ABITS_GENE,
    S_BLOCK_INDEX,
    S_BLOCK_START,
    S_CH_CONST,
    S_CH_GENE_A,
    S_CH_GENE_B,
    S_DEPTH_GENE,
    S_KERNEL_CONST,
    S_KERNEL_GENE,
    S_KIND,
    S_PRUNE_GENE,
    S_RESIDUAL,
    S_STRIDE,
    S_WBITS_GENE,
    CompiledSpace,
)

ROLES = ("stem", "expand", "depthwise", "project", "head", "classifier")


@dataclass(frozen=True)
class GenomeLayout(NetworkLayout):
    """A compiled space: gene names and choices, the slot program and its labels.

    Attributes:
        space: the source space.
        tables: numeric tables for the kernels.
        gene_names: (G,) e.g. ``"stages[1].blocks[0].kernel"``.
        gene_choices: (G,) the choice values of each gene.
        slot_names: (L,) layer names, e.g. ``"stages[1].blocks[0].depthwise"``.
        slot_roles: (L,) one of :data:`ROLES`.
    """

    space: SearchSpace
    tables: CompiledSpace
    gene_names: tuple[str, ...]
    gene_choices: tuple[tuple[float, ...], ...]
    slot_names: tuple[str, ...]
    slot_roles: tuple[str, ...]

    def exact_costs(self, genomes: np.ndarray) -> np.ndarray:
        return genome_costs(self, genomes)

    def decode(self, genome: np.ndarray):
        """The :class:`~nasco.evo.space.genome.LayerTable` of one genome."""
        return decode(self, genome)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Every weight layer a network of the space can have, in order (report maps)."""
        return self.slot_names

    def summary(self) -> str:
        return (f"input {list(self.space.input_shape)}  classes {self.space.num_classes}  "
                f"{len(self.slot_names)} layer slots")


class _Builder(GeneBuilder):
    def __init__(self, space: SearchSpace) -> None:
        super().__init__(space.fixed)
        self.space = space
        self.slots: list[list[int]] = []
        self.slot_names: list[str] = []
        self.slot_roles: list[str] = []

    def bits(self, prefix: str, weight_bits, act_bits, depth_gene: int = -1, block: int = -1) -> tuple[int, int]:
        c = self.space.compression
        return (self.gene(f"{prefix}.weight_bits", weight_bits or c.weight_bits, depth_gene, block),
                self.gene(f"{prefix}.act_bits", act_bits or c.act_bits, depth_gene, block))

    def slot(self, name: str, role: str, kind: int, *, stride: int = 1, kernel_gene: int = -1,
             kernel: int = 1, ch_a: int = -1, ch_b: int = -1, ch_const: int = 1, prune: int = -1,
             bits: tuple[int, int], depth_gene: int = -1, block: int = -1, residual: bool = False,
             block_start: bool = False) -> None:
        row = [0] * N_SLOT_COLUMNS
        row[S_KIND], row[S_STRIDE], row[S_KERNEL_GENE], row[S_KERNEL_CONST] = kind, stride, kernel_gene, kernel
        row[S_CH_GENE_A], row[S_CH_GENE_B], row[S_CH_CONST], row[S_PRUNE_GENE] = ch_a, ch_b, ch_const, prune
        row[S_WBITS_GENE], row[S_ABITS_GENE] = bits
        row[S_DEPTH_GENE], row[S_BLOCK_INDEX] = depth_gene, block
        row[S_RESIDUAL], row[S_BLOCK_START] = int(residual), int(block_start)
        self.slots.append(row)
        self.slot_names.append(name)
        self.slot_roles.append(role)

    def build(self) -> GenomeLayout:
        space, ratios = self.space, self.space.compression.prune_ratios
        stem = space.stem
        width_gene = self.gene("stem.width", stem.width)
        bits = self.bits("stem", stem.weight_bits, stem.act_bits)
        prune = self.gene("stem.prune", ratios)
        self.slot("stem", "stem", KIND_CONV, stride=stem.stride, kernel=stem.kernel, ch_a=width_gene,
                  prune=prune, bits=bits)
        for s, stage in enumerate(space.stages):
            p = f"stages[{s}]"
            depth = self.gene(f"{p}.depth", stage.depth)
            in_width, width_gene = width_gene, self.gene(f"{p}.width", stage.width)
            for b in range(max(stage.depth)):
                q = f"{p}.blocks[{b}]"
                kernel = self.gene(f"{q}.kernel", stage.kernel, depth, b)
                expansion = self.gene(f"{q}.expansion", stage.expansion, depth, b)
                prune = self.gene(f"{q}.prune", ratios, depth, b)
                common = dict(depth_gene=depth, block=b, residual=b > 0)
                self.slot(f"{q}.expand", "expand", KIND_CONV, ch_a=in_width if b == 0 else width_gene,
                          ch_b=expansion, prune=prune, bits=self.bits(f"{q}.expand", None, None, depth, b),
                          block_start=True, **common)
                self.slot(f"{q}.depthwise", "depthwise", KIND_DEPTHWISE, stride=stage.stride if b == 0 else 1,
                          kernel_gene=kernel, bits=self.bits(f"{q}.depthwise", None, None, depth, b), **common)
                self.slot(f"{q}.project", "project", KIND_CONV, ch_a=width_gene,
                          bits=self.bits(f"{q}.project", None, None, depth, b), **common)
        head = space.head
        width_gene = self.gene("head.width", head.width)
        bits = self.bits("head", head.weight_bits, head.act_bits)
        prune = self.gene("head.prune", ratios)
        self.slot("head", "head", KIND_CONV, ch_a=width_gene, prune=prune, bits=bits)
        bits = self.bits("classifier", head.classifier_weight_bits, head.classifier_act_bits)
        self.slot("classifier", "classifier", KIND_LINEAR, ch_const=space.num_classes, bits=bits)
        self.check_fixed_used()
        return self._finish()

    def _finish(self) -> GenomeLayout:
        values, counts, active = self.gene_tables()
        tables = CompiledSpace(gene_values=values, gene_n=counts, gene_active=active,
                               slots=np.array(self.slots, dtype=np.int64),
                               input_chw=np.array(self.space.input_shape, dtype=np.int64))
        for array in tables:
            array.setflags(write=False)
        return GenomeLayout(space=self.space, tables=tables, gene_names=self.gene_names(),
                            gene_choices=self.gene_choices(), slot_names=tuple(self.slot_names),
                            slot_roles=tuple(self.slot_roles))


@lru_cache(maxsize=64)
def compile_space(space: SearchSpace) -> GenomeLayout:
    """The genome layout and numeric tables of ``space`` (cached per space).

    Raises:
        SpaceError: the largest network's costs do not fit the kernels' int64 counts.
    """
    if not isinstance(space, SearchSpace):
        raise SpaceError(f"space kind {getattr(space, 'kind', type(space).__name__)!r}: compile_space builds the "
                         "mobilenet kind; use nasco.evo.space.compile_any for any kind")
    layout = _Builder(space).build()
    _check_cost_range(layout)
    return layout


def _check_cost_range(layout: GenomeLayout) -> None:
    """Refuse a space whose largest network (every gene at its largest choice, nothing pruned, float
    bits) has a cost beyond int64, where the Numba kernels would silently wrap around."""
    largest = np.array([0 if name.endswith(".prune") else len(choices) - 1
                        for name, choices in zip(layout.gene_names, layout.gene_choices, strict=True)], np.int64)
    costs = costs_reference(decode_reference(layout.tables, largest))
    over = {name: value for name, value in costs.items() if value > np.iinfo(np.int64).max}
    if over:
        c, h, w = layout.space.input_shape
        raise SpaceError(f"input {c}x{h}x{w}: the space's largest network has "
                         f"{', '.join(f'{k} = {v:.3g}' for k, v in over.items())}, beyond the int64 range of exact "
                         "costs (9.22e18); allowed: a smaller input or a narrower space")
