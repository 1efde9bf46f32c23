"""Numba batch kernel: genomes → predicted latency from a per-layer look-up table (LUT).

A layer's LUT key packs what its run time depends on with float kernels: kind, whether a
ReLU6 follows, kernel, stride, kept input and output channels and input height/width
(:func:`pack_key`). Bit-widths are not in the key: the backends timed here run float
kernels (fake quantization is a training device). The prediction of a network is
``Σ_layers LUT[key] + c0 + c1·n_layers`` (the overhead of pooling, residual additions and
module calls, fitted from whole-network measurements). ``latency_reference`` is the Python
reference over decoded layer tables.
"""

from __future__ import annotations

import numba
import numpy as np

from nasco.kernels.tables import (
    KIND_DEPTHWISE,
    KIND_LINEAR,
    L_H_IN,
    L_KEPT_C_IN,
    L_KEPT_C_OUT,
    L_KERNEL,
    L_KIND,
    L_SLOT,
    L_STRIDE,
    L_W_IN,
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
    S_STRIDE,
    CompiledSpace,
)

# Bit layout of a key: (shift, width) per field.
KEY_FIELDS = {"kind": (0, 2), "act": (2, 1), "kernel": (3, 4), "stride": (7, 2), "c_in": (9, 13), "c_out": (22, 13),
              "h": (35, 11), "w": (46, 11)}


@numba.njit(cache=True, nogil=True)
def _pack(kind, act, kernel, stride, c_in, c_out, h, w):  # pragma: no cover - jitted
    return (kind | (act << 2) | (kernel << 3) | (stride << 7) | (c_in << 9) | (c_out << 22) | (h << 35)
            | (w << 46))


def pack_key(kind: int, act: int, kernel: int, stride: int, c_in: int, c_out: int, h: int, w: int) -> int:
    """One layer's LUT key (int64). Raises ValueError when a field does not fit its bits."""
    values = {"kind": kind, "act": act, "kernel": kernel, "stride": stride, "c_in": c_in, "c_out": c_out, "h": h,
              "w": w}
    for name, (_, width) in KEY_FIELDS.items():
        if not 0 <= values[name] < 2**width:
            raise ValueError(f"latency key: {name}={values[name]} does not fit {width} bits")
    return int(_pack(np.int64(kind), np.int64(act), np.int64(kernel), np.int64(stride), np.int64(c_in),
                     np.int64(c_out), np.int64(h), np.int64(w)))


def unpack_key(key: int) -> dict[str, int]:
    return {name: (int(key) >> shift) & (2**width - 1) for name, (shift, width) in KEY_FIELDS.items()}


# The slot decoding below repeats _costs_kernel's (kernels/cost.py) on purpose: shared @njit helpers for it
# (depth skip, kernel size, kept channels) made the cost kernel 3.3x slower (0.32 vs 1.03 M genomes/s on the
# default space, 2026-12-05), with or without inline='always'.
@numba.njit(cache=True, nogil=True)
def _latency_kernel(gene_values, slots, input_chw, slot_act, genomes, keys, values, c0, c1, out, missing
                    ):  # pragma: no cover - jitted
    for n in range(genomes.shape[0]):
        genome = genomes[n]
        kept = input_chw[0]
        height = input_chw[1]
        width = input_chw[2]
        total = 0.0
        layers = 0
        missing[n] = -1
        for i in range(slots.shape[0]):
            depth_gene = slots[i, S_DEPTH_GENE]
            if depth_gene >= 0 and gene_values[depth_gene, genome[depth_gene]] <= slots[i, S_BLOCK_INDEX]:
                continue
            kind = slots[i, S_KIND]
            kg = slots[i, S_KERNEL_GENE]
            kernel = np.int64(gene_values[kg, genome[kg]]) if kg >= 0 else slots[i, S_KERNEL_CONST]
            stride = slots[i, S_STRIDE]
            if kind == KIND_LINEAR:
                height = 1
                width = 1
            kept_out = kept
            if kind != KIND_DEPTHWISE:
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
            key = _pack(kind, slot_act[i], kernel, stride, kept, kept_out, height, width)
            j = np.searchsorted(keys, key)
            if j >= keys.shape[0] or keys[j] != key:
                missing[n] = key
                total = np.nan
                break
            total += values[j]
            layers += 1
            kept = kept_out
            height = (height - 1) // stride + 1
            width = (width - 1) // stride + 1
        out[n] = total + c0 + c1 * layers if missing[n] < 0 else np.nan


def batch_latency(space: CompiledSpace, slot_act: np.ndarray, genomes: np.ndarray, keys: np.ndarray,
                  values: np.ndarray, overhead: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted latency of in-bounds genomes (N, G).

    Args:
        slot_act: int64 (L,): 1 where a ReLU6 follows the slot's layer.
        keys: sorted int64 (K,) LUT keys; values: float64 (K,) per-layer latency.
        overhead: (c0, c1): per network and per layer.

    Returns:
        (latency float64 (N,), NaN where a layer is missing; the first missing key per genome, -1 if none).
    """
    genomes = np.ascontiguousarray(genomes, dtype=np.int64)
    out = np.empty(len(genomes))
    missing = np.empty(len(genomes), dtype=np.int64)
    _latency_kernel(space.gene_values, space.slots, space.input_chw, np.ascontiguousarray(slot_act, np.int64),
                    genomes, np.ascontiguousarray(keys, np.int64), np.ascontiguousarray(values, np.float64),
                    float(overhead[0]), float(overhead[1]), out, missing)
    return out, missing


def layer_key(row: np.ndarray, slot_act: np.ndarray) -> int:
    """The LUT key of one decoded layer-table row."""
    return pack_key(int(row[L_KIND]), int(slot_act[row[L_SLOT]]), int(row[L_KERNEL]), int(row[L_STRIDE]),
                    int(row[L_KEPT_C_IN]), int(row[L_KEPT_C_OUT]), int(row[L_H_IN]), int(row[L_W_IN]))


def latency_reference(table: np.ndarray, slot_act: np.ndarray, lut: dict[int, float],
                      overhead: tuple[float, float]) -> float:
    """Reference: the Python sum over a decoded layer table (KeyError names a missing key)."""
    return sum(lut[layer_key(row, slot_act)] for row in table) + overhead[0] + overhead[1] * len(table)
