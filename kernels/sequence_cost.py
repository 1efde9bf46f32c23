"""Exact costs of the ``sequence`` space kind: tables, the Numba batch kernel and its reference.

Tables (:class:`CompiledSequence`): ``gene_values``, ``gene_n``, ``gene_active`` as in
:mod:`nasco.kernels.tables` (so genome operations are shared with the image kind); ``blocks``
int64 (B, N_BLOCK_COLUMNS), one row per block the largest network can have (columns ``B_*``:
type, depth gene and block index, the architecture genes, the prune genes, the bit-width genes);
``top`` int64 (N_TOP,): the embedding and classifier genes and the constants T, V, C.

Costs of one input of T = ``max_length`` tokens (all exact integers). Layers: the embedding,
each block's linear layers (1×1 convs are linear over positions), depthwise 1-D convs and
attention matmuls, the classifier. ``kin``/``kout`` are kept input/output features:

- ``macs``: linear T·kin·kout (classifier: 1 position); depthwise T·c·k; attention matmuls
  H·T·T·h each (QKᵀ and softmax·V, H kept heads of width h). The embedding (a lookup),
  LayerNorms, GELU, softmax, pooling and residual additions are not counted.
- ``params``: linear and depthwise weights and biases, LayerNorm γ and β (2·d each), the
  embedding table (V_kept·d). Positions are fixed sinusoids (no parameters).
- ``bitops``: Σ MACs·w_bits·a_bits; for attention matmuls both operands are activations at the
  block's attention bits a: MACs·a·a.
- ``size_bits``: weights·w_bits, + 32 per bias and per LayerNorm parameter, + 32 per output
  channel (embedding: per token row) of every quantized (w_bits < 32) layer for its scale.
- ``peak_act_bits``: the largest working set of one layer run alone: its inputs at their
  quantized bits, its output at 32 (float, before the next quantizer) and, inside a block, the
  residual stream T·d·32 held for the addition; the QKᵀ matmul also holds V; the embedding
  reads T ids (32 bits each) and writes T·d floats.

Pruning: a conv block keeps ``max(1, e·d − ⌊r·e·d⌋)`` hidden channels; an attention block
``max(1, H − ⌊r·H⌋)`` whole heads and ``max(1, m·d − ⌊r·m·d⌋)`` FFN units.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from nasco.kernels.tables import BIAS_BITS, COST_NAMES, FLOAT_BITS, PRUNE_EPS, SCALE_BITS

BLOCK_CONV, BLOCK_ATTENTION = 0, 1

# Columns of the block table (gene indices, -1 where unused).
B_TYPE = 0  # BLOCK_CONV or BLOCK_ATTENTION
B_DEPTH_GENE = 1  # the block exists iff value(depth gene) > B_INDEX
B_INDEX = 2
B_ARCH_A = 3  # conv: kernel; attention: heads
B_ARCH_B = 4  # conv: expansion; attention: head width
B_ARCH_C = 5  # attention: FFN expansion
B_PRUNE_A = 6  # conv: hidden channels; attention: heads
B_PRUNE_B = 7  # attention: FFN units
B_BITS = 8  # 9 bit-width genes from here: conv (expand w, a, depthwise w, a, project w, a);
#             attention (qkv w, a, matmul a, out w, a, ffn up w, a, ffn down w, a)
N_BLOCK_COLUMNS = B_BITS + 9

# Entries of the top table.
T_VOCAB_GENE, T_WIDTH_GENE, T_EMBED_WBITS_GENE, T_CLS_WBITS_GENE, T_CLS_ABITS_GENE = range(5)
T_LENGTH, T_VOCAB_SIZE, T_CLASSES = 5, 6, 7
N_TOP = 8

# Kinds of the rows of a decoded layer table.
LAYER_EMBEDDING, LAYER_NORM, LAYER_LINEAR, LAYER_DEPTHWISE, LAYER_MATMUL = range(5)
LAYER_KIND_NAMES = ("embedding", "norm", "linear", "depthwise", "matmul")
SEQUENCE_LAYER_COLUMNS = ("kind", "c_in", "c_out", "kept_c_in", "kept_c_out", "kernel", "heads", "positions",
                          "w_bits", "a_bits", "in_block")


class CompiledSequence(NamedTuple):
    """The numeric form of a sequence space (see the module docstring)."""

    gene_values: np.ndarray
    gene_n: np.ndarray
    gene_active: np.ndarray
    blocks: np.ndarray
    top: np.ndarray


@numba.njit(cache=True, inline="always")
def _kept(channels, ratio):  # pragma: no cover - jitted
    return max(1, channels - np.int64(np.floor(ratio * channels + PRUNE_EPS)))


@numba.njit(cache=True, nogil=True)
def _sequence_kernel(gene_values, blocks, top, genomes, out):  # pragma: no cover - jitted
    t = top[T_LENGTH]
    bits = np.empty(9, dtype=np.int64)
    layers = np.empty((4, 5), dtype=np.int64)  # a block's linear/depthwise layers: c_in, c_out, kernel, w, a
    for n in range(genomes.shape[0]):
        genome = genomes[n]
        d = np.int64(gene_values[top[T_WIDTH_GENE], genome[top[T_WIDTH_GENE]]])
        vocab = np.int64(gene_values[top[T_VOCAB_GENE], genome[top[T_VOCAB_GENE]]])
        wb = np.int64(gene_values[top[T_EMBED_WBITS_GENE], genome[top[T_EMBED_WBITS_GENE]]])
        macs = 0
        params = vocab * d
        bitops = 0
        size = vocab * d * wb + (vocab * SCALE_BITS if wb < FLOAT_BITS else 0)
        peak = t * FLOAT_BITS + t * d * FLOAT_BITS
        held = t * d * FLOAT_BITS
        for i in range(blocks.shape[0]):
            dg = blocks[i, B_DEPTH_GENE]
            if gene_values[dg, genome[dg]] <= blocks[i, B_INDEX]:
                continue
            for j in range(9):
                g = blocks[i, B_BITS + j]
                bits[j] = np.int64(gene_values[g, genome[g]]) if g >= 0 else FLOAT_BITS
            params += 2 * d
            size += 2 * d * FLOAT_BITS
            a = np.int64(gene_values[blocks[i, B_ARCH_A], genome[blocks[i, B_ARCH_A]]])
            b = np.int64(gene_values[blocks[i, B_ARCH_B], genome[blocks[i, B_ARCH_B]]])
            if blocks[i, B_TYPE] == BLOCK_CONV:
                hidden = _kept(b * d, gene_values[blocks[i, B_PRUNE_A], genome[blocks[i, B_PRUNE_A]]])
                n_layers = 3
                _set_layer(layers, 0, d, hidden, 0, bits[0], bits[1])
                _set_layer(layers, 1, hidden, hidden, a, bits[2], bits[3])
                _set_layer(layers, 2, hidden, d, 0, bits[4], bits[5])
            else:
                heads = _kept(a, gene_values[blocks[i, B_PRUNE_A], genome[blocks[i, B_PRUNE_A]]])
                m = np.int64(gene_values[blocks[i, B_ARCH_C], genome[blocks[i, B_ARCH_C]]])
                ffn = _kept(m * d, gene_values[blocks[i, B_PRUNE_B], genome[blocks[i, B_PRUNE_B]]])
                ab = bits[2]
                attn_macs = heads * t * t * b  # each of QKᵀ and softmax·V
                macs += 2 * attn_macs
                bitops += 2 * attn_macs * ab * ab
                peak = max(peak, 3 * heads * t * b * ab + heads * t * t * FLOAT_BITS + held)  # QKᵀ, V held
                peak = max(peak, heads * t * t * ab + heads * t * b * ab + heads * t * b * FLOAT_BITS + held)
                params += 2 * d  # the FFN's LayerNorm
                size += 2 * d * FLOAT_BITS
                n_layers = 4
                _set_layer(layers, 0, d, 3 * heads * b, 0, bits[0], bits[1])
                _set_layer(layers, 1, heads * b, d, 0, bits[3], bits[4])
                _set_layer(layers, 2, d, ffn, 0, bits[5], bits[6])
                _set_layer(layers, 3, ffn, d, 0, bits[7], bits[8])
            for j in range(n_layers):
                c_in, c_out, kernel = layers[j, 0], layers[j, 1], layers[j, 2]
                w_bits, a_bits = layers[j, 3], layers[j, 4]
                weights = c_out * kernel if kernel > 0 else c_in * c_out  # depthwise: one filter per channel
                layer_macs = t * weights
                macs += layer_macs
                params += weights + c_out
                bitops += layer_macs * w_bits * a_bits
                size += weights * w_bits + c_out * BIAS_BITS + (c_out * SCALE_BITS if w_bits < FLOAT_BITS else 0)
                peak = max(peak, t * c_in * a_bits + t * c_out * FLOAT_BITS + held)
        params += 2 * d  # final LayerNorm
        size += 2 * d * FLOAT_BITS
        classes = top[T_CLASSES]
        w_bits = np.int64(gene_values[top[T_CLS_WBITS_GENE], genome[top[T_CLS_WBITS_GENE]]])
        a_bits = np.int64(gene_values[top[T_CLS_ABITS_GENE], genome[top[T_CLS_ABITS_GENE]]])
        macs += d * classes
        params += d * classes + classes
        bitops += d * classes * w_bits * a_bits
        size += d * classes * w_bits + classes * BIAS_BITS + (classes * SCALE_BITS if w_bits < FLOAT_BITS else 0)
        peak = max(peak, d * a_bits + classes * FLOAT_BITS)
        out[n, 0] = macs
        out[n, 1] = params
        out[n, 2] = bitops
        out[n, 3] = size
        out[n, 4] = peak


@numba.njit(cache=True, inline="always")
def _set_layer(layers, j, c_in, c_out, kernel, w_bits, a_bits):  # pragma: no cover - jitted
    layers[j, 0] = c_in
    layers[j, 1] = c_out
    layers[j, 2] = kernel
    layers[j, 3] = w_bits
    layers[j, 4] = a_bits


def sequence_costs(tables: CompiledSequence, genomes: np.ndarray) -> np.ndarray:
    """int64 (N, 5) exact costs (columns :data:`~nasco.kernels.tables.COST_NAMES`) of in-bounds genomes (N, G)."""
    genomes = np.ascontiguousarray(genomes, dtype=np.int64)
    out = np.empty((genomes.shape[0], len(COST_NAMES)), dtype=np.int64)
    _sequence_kernel(tables.gene_values, tables.blocks, tables.top, genomes, out)
    return out


# ----------------------------------------------------------------------------- reference
def decode_sequence(tables: CompiledSequence, genome: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The layer table of one genome: int64 (L, len(SEQUENCE_LAYER_COLUMNS)) in execution order, and
    (block row or −1, role) per layer. Roles: embedding; per conv block norm, expand, depthwise,
    project; per attention block norm, qkv, scores, context, out, ffn_norm, ffn_up, ffn_down; then
    norm, classifier."""
    values, top = tables.gene_values, tables.top

    def value(g: int) -> float:
        return float(values[g, genome[g]])

    def kept(channels: int, g: int) -> int:
        return max(1, channels - math.floor(value(g) * channels + PRUNE_EPS))

    t, vocab_size = int(top[T_LENGTH]), int(top[T_VOCAB_SIZE])
    d = int(value(top[T_WIDTH_GENE]))
    rows = [(LAYER_EMBEDDING, vocab_size, d, int(value(top[T_VOCAB_GENE])), d, 0, 1, t,
             int(value(top[T_EMBED_WBITS_GENE])), FLOAT_BITS, 0)]
    labels = [(-1, "embedding")]

    def norm(block: int, role: str) -> None:
        rows.append((LAYER_NORM, d, d, d, d, 0, 1, t, FLOAT_BITS, FLOAT_BITS, 1))
        labels.append((block, role))

    def layer(block: int, role: str, kind: int, c_in: int, c_out: int, kept_in: int, kept_out: int, w: int, a: int,
              kernel: int = 0, heads: int = 1) -> None:
        rows.append((kind, c_in, c_out, kept_in, kept_out, kernel, heads, t, w, a, 1))
        labels.append((block, role))

    for i, row in enumerate(tables.blocks):
        if value(row[B_DEPTH_GENE]) <= row[B_INDEX]:
            continue
        bits = [int(value(g)) if g >= 0 else FLOAT_BITS for g in row[B_BITS:B_BITS + 9]]
        a, b = int(value(row[B_ARCH_A])), int(value(row[B_ARCH_B]))
        norm(i, "norm")
        if row[B_TYPE] == BLOCK_CONV:
            h = b * d
            hk = kept(h, row[B_PRUNE_A])
            layer(i, "expand", LAYER_LINEAR, d, h, d, hk, bits[0], bits[1])
            layer(i, "depthwise", LAYER_DEPTHWISE, h, h, hk, hk, bits[2], bits[3], kernel=a)
            layer(i, "project", LAYER_LINEAR, h, d, hk, d, bits[4], bits[5])
        else:
            heads, f = kept(a, row[B_PRUNE_A]), int(value(row[B_ARCH_C])) * d
            fk = kept(f, row[B_PRUNE_B])
            layer(i, "qkv", LAYER_LINEAR, d, 3 * a * b, d, 3 * heads * b, bits[0], bits[1])
            layer(i, "scores", LAYER_MATMUL, b, t, b, t, bits[2], bits[2], heads=heads)  # per head: T×h · h×T
            layer(i, "context", LAYER_MATMUL, t, b, t, b, bits[2], bits[2], heads=heads)  # per head: T×T · T×h
            layer(i, "out", LAYER_LINEAR, a * b, d, heads * b, d, bits[3], bits[4])
            norm(i, "ffn_norm")
            layer(i, "ffn_up", LAYER_LINEAR, d, f, d, fk, bits[5], bits[6])
            layer(i, "ffn_down", LAYER_LINEAR, f, d, fk, d, bits[7], bits[8])
    rows.append((LAYER_NORM, d, d, d, d, 0, 1, t, FLOAT_BITS, FLOAT_BITS, 0))
    labels.append((-1, "norm"))
    classes = int(top[T_CLASSES])
    rows.append((LAYER_LINEAR, d, classes, d, classes, 0, 1, 1, int(value(top[T_CLS_WBITS_GENE])),
                 int(value(top[T_CLS_ABITS_GENE])), 0))
    labels.append((-1, "classifier"))
    return np.array(rows, dtype=np.int64), labels


