"""Plain Python/NumPy references of the cost kernels: decode one genome, cost one layer table.

These are the specification the Numba kernels in :mod:`nasco.kernels.cost` are tested
against, and the decoder ``nasco.evo`` uses to build layer tables for single genomes.
"""

from __future__ import annotations

import math

import numpy as np

from nasco.kernels.tables import (
    BIAS_BITS,
    COST_NAMES,
    FLOAT_BITS,
    KIND_DEPTHWISE,
    KIND_LINEAR,
    L_A_BITS,
    L_BLOCK_START,
    L_GROUPS,
    L_H_IN,
    L_H_OUT,
    L_KEPT_C_IN,
    L_KEPT_C_OUT,
    L_KERNEL,
    L_KIND,
    L_RESIDUAL,
    L_W_BITS,
    L_W_IN,
    L_W_OUT,
    LAYER_COLUMNS,
    PRUNE_EPS,
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
    SCALE_BITS,
    CompiledSpace,
)


def kept_channels(channels: int, ratio: float) -> int:
    """Channels left after pruning ``floor(ratio * channels)`` of them, at least one."""
    return max(1, channels - math.floor(ratio * channels + PRUNE_EPS))


def active_genes_reference(space: CompiledSpace, genome: np.ndarray) -> np.ndarray:
    """Boolean mask (G,) of the genes that influence the network of ``genome``."""
    active = np.ones(len(space.gene_n), dtype=bool)
    for g, (depth_gene, block_index) in enumerate(space.gene_active):
        if depth_gene >= 0:
            active[g] = space.gene_values[depth_gene, genome[depth_gene]] > block_index
    return active


def decode_reference(space: CompiledSpace, genome: np.ndarray) -> np.ndarray:
    """Decode one in-bounds genome (G,) into its layer table, int64 (n_layers, len(LAYER_COLUMNS)).

    Layers run in slot order; each reads the previous active layer's output. A linear layer
    reads the globally average-pooled previous output (1×1). Convolutions use padding
    ``kernel // 2`` (kernels are odd), so ``h_out = (h_in - 1) // stride + 1``.
    """

    def value(gene: int) -> float:
        return space.gene_values[gene, genome[gene]]

    channels, height, width = (int(v) for v in space.input_chw)
    kept = channels
    rows = []
    for slot, s in enumerate(space.slots):
        if s[S_DEPTH_GENE] >= 0 and value(s[S_DEPTH_GENE]) <= s[S_BLOCK_INDEX]:
            continue
        kind = int(s[S_KIND])
        kernel = int(value(s[S_KERNEL_GENE])) if s[S_KERNEL_GENE] >= 0 else int(s[S_KERNEL_CONST])
        stride = int(s[S_STRIDE])
        if kind == KIND_LINEAR:
            height = width = 1
        if kind == KIND_DEPTHWISE:
            c_out, kept_out, groups = channels, kept, kept
        else:
            c_out = int(s[S_CH_CONST])
            for gene in (s[S_CH_GENE_A], s[S_CH_GENE_B]):
                if gene >= 0:
                    c_out *= int(value(gene))
            prune = value(s[S_PRUNE_GENE]) if s[S_PRUNE_GENE] >= 0 else 0.0
            kept_out, groups = kept_channels(c_out, prune), 1
        h_out, w_out = (height - 1) // stride + 1, (width - 1) // stride + 1
        rows.append((
            slot, kind, channels, c_out, kept, kept_out, kernel, stride, groups,
            height, width, h_out, w_out,
            int(value(s[S_WBITS_GENE])), int(value(s[S_ABITS_GENE])),
            int(s[S_RESIDUAL]), int(s[S_BLOCK_START]),
        ))
        channels, kept, height, width = c_out, kept_out, h_out, w_out
    return np.array(rows, dtype=np.int64).reshape(-1, len(LAYER_COLUMNS))


def costs_reference(table: np.ndarray) -> dict[str, int]:
    """Exact costs of one decoded layer table (see :mod:`nasco.kernels.cost` for definitions)."""
    macs = params = bitops = size_bits = peak = 0
    skip_bits = 0
    for i, row in enumerate(table):
        k2 = int(row[L_KERNEL]) ** 2
        in_per_group = int(row[L_KEPT_C_IN]) // int(row[L_GROUPS])
        out_pixels = int(row[L_H_OUT]) * int(row[L_W_OUT])
        kept_out = int(row[L_KEPT_C_OUT])
        w_bits, a_bits = int(row[L_W_BITS]), int(row[L_A_BITS])
        weights = kept_out * in_per_group * k2
        layer_macs = weights * out_pixels
        macs += layer_macs
        params += weights + (kept_out if row[L_KIND] == KIND_LINEAR else 0)
        bitops += layer_macs * w_bits * a_bits
        size_bits += weights * w_bits + kept_out * BIAS_BITS
        if w_bits < FLOAT_BITS:
            size_bits += kept_out * SCALE_BITS
        in_bits = int(row[L_KEPT_C_IN]) * int(row[L_H_IN]) * int(row[L_W_IN]) * a_bits
        held_bits = 0
        if row[L_RESIDUAL] and row[L_BLOCK_START]:
            skip_bits = in_bits  # the block input is this layer's input: counted once here
        elif row[L_RESIDUAL]:
            held_bits = skip_bits
        out_bits = int(table[i + 1, L_A_BITS]) if i + 1 < len(table) else FLOAT_BITS
        peak = max(peak, in_bits + kept_out * out_pixels * out_bits + held_bits)
    return dict(zip(COST_NAMES, (macs, params, bitops, size_bits, peak), strict=True))
