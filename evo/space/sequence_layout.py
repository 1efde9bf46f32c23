"""Compile a :class:`~nasco.evo.space.sequence.SequenceSpace` into its genome layout and kernel tables.

Gene order (G genes): ``embedding.vocab``, ``embedding.width``, ``embedding.weight_bits``; per
stage ``s``: ``stages[s].depth``, then per block ``b`` up to the largest depth — conv blocks:
``kernel``, ``expansion``, ``prune``, ``expand``/``depthwise``/``project`` weight and act bits;
attention blocks: ``heads``, ``head_width``, ``ffn_expansion``, ``attention.prune`` (whole
heads), ``ffn.prune``, ``qkv`` weight and act bits, ``attention.act_bits`` (both matmuls'
operands), ``out``, ``ffn_up``, ``ffn_down`` weight and act bits; ``classifier.weight_bits``,
``classifier.act_bits``. A gene with one choice is fixed at 0; genes of blocks beyond a stage's
depth are inactive (zero in the canonical form), as in the image kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from nasco.evo.errors import GenomeError, SpaceError
from nasco.evo.space.base import NetworkLayout, SpaceKind
from nasco.evo.space.gene_builder import GeneBuilder
from nasco.evo.space.genome import LayerTable, largest_genome
from nasco.evo.space.sequence import SequenceSpace, default_sequence_space, sequence_from_dict
from nasco.kernels.sequence_cost import (
    B_ARCH_A,
    B_ARCH_B,
    B_ARCH_C,
    B_BITS,
    B_DEPTH_GENE,
    B_INDEX,
    B_PRUNE_A,
    B_PRUNE_B,
    B_TYPE,
    BLOCK_ATTENTION,
    BLOCK_CONV,
    LAYER_DEPTHWISE,
    LAYER_EMBEDDING,
    LAYER_KIND_NAMES,
    LAYER_LINEAR,
    N_BLOCK_COLUMNS,
    N_TOP,
    SEQUENCE_LAYER_COLUMNS,
    T_CLASSES,
    T_CLS_ABITS_GENE,
    T_CLS_WBITS_GENE,
    T_EMBED_WBITS_GENE,
    T_LENGTH,
    T_VOCAB_GENE,
    T_VOCAB_SIZE,
    T_WIDTH_GENE,
    CompiledSequence,
    decode_sequence,
    sequence_costs,
    sequence_costs_reference,
)

CONV_LAYERS = ("expand", "depthwise", "project")
ATTENTION_BITS = (("qkv", "weight_bits"), ("qkv", "act_bits"), ("attention", "act_bits"), ("out", "weight_bits"),
                  ("out", "act_bits"), ("ffn_up", "weight_bits"), ("ffn_up", "act_bits"),
                  ("ffn_down", "weight_bits"), ("ffn_down", "act_bits"))


@dataclass(frozen=True)
class SequenceTable(LayerTable):
    """The decoded network of one genome: int64 (L, len(SEQUENCE_LAYER_COLUMNS)), layer names and roles."""

    columns: ClassVar[tuple[str, ...]] = SEQUENCE_LAYER_COLUMNS

    def display(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """(headers, rows of text): features, kept features, depthwise kernels and kept attention heads,
        positions, bits and prune ratio per layer."""
        rows = []
        for r in self.rows():
            kind = LAYER_KIND_NAMES[int(r["kind"])]
            shape = {"depthwise": f"k{r['kernel']}", "matmul": f"{r['heads']} head(s)"}.get(kind, "")
            bits = {"norm": "–", "embedding": f"{r['w_bits']}/–"}.get(kind, f"{r['w_bits']}/{r['a_bits']}")
            rows.append((str(r["name"]), kind, f"{r['c_in']}→{r['c_out']}", f"{r['kept_c_in']}→{r['kept_c_out']}",
                         shape, str(r["positions"]), bits, f"{1 - r['kept_c_out'] / max(r['c_out'], 1):.2f}"))
        return ("layer", "kind", "features", "kept", "kernel/heads", "positions", "w/a bits", "pruned"), rows


@dataclass(frozen=True)
class SequenceLayout(NetworkLayout):
    """A compiled sequence space: gene names and choices, kernel tables, block names."""

    space: SequenceSpace
    tables: CompiledSequence
    gene_names: tuple[str, ...]
    gene_choices: tuple[tuple[float, ...], ...]
    block_names: tuple[str, ...]  # (B,) e.g. "stages[1].blocks[0]"

    def exact_costs(self, genomes: np.ndarray) -> np.ndarray:
        return sequence_costs(self.tables, self.as_genomes(genomes))

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Every weight layer (embedding, linear, depthwise) a network of the space can have, in order."""
        table = self.decode(largest_genome(self))
        return tuple(name for name, kind in zip(table.names, table.column("kind"), strict=True)
                     if kind in (LAYER_EMBEDDING, LAYER_LINEAR, LAYER_DEPTHWISE))

    def summary(self) -> str:
        s = self.space
        return (f"kind sequence  max_length {s.max_length}  vocab_size {s.vocab_size}  classes {s.num_classes}  "
                f"{len(self.block_names)} block slots")

    def decode(self, genome: np.ndarray) -> SequenceTable:
        """The layer table of one genome (validated first)."""
        genomes = self.as_genomes(genome)
        if genomes.shape[0] != 1:
            raise GenomeError(f"decode: expects one genome, got {genomes.shape[0]}")
        array, labels = decode_sequence(self.tables, genomes[0])
        names = tuple(f"{self.block_names[b]}.{role}" if b >= 0 else role for b, role in labels)
        return SequenceTable(array, names, tuple(role for _, role in labels))


