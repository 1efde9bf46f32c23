"""Quantization-aware training modules: torch fake quantization with straight-through gradients.

Parameters follow :mod:`nasco.kernels.quant` (weights: per output channel, symmetric, narrow
range; activations: per tensor, asymmetric, range from an exponential moving average of the
batch min/max, Jacob et al. 2018), so the Numba simulation and these modules agree bit for
bit. Gradients pass straight through inside the clamping range (Bengio et al. 2013). A
bit-width of 32 means float: the module is the identity.

Weights and activations are fake-quantized with elementwise ops (:class:`_StraightThroughFakeQuant`):
the same values and gradients as torch's fused ``fake_quantize_per_channel_affine`` and
``fake_quantize_per_tensor_affine``, bit for bit, without their host synchronisations (each call of
those checks its zero points with ``.item()``: about 290 stalls per training step of a 30-layer
network on a GPU, ``benchmarks/bench_gpu.py``) and without the CPU kernel's scalar loop
(``benchmarks/bench_fake_quant.py``).

For export (ONNX), :func:`arithmetic_fake_quant` switches the modules of a model to the same
formula without the autograd function (``round(x · (1/s)) + z``, clamp, ``(q − z) · s``), which
exporters can trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from nasco.kernels.quant import MIN_SCALE, act_qrange, weight_qrange
from nasco.kernels.tables import FLOAT_BITS


class Quantizer(nn.Module):
    """Base of the fake-quantization points; ``bits`` comes from the genome."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = int(bits)
        self.arithmetic = False

    @property
    def is_float(self) -> bool:
        return self.bits >= FLOAT_BITS

    @staticmethod
    def passes_through(x: torch.Tensor) -> bool:
        """Meta tensors (shape-only passes, e.g. cost counting) are not quantized: shapes do not change."""
        return x.is_meta

    def extra_repr(self) -> str:
        return f"bits={self.bits}" + (" (float)" if self.is_float else "")


class WeightQuantizer(Quantizer):
    """Per-output-channel symmetric fake quantization of a weight tensor (C_out, ...)."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        if self.is_float or self.passes_through(w):
            return w
        return fake_quant_weight(w, self.bits, arithmetic=self.arithmetic)


def fake_quant_weight(w: torch.Tensor, bits: int, *, arithmetic: bool = False) -> torch.Tensor:
    """Per-output-channel symmetric fake quantization of ``w`` (C_out, ...) at ``bits`` (< 32)."""
    qmin, qmax = weight_qrange(bits)
    scale = (w.detach().abs().flatten(1).amax(dim=1) / qmax).clamp_min(float(MIN_SCALE)).float()
    if arithmetic:
        shape = (-1,) + (1,) * (w.dim() - 1)
        return _fake_quant_ops(w, scale.view(shape), torch.zeros_like(scale).view(shape), qmin, qmax)
    shape = (-1,) + (1,) * (w.dim() - 1)
    return _fake_quant_ste(w, scale.view(shape), torch.zeros_like(scale).view(shape), qmin, qmax)


def _fake_quant_ste(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
                    ) -> torch.Tensor:
    """Fake quantization with the straight-through gradient when ``x`` needs one; no host synchronisation."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _StraightThroughFakeQuant.apply(x, scale, zero_point, qmin, qmax)
    return _fake_quant_no_grad(x, scale, zero_point, qmin, qmax)


