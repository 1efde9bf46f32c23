"""Decoding one layer slot of a genome: the steps every kernel that walks a network's slots shares.

A compiled space's ``slots`` table (:mod:`nasco.kernels.tables`) describes each potential layer; a
genome chooses which of them exist (depth genes), their kernel size and their output channels (width
and prune genes). :mod:`nasco.kernels.cost` and :mod:`nasco.kernels.latency` walk the slots with
these helpers, which Numba inlines into their loops.
"""

from __future__ import annotations

import numba
import numpy as np

from nasco.kernels.tables import (
    KIND_DEPTHWISE,
    PRUNE_EPS,
    S_BLOCK_INDEX,
    S_CH_CONST,
    S_CH_GENE_A,
    S_CH_GENE_B,
    S_DEPTH_GENE,
    S_KERNEL_CONST,
    S_KERNEL_GENE,
    S_KIND,
    S_PRUNE_GENE,
)


@numba.njit(cache=True, nogil=True, inline="always")
def slot_skipped(gene_values, slots, i, genome):  # pragma: no cover - jitted
    """True when slot ``i`` lies beyond its stage's chosen depth (the layer does not exist)."""
    depth_gene = slots[i, S_DEPTH_GENE]
    return depth_gene >= 0 and gene_values[depth_gene, genome[depth_gene]] <= slots[i, S_BLOCK_INDEX]


@numba.njit(cache=True, nogil=True, inline="always")
def slot_kernel(gene_values, slots, i, genome):  # pragma: no cover - jitted
    """Kernel size of slot ``i`` (its gene's chosen value, else the slot's constant)."""
    kg = slots[i, S_KERNEL_GENE]
    return np.int64(gene_values[kg, genome[kg]]) if kg >= 0 else slots[i, S_KERNEL_CONST]


@numba.njit(cache=True, nogil=True, inline="always")
def slot_kept_out(gene_values, slots, i, genome, kept_in):  # pragma: no cover - jitted
    """Output channels slot ``i`` keeps: a depthwise layer keeps its input's ``kept_in``; others
    constant × width genes, less the pruned share (at least one channel)."""
    if slots[i, S_KIND] == KIND_DEPTHWISE:
        return kept_in
    c_out = slots[i, S_CH_CONST]
    ga = slots[i, S_CH_GENE_A]
    gb = slots[i, S_CH_GENE_B]
    if ga >= 0:
        c_out *= np.int64(gene_values[ga, genome[ga]])
    if gb >= 0:
        c_out *= np.int64(gene_values[gb, genome[gb]])
    pg = slots[i, S_PRUNE_GENE]
    if pg >= 0:
        pruned = np.int64(np.floor(gene_values[pg, genome[pg]] * c_out + PRUNE_EPS))
        return max(np.int64(1), c_out - pruned)
    return c_out