def sequence_costs_reference(layers: np.ndarray, roles: list[str]) -> dict[str, int]:
    """Costs of one decoded layer table (and its roles), layer by layer (the specification of the kernel)."""
    col = {name: i for i, name in enumerate(SEQUENCE_LAYER_COLUMNS)}
    total = dict.fromkeys(COST_NAMES, 0)
    d = int(layers[0, col["c_out"]])
    for row, role in zip(layers.tolist(), roles, strict=True):
        kind, kin, kout, t = row[col["kind"]], row[col["kept_c_in"]], row[col["kept_c_out"]], row[col["positions"]]
        w, a, heads, held = row[col["w_bits"]], row[col["a_bits"]], row[col["heads"]], row[col["in_block"]]
        held_bits = t * d * FLOAT_BITS if held else 0
        if kind == LAYER_EMBEDDING:
            total["params"] += kin * kout
            total["size_bits"] += kin * kout * w + (kin * SCALE_BITS if w < FLOAT_BITS else 0)
            work = t * FLOAT_BITS + t * kout * FLOAT_BITS
        elif kind == LAYER_NORM:
            total["params"] += 2 * kout
            total["size_bits"] += 2 * kout * FLOAT_BITS
            continue
        elif kind == LAYER_MATMUL:  # per head: (t × kin) · (kin × kout)
            macs = heads * t * kin * kout
            total["macs"] += macs
            total["bitops"] += macs * w * a
            inputs = heads * (t * kin + kin * kout) * a
            v_held = heads * t * kin * a if role == "scores" else 0  # QKᵀ holds V (T×h per head) for later
            work = inputs + v_held + heads * t * kout * FLOAT_BITS + held_bits
        else:
            weights = kout * row[col["kernel"]] if kind == LAYER_DEPTHWISE else kin * kout
            total["macs"] += t * weights
            total["params"] += weights + kout
            total["bitops"] += t * weights * w * a
            total["size_bits"] += weights * w + kout * BIAS_BITS + (kout * SCALE_BITS if w < FLOAT_BITS else 0)
            work = t * kin * a + t * kout * FLOAT_BITS + held_bits
        total["peak_act_bits"] = max(total["peak_act_bits"], work)
    return total