class ActQuantizer(Quantizer):
    """Per-tensor asymmetric fake quantization with an EMA-calibrated range.

    In training, each batch updates ``running_min``/``running_max`` (the first batch sets
    them); in evaluation the running range is used, or the batch's own range before any
    calibration. Everything stays on the device (no host synchronisation).

    Args:
        bits: bit-width (32 = float).
        momentum: weight of the old range in the EMA update.
    """

    def __init__(self, bits: int, momentum: float = 0.9) -> None:
        super().__init__(bits)
        self.momentum = momentum
        self.register_buffer("running_min", torch.zeros(()))
        self.register_buffer("running_max", torch.zeros(()))
        self.register_buffer("calibrated", torch.zeros((), dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_float or self.passes_through(x):
            return x
        if not (self.training or self.arithmetic) and x.device.type == "cpu" and bool(self.calibrated):
            return fake_quant_act(x, self.running_min, self.running_max, self.bits)  # no batch range needed
        detached = x.detach().float()
        flat = (detached if self.arithmetic else _dense_view(detached)).flatten()  # exporters: no stride checks
        batch_min, batch_max = flat.amin(dim=0), flat.amax(dim=0)
        if self.training:
            m = self.momentum
            new_min = torch.where(self.calibrated, m * self.running_min + (1 - m) * batch_min, batch_min)
            new_max = torch.where(self.calibrated, m * self.running_max + (1 - m) * batch_max, batch_max)
            self.running_min.copy_(new_min)
            self.running_max.copy_(new_max)
            self.calibrated.fill_(True)
            lo, hi = new_min, new_max
        else:
            lo = torch.where(self.calibrated, self.running_min, batch_min)
            hi = torch.where(self.calibrated, self.running_max, batch_max)
        return fake_quant_act(x, lo, hi, self.bits, arithmetic=self.arithmetic)


def _dense_view(x: torch.Tensor) -> torch.Tensor:
    """``x`` itself, or a permuted view of a channels-last tensor that is contiguous (reductions copy otherwise)."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return x.permute(0, 2, 3, 1)
    return x


def fake_quant_act(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bits: int, *,
                   arithmetic: bool = False) -> torch.Tensor:
    """Per-tensor asymmetric fake quantization of ``x`` over the range [lo, hi] at ``bits`` (< 32)."""
    scale, zero_point = act_qparams_torch(lo, hi, bits)
    qmin, qmax = act_qrange(bits)
    if arithmetic:
        return _fake_quant_ops(x.float(), scale, zero_point.float(), qmin, qmax).to(x.dtype)
    return _fake_quant_ste(x.float(), scale, zero_point.float(), qmin, qmax).to(x.dtype)


def _fake_quant_no_grad(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
                        ) -> torch.Tensor:
    """:func:`_fake_quant_ops` with one new tensor, the other steps in place."""
    return (x * (1.0 / scale)).round_().add_(zero_point).clamp_(qmin, qmax).sub_(zero_point).mul_(scale)


class _StraightThroughFakeQuant(torch.autograd.Function):
    """Fake quantization from elementwise ops (per tensor, or per channel with scales broadcast over ``x``) with
    torch's straight-through gradient: the incoming gradient where ``round(x · (1/s)) + z`` lies in
    [qmin, qmax], zero where it was clamped; none for the (detached) scale and zero point."""

    @staticmethod
    def forward(ctx, x, scale, zero_point, qmin, qmax):
        q = (x * (1.0 / scale)).round_().add_(zero_point)
        clamped = q.clamp(qmin, qmax)
        ctx.save_for_backward(clamped == q)
        return clamped.sub_(zero_point).mul_(scale)

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None, None, None


def _fake_quant_ops(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int
                    ) -> torch.Tensor:
    """Fake quantization from elementwise ops (round half to even, like ``std::nearbyint``)."""
    q = torch.clamp(torch.round(x * (1.0 / scale)) + zero_point, qmin, qmax)
    return (q - zero_point) * scale


@contextmanager
def arithmetic_fake_quant(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, the model's quantizers use elementwise ops (traceable by exporters)."""
    quantizers = [m for m in model.modules() if isinstance(m, Quantizer)]
    for q in quantizers:
        q.arithmetic = True
    try:
        yield model
    finally:
        for q in quantizers:
            q.arithmetic = False


def act_qparams_torch(lo: torch.Tensor, hi: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Tensor version of :func:`nasco.kernels.quant.act_qparams`: (scale float32 (1,), zero_point int32 (1,))."""
    qmax = act_qrange(bits)[1]
    lo = lo.float().clamp_max(0.0)
    hi = hi.float().clamp_min(0.0)
    scale = ((hi - lo) / qmax).clamp_min(float(MIN_SCALE))
    zero_point = torch.round(-lo / scale).clamp(0, qmax).to(torch.int32)
    return scale.reshape(1), zero_point.reshape(1)