class _Builder(GeneBuilder):
    def __init__(self, space: SequenceSpace) -> None:
        super().__init__(space.fixed)
        self.space = space

    def build(self) -> SequenceLayout:
        space, c = self.space, self.space.compression
        top = np.zeros(N_TOP, dtype=np.int64)
        top[T_VOCAB_GENE] = self.gene("embedding.vocab", space.vocab_choices)
        top[T_WIDTH_GENE] = self.gene("embedding.width", space.embedding.width)
        top[T_EMBED_WBITS_GENE] = self.gene("embedding.weight_bits", space.embedding.weight_bits or c.weight_bits)
        blocks, block_names = [], []
        for s, stage in enumerate(space.stages):
            depth = self.gene(f"stages[{s}].depth", stage.depth)
            for b in range(max(stage.depth)):
                q = f"stages[{s}].blocks[{b}]"
                row = [-1] * N_BLOCK_COLUMNS
                row[B_DEPTH_GENE], row[B_INDEX] = depth, b

                def gene(name: str, choices: tuple, q=q, depth=depth, b=b) -> int:
                    return self.gene(f"{q}.{name}", choices, depth, b)

                if stage.block == "conv":
                    row[B_TYPE] = BLOCK_CONV
                    row[B_ARCH_A], row[B_ARCH_B] = gene("kernel", stage.kernel), gene("expansion", stage.expansion)
                    row[B_PRUNE_A] = gene("prune", c.prune_ratios)
                    bits = [gene(f"{layer}.{field}", c.weight_bits if field == "weight_bits" else c.act_bits)
                            for layer in CONV_LAYERS for field in ("weight_bits", "act_bits")]
                else:
                    row[B_TYPE] = BLOCK_ATTENTION
                    row[B_ARCH_A], row[B_ARCH_B] = gene("heads", stage.heads), gene("head_width", stage.head_width)
                    row[B_ARCH_C] = gene("ffn_expansion", stage.ffn_expansion)
                    row[B_PRUNE_A], row[B_PRUNE_B] = gene("attention.prune", c.prune_ratios), gene("ffn.prune",
                                                                                                  c.prune_ratios)
                    bits = [gene(f"{layer}.{field}", c.weight_bits if field == "weight_bits" else c.act_bits)
                            for layer, field in ATTENTION_BITS]
                row[B_BITS:B_BITS + len(bits)] = bits
                blocks.append(row)
                block_names.append(q)
        top[T_CLS_WBITS_GENE] = self.gene("classifier.weight_bits", space.classifier.weight_bits or c.weight_bits)
        top[T_CLS_ABITS_GENE] = self.gene("classifier.act_bits", space.classifier.act_bits or c.act_bits)
        top[T_LENGTH], top[T_VOCAB_SIZE], top[T_CLASSES] = space.max_length, space.vocab_size, space.num_classes
        self.check_fixed_used()
        values, counts, active = self.gene_tables()
        tables = CompiledSequence(
            gene_values=values, gene_n=counts, gene_active=active,
            blocks=np.array(blocks, dtype=np.int64).reshape(-1, N_BLOCK_COLUMNS), top=top)
        for array in tables:
            array.setflags(write=False)
        return SequenceLayout(space=space, tables=tables, gene_names=self.gene_names(),
                              gene_choices=self.gene_choices(), block_names=tuple(block_names))


@lru_cache(maxsize=64)
def compile_sequence(space: SequenceSpace) -> SequenceLayout:
    """The genome layout and kernel tables of ``space`` (cached per space).

    Raises:
        SpaceError: the largest network's costs do not fit the kernels' int64 counts.
    """
    layout = _Builder(space).build()
    largest = np.array([0 if name.endswith(".prune") else len(choices) - 1
                        for name, choices in zip(layout.gene_names, layout.gene_choices, strict=True)], np.int64)
    table = layout.decode(largest)
    costs = sequence_costs_reference(table.array, list(table.roles))  # Python integers: no wrap-around
    over = {name: value for name, value in costs.items() if value > np.iinfo(np.int64).max}
    if over:
        raise SpaceError(f"max_length {space.max_length}: the space's largest network has "
                         f"{', '.join(f'{k} = {v:.3g}' for k, v in over.items())}, beyond the int64 range of exact "
                         "costs (9.22e18); allowed: a shorter max_length or a narrower space")
    return layout


class SequenceKind(SpaceKind):
    """Token embedding, stages of 1-D conv or transformer blocks, per-layer bits and per-group prune ratios."""

    name = "sequence"
    network = True
    model = "nasco.evo.train.sequence_model:SEQUENCE_NETWORK"
    inputs = "texts"

    def from_dict(self, data: dict) -> SequenceSpace:
        return sequence_from_dict(data)

    def compile(self, space: SequenceSpace) -> SequenceLayout:
        return compile_sequence(space)

    def default_for(self, task: Any) -> SequenceSpace:
        """The default space for a text task: its tokens per text, token ids and classes."""
        if not getattr(task, "is_text", False):
            raise SpaceError(f"space kind 'sequence': task {task.name!r} holds images; allowed: a text task (dataset "
                             "langid or text)")
        return default_sequence_space(task.input_shape[0], task.vocab_size, task.num_classes)
