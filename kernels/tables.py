"""Numeric tables of a compiled search space, shared by the Numba kernels and their references.

A search space (``nasco.evo.space.mobilenet``) is compiled once into plain arrays; the kernels never see
Python objects of the space. The tables describe a *layer program*: one row ("slot") per layer
the largest network of the space can have, in execution order.

Arrays:
    gene_values: float64 (G, C_max): the value of choice ``c`` of gene ``g`` (widths, kernel
        sizes, expansion ratios, bit-widths, prune ratios); unused cells are 0.
    gene_n: int64 (G,): number of choices of each gene.
    gene_active: int64 (G, 2): ``(depth_gene, block_index)``; gene ``g`` is active iff
        ``depth_gene < 0`` or ``gene_values[depth_gene, genome[depth_gene]] > block_index``.
    slots: int64 (L, N_SLOT_COLUMNS): the layer program, columns ``S_*`` below.
    input_chw: int64 (3,): channels, height, width of the input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Layer kinds.
KIND_CONV = 0
KIND_DEPTHWISE = 1
KIND_LINEAR = 2
KIND_NAMES = ("conv", "depthwise", "linear")

# Columns of the slot table (the layer program).
S_KIND = 0  # KIND_* constant
S_STRIDE = 1  # 1 or 2
S_KERNEL_GENE = 2  # gene giving the kernel size, or -1 for S_KERNEL_CONST
S_KERNEL_CONST = 3
S_CH_GENE_A = 4  # output channels = S_CH_CONST * value(A) * value(B); -1 means factor 1
S_CH_GENE_B = 5
S_CH_CONST = 6
S_PRUNE_GENE = 7  # prune-ratio gene of the output channel group, -1 if not prunable
S_WBITS_GENE = 8
S_ABITS_GENE = 9
S_DEPTH_GENE = 10  # slot is active iff value(depth gene) > S_BLOCK_INDEX; -1 = always active
S_BLOCK_INDEX = 11
S_RESIDUAL = 12  # 1 if the slot belongs to a block whose input is added to its output
S_BLOCK_START = 13  # 1 for the first layer of such a block (the block input is read there)
N_SLOT_COLUMNS = 14

# Columns of a decoded layer table (int64, one row per active layer).
L_SLOT = 0
L_KIND = 1
L_C_IN = 2
L_C_OUT = 3
L_KEPT_C_IN = 4
L_KEPT_C_OUT = 5
L_KERNEL = 6
L_STRIDE = 7
L_GROUPS = 8  # groups of the slim (pruned) layer: 1, or kept channels for depthwise
L_H_IN = 9
L_W_IN = 10
L_H_OUT = 11
L_W_OUT = 12
L_W_BITS = 13
L_A_BITS = 14
L_RESIDUAL = 15
L_BLOCK_START = 16
LAYER_COLUMNS = (
    "slot", "kind", "c_in", "c_out", "kept_c_in", "kept_c_out", "kernel", "stride", "groups",
    "h_in", "w_in", "h_out", "w_out", "w_bits", "a_bits", "residual", "block_start",
)

# Cost columns returned by the kernels (int64).
COST_NAMES = ("macs", "params", "bitops", "size_bits", "peak_act_bits")
C_MACS, C_PARAMS, C_BITOPS, C_SIZE_BITS, C_PEAK_ACT_BITS = range(5)

FLOAT_BITS = 32  # a bit-width of 32 means "not quantized" (float32)
SCALE_BITS = 32  # storage of one per-channel quantization scale
BIAS_BITS = 32  # storage of one bias (the linear bias, or a BN folded into its conv)
PRUNE_EPS = 1e-9  # guards floor(ratio * channels) against float round-off below an integer


class CompiledSpace(NamedTuple):
    """The numeric form of a search space (see the module docstring for the arrays)."""

    gene_values: np.ndarray
    gene_n: np.ndarray
    gene_active: np.ndarray
    slots: np.ndarray
    input_chw: np.ndarray
