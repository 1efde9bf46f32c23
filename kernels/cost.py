"""Numba batch kernel: genomes (N×G int) → exact costs (N×5 int64), no Python object per genome.

Definitions (all exact integers; every conv/linear layer ℓ of the decoded, *pruned* network;
``kin``/``kout`` are its kept input/output channels, ``k`` its kernel, ``g`` its groups —
1, or ``kin`` for depthwise —, ``Ho×Wo`` its output size, ``wb``/``ab`` its weight and input
activation bit-widths, 32 meaning float):

- ``macs`` = Σ kout·(kin/g)·k²·Ho·Wo (multiply-accumulates of conv and linear layers; BN,
  activations, pooling and residual additions are not counted; linear layers have Ho=Wo=1).
- ``params`` = Σ kout·(kin/g)·k² + Σ_linear kout: conv/linear weights and the linear bias.
  Convolutions have no bias; their BatchNorm (2·kout parameters: γ, β) is *not* counted
  because it folds into the conv at export (its folded bias is counted in ``size_bits``).
- ``bitops`` = Σ MACs_ℓ · wb · ab.
- ``size_bits`` = Σ kout·(kin/g)·k²·wb + kout·32 (bias: linear bias or folded BN)
  + [wb < 32]·kout·32 (one float32 scale per output channel).
- ``peak_act_bits`` = max over layers of the working set when layers run one at a time:
  input (kin·Hi·Wi·ab) + output (kout·Ho·Wo·ab_next, ab_next = the next layer's input
  bit-width, 32 after the last layer) + the block input held for a residual addition
  (at the expand layer's ab) for the inner layers of a residual block.

Pruning is applied to a group's producer outputs and to every consumer's inputs: both
appear as ``kout`` of one layer and ``kin`` of the next.
"""

from __future__ import annotations

import numba
import numpy as np

from nasco.kernels.tables import (
    BIAS_BITS,
    C_BITOPS,
    C_MACS,
    C_PARAMS,
    C_PEAK_ACT_BITS,
    C_SIZE_BITS,
    COST_NAMES,
    FLOAT_BITS,
    KIND_DEPTHWISE,
    KIND_LINEAR,
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


@numba.njit(cache=True, nogil=True)
def _costs_kernel(gene_values, slots, input_chw, genomes, out):  # pragma: no cover - jitted
    n_slots = slots.shape[0]
    for n in range(genomes.shape[0]):
        genome = genomes[n]
        kept = input_chw[0]
        height = input_chw[1]
        width = input_chw[2]
        macs = 0
        params = 0
        bitops = 0
        size_bits = 0
        peak = 0
        skip_bits = 0
        pending = -1  # working set of the previous layer, waiting for its output bit-width
        pending_out = 0  # output elements of the previous layer
        for i in range(n_slots):
            depth_gene = slots[i, S_DEPTH_GENE]
            if depth_gene >= 0 and gene_values[depth_gene, genome[depth_gene]] <= slots[i, S_BLOCK_INDEX]:
                continue
            kind = slots[i, S_KIND]
            kg = slots[i, S_KERNEL_GENE]
            kernel = np.int64(gene_values[kg, genome[kg]]) if kg >= 0 else slots[i, S_KERNEL_CONST]
            stride = slots[i, S_STRIDE]
            a_bits = np.int64(gene_values[slots[i, S_ABITS_GENE], genome[slots[i, S_ABITS_GENE]]])
            w_bits = np.int64(gene_values[slots[i, S_WBITS_GENE], genome[slots[i, S_WBITS_GENE]]])
            if pending >= 0:
                peak = max(peak, pending + pending_out * a_bits)
            if kind == KIND_LINEAR:
                height = 1
                width = 1
            kept_in = kept
            if kind == KIND_DEPTHWISE:
                kept_out = kept
                in_per_group = 1
            else:
                c_out = slots[i, S_CH_CONST]
                ga = slots[i, S_CH_GENE_A]
                gb = slots[i, S_CH_GENE_B]
                if ga >= 0:
                    c_out *= np.int64(gene_values[ga, genome[ga]])
                if gb >= 0:
                    c_out *= np.int64(gene_values[gb, genome[gb]])
                kept_out = c_out
                pg = slots[i, S_PRUNE_GENE]
                if pg >= 0:
                    pruned = np.int64(np.floor(gene_values[pg, genome[pg]] * c_out + PRUNE_EPS))
                    kept_out = max(1, c_out - pruned)
                in_per_group = kept_in
            h_out = (height - 1) // stride + 1
            w_out = (width - 1) // stride + 1
            weights = kept_out * in_per_group * kernel * kernel
            layer_macs = weights * h_out * w_out
            macs += layer_macs
            params += weights
            if kind == KIND_LINEAR:
                params += kept_out
            bitops += layer_macs * w_bits * a_bits
            size_bits += weights * w_bits + kept_out * BIAS_BITS
            if w_bits < FLOAT_BITS:
                size_bits += kept_out * SCALE_BITS
            in_bits = kept_in * height * width * a_bits
            held = 0
            if slots[i, S_RESIDUAL] == 1:
                if slots[i, S_BLOCK_START] == 1:
                    skip_bits = in_bits
                else:
                    held = skip_bits
            pending = in_bits + held
            pending_out = kept_out * h_out * w_out
            kept = kept_out
            height = h_out
            width = w_out
        if pending >= 0:
            peak = max(peak, pending + pending_out * FLOAT_BITS)
        out[n, C_MACS] = macs
        out[n, C_PARAMS] = params
        out[n, C_BITOPS] = bitops
        out[n, C_SIZE_BITS] = size_bits
        out[n, C_PEAK_ACT_BITS] = peak


def batch_costs(space: CompiledSpace, genomes: np.ndarray) -> np.ndarray:
    """Exact costs of many in-bounds genomes in one call.

    Args:
        space: the compiled search space.
        genomes: int (N, G) matrix of in-bounds genomes (checked by the caller, e.g.
            ``nasco.evo.space.genome.check_genomes``); any integer dtype.

    Returns:
        int64 (N, 5) matrix, columns :data:`~nasco.kernels.tables.COST_NAMES`.
    """
    genomes = np.ascontiguousarray(genomes, dtype=np.int64)
    out = np.empty((genomes.shape[0], len(COST_NAMES)), dtype=np.int64)
    _costs_kernel(space.gene_values, space.slots, space.input_chw, genomes, out)
    return out
