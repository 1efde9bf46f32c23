"""Fused quantization/pruning sensitivity sweep and channel importance (Numba + NumPy references).

For one layer's weights W (C output channels × K) and the space's bit-widths B and prune
ratios P, one pass over the layer gives, per channel c: its L1 norm, its energy Σ w², and
its squared quantization error e_c(b) for every b ∈ B (per-channel symmetric fake
quantization of :mod:`nasco.kernels.quant`; b = 32 means float, error 0). Pruning ratio p
removes the ``C - kept_channels(C, p)`` channels of smallest L1 norm (ties: lower index
first), so

- ``quant_mse[b]`` = Σ_c e_c(b) / numel, ``quant_sqnr_db[b]`` = 10·log10(Σ_c energy_c / Σ_c e_c(b)),
- ``prune_mse[p]`` = Σ_{removed} energy_c / numel (the energy of the removed channels),
- ``combined_mse[p, b]`` = (Σ_{removed} energy_c + Σ_{kept} e_c(b)) / numel: the error of
  pruning, then quantizing the kept channels, against the original weights.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from nasco.kernels.quant import MIN_SCALE, fake_quant_reference, weight_qrange, weight_scales
from nasco.kernels.tables import FLOAT_BITS, PRUNE_EPS


class Sweep(NamedTuple):
    """Errors of one layer; shapes (n_bits,), (n_bits,), (n_prune,), (n_prune, n_bits)."""

    quant_mse: np.ndarray
    quant_sqnr_db: np.ndarray
    prune_mse: np.ndarray
    combined_mse: np.ndarray


@numba.njit(cache=True, nogil=True)
def _sweep_layer(w, bits, ratios, quant_mse, prune_mse, combined):  # pragma: no cover - jitted
    n_ch, k = w.shape
    nb = bits.shape[0]
    l1 = np.zeros(n_ch)
    energy = np.zeros(n_ch)
    qerr = np.zeros((n_ch, nb))
    qmax = np.empty(nb, dtype=np.float32)
    for b in range(nb):
        qmax[b] = np.float32(2 ** (bits[b] - 1) - 1)
    for c in range(n_ch):
        row = w[c]
        maxabs = np.float32(0.0)
        for i in range(k):
            a = abs(row[i])
            l1[c] += a
            energy[c] += np.float64(row[i]) * row[i]
            maxabs = max(maxabs, a)
        for b in range(nb):
            if bits[b] >= 32:
                continue
            scale = max(maxabs / qmax[b], MIN_SCALE)
            inv = np.float32(1.0) / scale
            acc = 0.0
            for i in range(k):
                q = min(max(np.rint(row[i] * inv), -qmax[b]), qmax[b])
                d = np.float64(q * scale) - row[i]
                acc += d * d
            qerr[c, b] = acc
    numel = n_ch * k
    order = np.argsort(l1, kind="mergesort")
    for b in range(nb):
        quant_mse[b] = qerr[:, b].sum() / numel
    for p in range(ratios.shape[0]):
        n_removed = min(np.int64(np.floor(ratios[p] * n_ch + PRUNE_EPS)), n_ch - 1)
        removed_energy = 0.0
        for j in range(n_removed):
            removed_energy += energy[order[j]]
        prune_mse[p] = removed_energy / numel
        for b in range(nb):
            kept_err = 0.0
            for j in range(n_removed, n_ch):
                kept_err += qerr[order[j], b]
            combined[p, b] = (removed_energy + kept_err) / numel
    return energy.sum()


def _sqnr_db(total_energy: float, quant_mse: np.ndarray, numel: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(total_energy / (quant_mse * numel))


def sweep_layer(weights: np.ndarray, bits, ratios) -> Sweep:
    """Fused sweep of one layer's weights (C, ...) over ``bits`` × ``ratios`` (module docstring)."""
    w = np.ascontiguousarray(weights, dtype=np.float32).reshape(len(weights), -1)
    bits, ratios = np.asarray(bits, dtype=np.int64), np.asarray(ratios, dtype=np.float64)
    quant_mse, prune_mse = np.empty(len(bits)), np.empty(len(ratios))
    combined = np.empty((len(ratios), len(bits)))
    total = _sweep_layer(w, bits, ratios, quant_mse, prune_mse, combined)
    return Sweep(quant_mse, _sqnr_db(total, quant_mse, w.size), prune_mse, combined)


