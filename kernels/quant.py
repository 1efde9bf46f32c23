"""Numba fake quantization, bit-for-bit equal to ``torch.fake_quantize_per_{channel,tensor}_affine``.

Formula (float32 throughout, as torch's CPU kernels compute it)::

    inv = float32(1) / scale
    q   = clamp(rint(x * inv) + zero_point, quant_min, quant_max)   # rint: round half to even
    out = (q - zero_point) * scale

torch casts ``rint(x * inv) + zero_point`` to int64 before clamping; for ``|x / scale| < 2**63``
that cast is exact, so clamping in float32 gives the same result (beyond that torch's cast is
undefined behaviour, while this kernel clamps). NaN inputs are not supported.

Quantization parameters (computed once, shared with torch callers):

- weights, per output channel, symmetric, narrow range: ``quant_max = 2**(b-1) - 1``,
  ``quant_min = -quant_max``, ``scale_c = max(|w_c|) / quant_max`` (at least ``MIN_SCALE``),
  ``zero_point = 0`` — so b=2 is ternary {-1, 0, 1}·scale;
- activations, per tensor, asymmetric: ``quant_min = 0``, ``quant_max = 2**b - 1``, range
  ``[lo, hi]`` widened to contain 0, ``scale = (hi - lo) / quant_max`` (at least ``MIN_SCALE``),
  ``zero_point = clamp(rint(-lo / scale), 0, quant_max)`` (0 is represented exactly).
"""

from __future__ import annotations

import numba
import numpy as np

MIN_SCALE = np.float32(2.0**-24)


def weight_qrange(bits: int) -> tuple[int, int]:
    """(quant_min, quant_max) of symmetric narrow-range weight quantization."""
    q = 2 ** (bits - 1) - 1
    return -q, q


def act_qrange(bits: int) -> tuple[int, int]:
    """(quant_min, quant_max) of asymmetric activation quantization."""
    return 0, 2**bits - 1


def weight_scales(weights: np.ndarray, bits: int) -> np.ndarray:
    """Per-output-channel symmetric scales, float32 (C,), of weights (C, ...)."""
    w = np.asarray(weights, dtype=np.float32).reshape(len(weights), -1)
    scale = np.abs(w).max(axis=1) / np.float32(weight_qrange(bits)[1])
    return np.maximum(scale, MIN_SCALE).astype(np.float32)


def act_qparams(lo: float, hi: float, bits: int) -> tuple[np.float32, int]:
    """(scale, zero_point) of asymmetric per-tensor quantization of the range [lo, hi]."""
    lo32, hi32 = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
    qmax = act_qrange(bits)[1]
    scale = max(np.float32((hi32 - lo32) / np.float32(qmax)), MIN_SCALE)
    zero_point = int(min(max(np.rint(-lo32 / scale), 0), qmax))
    return np.float32(scale), zero_point


@numba.njit(cache=True, nogil=True, fastmath=False)
def _fake_quant_rows(x, scale, zero_point, quant_min, quant_max, out):  # pragma: no cover - jitted
    qmin = np.float32(quant_min)
    qmax = np.float32(quant_max)
    for c in range(x.shape[0]):
        s = scale[c]
        inv = np.float32(1.0) / s
        zp = np.float32(zero_point[c])
        for k in range(x.shape[1]):
            q = np.rint(x[c, k] * inv) + zp
            q = min(max(q, qmin), qmax)
            out[c, k] = (q - zp) * s


def _output(like: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return np.empty_like(like)
    if out.shape != like.shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out: shape {out.shape} dtype {out.dtype} is not allowed; allowed: a C-contiguous "
                         f"float32 array of shape {like.shape}")
    return out


def fake_quant_per_channel(weights: np.ndarray, scale: np.ndarray, zero_point: np.ndarray,
                           quant_min: int, quant_max: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Fake-quantize float32 ``weights`` (C, ...) per channel along axis 0 (into ``out`` if given).

    Equals ``torch.fake_quantize_per_channel_affine(w, scale, zero_point, 0, quant_min, quant_max)``.
    """
    w = np.ascontiguousarray(weights, dtype=np.float32)
    result = _output(w, out)
    _fake_quant_rows(w.reshape(w.shape[0], -1), np.ascontiguousarray(scale, dtype=np.float32),
                     np.ascontiguousarray(zero_point, dtype=np.int64), quant_min, quant_max,
                     result.reshape(w.shape[0], -1))
    return result


def fake_quant_per_tensor(x: np.ndarray, scale: float, zero_point: int, quant_min: int, quant_max: int, *,
                          out: np.ndarray | None = None) -> np.ndarray:
    """Fake-quantize float32 ``x`` (any shape) with one scale and zero point (into ``out`` if given).

    Equals ``torch.fake_quantize_per_tensor_affine(x, scale, zero_point, quant_min, quant_max)``.
    """
    a = np.ascontiguousarray(x, dtype=np.float32)
    result = _output(a, out)
    _fake_quant_rows(a.reshape(1, -1), np.array([scale], dtype=np.float32), np.array([zero_point], dtype=np.int64),
                     quant_min, quant_max, result.reshape(1, -1))
    return result


def fake_quant_reference(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray,
                         quant_min: int, quant_max: int) -> np.ndarray:
    """NumPy reference of the formula above; ``scale``/``zero_point`` broadcast against ``x``."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.asarray(zero_point).astype(np.float32)
    inv = np.float32(1.0) / scale
    q = np.clip(np.rint(x * inv) + zp, np.float32(quant_min), np.float32(quant_max))
    return ((q - zp) * scale).astype(np.float32)