# Serial on purpose: Numba's OpenMP threading layer sets the process's OpenMP thread count, which
# torch shares, to all cores, so one parallel sweep made every later torch computation in the
# process use 2 threads instead of 1 (different arithmetic: trained accuracies changed with test
# order). In parallel the sweep gained 1 ms of 7 on 40 layers; it runs once per campaign.
@numba.njit(cache=True)
def _sweep_many(flat, offsets, channels, bits, ratios, quant_mse, prune_mse, combined, energy):  # pragma: no cover
    for i in range(channels.shape[0]):
        c = channels[i]
        w = flat[offsets[i]:offsets[i + 1]].reshape((c, (offsets[i + 1] - offsets[i]) // c))
        energy[i] = _sweep_layer(w, bits, ratios, quant_mse[i], prune_mse[i], combined[i])


def sweep_layers(layers: list[np.ndarray], bits, ratios) -> list[Sweep]:
    """:func:`sweep_layer` over many layers in one compiled call."""
    bits, ratios = np.asarray(bits, dtype=np.int64), np.asarray(ratios, dtype=np.float64)
    rows = [np.ascontiguousarray(w, dtype=np.float32).reshape(len(w), -1) for w in layers]
    flat = np.concatenate([r.ravel() for r in rows]) if rows else np.empty(0, np.float32)
    offsets = np.concatenate([[0], np.cumsum([r.size for r in rows])]).astype(np.int64)
    channels = np.array([r.shape[0] for r in rows], dtype=np.int64)
    n = len(rows)
    quant_mse, prune_mse = np.empty((n, len(bits))), np.empty((n, len(ratios)))
    combined, energy = np.empty((n, len(ratios), len(bits))), np.empty(n)
    _sweep_many(flat, offsets, channels, bits, ratios, quant_mse, prune_mse, combined, energy)
    return [Sweep(quant_mse[i], _sqnr_db(energy[i], quant_mse[i], rows[i].size), prune_mse[i], combined[i])
            for i in range(n)]


def sweep_reference(weights: np.ndarray, bits, ratios) -> Sweep:
    """Plain reference: prune, fake-quantize with :func:`fake_quant_reference`, measure, per grid cell."""
    w = np.asarray(weights, dtype=np.float32).reshape(len(weights), -1)
    n_ch = w.shape[0]
    order = np.argsort(np.abs(w).sum(axis=1, dtype=np.float64), kind="stable")
    quantized = {}
    for b in bits:
        if b >= FLOAT_BITS:
            quantized[b] = w
            continue
        qmin, qmax = weight_qrange(int(b))
        quantized[b] = fake_quant_reference(w, weight_scales(w, int(b))[:, None], 0, qmin, qmax)
    combined = np.empty((len(ratios), len(bits)))
    prune_mse = np.empty(len(ratios))
    for p, ratio in enumerate(ratios):
        n_removed = min(int(np.floor(ratio * n_ch + PRUNE_EPS)), n_ch - 1)
        keep = np.ones(n_ch, dtype=bool)
        keep[order[:n_removed]] = False
        prune_mse[p] = np.mean(np.where(keep[:, None], 0, w).astype(np.float64) ** 2)
        for j, b in enumerate(bits):
            approx = np.where(keep[:, None], quantized[b], 0).astype(np.float64)
            combined[p, j] = np.mean((approx - w) ** 2)
    quant_mse = np.array([np.mean((quantized[b].astype(np.float64) - w) ** 2) for b in bits])
    total = float(np.sum(w.astype(np.float64) ** 2))
    return Sweep(quant_mse, _sqnr_db(total, quant_mse, w.size), prune_mse, combined)


@numba.njit(cache=True, nogil=True)
def _row_norms(w, order, out):  # pragma: no cover - jitted
    for c in range(w.shape[0]):
        acc = 0.0
        for i in range(w.shape[1]):
            acc += abs(w[c, i]) if order == 1 else np.float64(w[c, i]) * w[c, i]
        out[c] = acc if order == 1 else np.sqrt(acc)


def channel_norms(weights: np.ndarray, order: int = 1) -> np.ndarray:
    """L1 (``order=1``) or L2 (``order=2``) norm of each output channel of weights (C, ...), float64 (C,)."""
    if order not in (1, 2):
        raise ValueError(f"order: {order!r} is not allowed; allowed: 1 (L1) or 2 (L2)")
    w = np.ascontiguousarray(weights, dtype=np.float32).reshape(len(weights), -1)
    out = np.empty(w.shape[0])
    _row_norms(w, order, out)
    return out


def channel_norms_reference(weights: np.ndarray, order: int = 1) -> np.ndarray:
    """NumPy reference of :func:`channel_norms`."""
    w = np.asarray(weights, dtype=np.float64).reshape(len(weights), -1)
    return np.abs(w).sum(axis=1) if order == 1 else np.sqrt((w**2).sum(axis=1))
