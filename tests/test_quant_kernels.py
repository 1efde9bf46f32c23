"""Numba fake quantization equals torch bit for bit; the fused sweep equals its reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasco.evo.train.quant import ActQuantizer, WeightQuantizer, act_qparams_torch, fake_quant_act
from nasco.kernels.quant import (
    MIN_SCALE,
    act_qparams,
    act_qrange,
    fake_quant_per_channel,
    fake_quant_per_tensor,
    fake_quant_reference,
    weight_qrange,
    weight_scales,
)
from nasco.kernels.sweep import (
    channel_norms,
    channel_norms_reference,
    sweep_layer,
    sweep_layers,
    sweep_reference,
)

BITS = range(2, 9)


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(np.asarray(a, np.float32).view(np.int32), np.asarray(b, np.float32).view(np.int32))


def _weights_with_ties_and_extremes(rng, bits):
    w = (rng.standard_normal((48, 8, 3, 3)) * rng.uniform(1e-3, 10, (48, 1, 1, 1))).astype(np.float32)
    scale = weight_scales(w, bits)
    qmax = weight_qrange(bits)[1]
    halves = (np.arange(-qmax, qmax) + 0.5).astype(np.float32)  # exact ties between two levels
    w[0].flat[: len(halves)] = halves * scale[0]
    w[1] = 0.0  # an all-zero channel (scale clamps to MIN_SCALE)
    return w, scale


@pytest.mark.parametrize("bits", BITS)
def test_per_channel_bit_exact_with_torch(bits):
    rng = np.random.default_rng(bits)
    w, scale = _weights_with_ties_and_extremes(rng, bits)
    # scales smaller than the data: extreme values far outside the range must clamp identically
    scale[2:10] /= np.float32(1e4)
    zero_point = np.zeros(len(w), dtype=np.int64)
    qmin, qmax = weight_qrange(bits)
    ours = fake_quant_per_channel(w, scale, zero_point, qmin, qmax)
    theirs = torch.fake_quantize_per_channel_affine(torch.from_numpy(w), torch.from_numpy(scale),
                                                    torch.from_numpy(zero_point).int(), 0, qmin, qmax).numpy()
    assert _bits_equal(ours, theirs)
    assert _bits_equal(fake_quant_reference(w, scale[:, None, None, None], 0, qmin, qmax), theirs)


@pytest.mark.parametrize("bits", BITS)
def test_per_tensor_bit_exact_with_torch(bits):
    rng = np.random.default_rng(100 + bits)
    x = (rng.standard_normal(50_000) * 3 + 0.7).astype(np.float32)
    scale, zero_point = act_qparams(-2.5, 6.0, bits)
    x[:64] = ((np.arange(64) - 20) + np.float32(0.5)).astype(np.float32) * scale  # ties
    x[64:70] = [1e9, -1e9, 3.0e30, -3.0e30, np.finfo(np.float32).tiny, -0.0]  # extremes
    qmin, qmax = act_qrange(bits)
    ours = fake_quant_per_tensor(x, scale, zero_point, qmin, qmax)
    theirs = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(scale), zero_point, qmin, qmax).numpy()
    assert _bits_equal(ours, theirs)
    assert _bits_equal(fake_quant_reference(x, scale, zero_point, qmin, qmax), theirs)


@pytest.mark.parametrize("bits", BITS)
def test_torch_modules_match_numba(bits):
    rng = np.random.default_rng(200 + bits)
    w = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    qmin, qmax = weight_qrange(bits)
    expected = fake_quant_per_channel(w, weight_scales(w, bits), np.zeros(16, np.int64), qmin, qmax)
    assert _bits_equal(WeightQuantizer(bits)(torch.from_numpy(w)).numpy(), expected)

    quant = ActQuantizer(bits)
    x = torch.from_numpy(rng.standard_normal((8, 4, 5, 5)).astype(np.float32))
    quant.train()(x)  # calibrates to this batch's range
    quant.eval()
    lo, hi = float(quant.running_min), float(quant.running_max)
    scale, zero_point = act_qparams(lo, hi, bits)
    t_scale, t_zp = act_qparams_torch(quant.running_min, quant.running_max, bits)
    assert _bits_equal(t_scale.numpy(), [scale]) and int(t_zp) == zero_point
    expected = fake_quant_per_tensor(x.numpy(), scale, zero_point, *act_qrange(bits))
    assert _bits_equal(quant(x).numpy(), expected)


@pytest.mark.parametrize("bits", BITS)
def test_cpu_act_fake_quant_equals_torchs_fused_op(bits):
    """The elementwise CPU path gives torch's values bit for bit and its straight-through gradient (zero
    where clamped), with and without autograd."""
    rng = np.random.default_rng(300 + bits)
    x = (rng.standard_normal(20_000) * 3 + 0.7).astype(np.float32)
    lo, hi = torch.tensor(-2.5), torch.tensor(6.0)
    scale, zero_point = act_qparams_torch(lo, hi, bits)
    x[:64] = ((np.arange(64) - 20) + np.float32(0.5)).astype(np.float32) * float(scale)  # ties
    x[64:69] = [1e9, -1e9, np.finfo(np.float32).tiny, -0.0, 0.0]
    qmin, qmax = act_qrange(bits)
    ours_in = torch.from_numpy(x).requires_grad_()
    theirs_in = torch.from_numpy(x).requires_grad_()
    ours = fake_quant_act(ours_in, lo, hi, bits)
    theirs = torch.fake_quantize_per_tensor_affine(theirs_in, scale, zero_point, qmin, qmax)
    assert _bits_equal(ours.detach().numpy(), theirs.detach().numpy())
    upstream = torch.from_numpy(rng.standard_normal(x.shape).astype(np.float32))
    ours.backward(upstream)
    theirs.backward(upstream)
    assert torch.equal(ours_in.grad, theirs_in.grad) and (ours_in.grad == 0).any()
    with torch.no_grad():
        assert _bits_equal(fake_quant_act(torch.from_numpy(x), lo, hi, bits).numpy(), theirs.detach().numpy())


def test_float_bits_are_identity_and_ste_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    assert WeightQuantizer(32)(x) is x and ActQuantizer(32)(x) is x
    y = WeightQuantizer(4)(x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # straight-through inside the range


def test_act_quantizer_ema():
    quant = ActQuantizer(8, momentum=0.5).train()
    quant(torch.tensor([-1.0, 1.0]))
    quant(torch.tensor([-3.0, 5.0]))
    assert float(quant.running_min) == -2.0 and float(quant.running_max) == 3.0


BITS_GRID = [2, 3, 4, 6, 8, 32]
RATIOS = [0.0, 0.25, 0.5, 0.75]


@pytest.mark.parametrize("shape", [(16, 3, 3, 3), (96, 16, 1, 1), (96, 1, 5, 5), (10, 64), (1, 7)])
def test_sweep_equals_reference(shape):
    w = np.random.default_rng(sum(shape)).standard_normal(shape).astype(np.float32)
    ours, ref = sweep_layer(w, BITS_GRID, RATIOS), sweep_reference(w, BITS_GRID, RATIOS)
    np.testing.assert_allclose(ours.combined_mse, ref.combined_mse, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours.quant_mse, ref.quant_mse, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours.prune_mse, ref.prune_mse, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ours.quant_sqnr_db[:-1], ref.quant_sqnr_db[:-1], rtol=1e-9)
    assert ours.combined_mse.shape == (len(RATIOS), len(BITS_GRID))
    assert np.isinf(ours.quant_sqnr_db[-1]) and ours.quant_mse[-1] == 0  # 32 bits = float
    assert np.all(np.diff(ours.combined_mse[:, :-1], axis=1) <= 1e-12)  # more bits, less error
    assert np.all(np.diff(ours.prune_mse) >= 0)


def test_batch_sweep_equals_single_layer_sweeps():
    rng = np.random.default_rng(7)
    layers = [rng.standard_normal(s).astype(np.float32) for s in [(16, 27), (96, 16), (96, 9), (24, 96), (10, 64)]]
    for batched, w in zip(sweep_layers(layers, BITS_GRID, RATIOS), layers, strict=True):
        single = sweep_layer(w, BITS_GRID, RATIOS)
        for a, b in zip(batched, single, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("order", [1, 2])
def test_channel_norms(order):
    w = np.random.default_rng(order).standard_normal((32, 8, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(channel_norms(w, order), channel_norms_reference(w, order), rtol=1e-10)
    with pytest.raises(ValueError, match="order: 3 is not allowed"):
        channel_norms(w, 3)


def test_fake_quant_into_preallocated_output():
    w = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    scale = weight_scales(w, 4)
    out = np.empty_like(w)
    result = fake_quant_per_channel(w, scale, np.zeros(8, np.int64), -7, 7, out=out)
    assert result is out and _bits_equal(out, fake_quant_per_channel(w, scale, np.zeros(8, np.int64), -7, 7))
    with pytest.raises(ValueError, match=r"out: shape \(5, 8\)"):
        fake_quant_per_channel(w, scale, np.zeros(8, np.int64), -7, 7, out=np.empty((5, 8), np.float32))


def test_sweeps_leave_torchs_thread_count_alone():
    """A parallel Numba sweep (OpenMP threading layer) used to set the OpenMP thread count that torch
    shares to every core, so every later training in the process used 2 threads instead of 1 and
    trained to other accuracies (test_compression_is_real failed after test_nsga ran)."""
    from nasco.kernels.sweep import sweep_layers

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rng = np.random.default_rng(0)
        sweep_layers([rng.standard_normal((8, 9)).astype(np.float32) for _ in range(5)], [2, 4, 8], [0.0, 0.5])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def _torch_fused_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    qmin, qmax = weight_qrange(bits)
    scale = torch.from_numpy(weight_scales(w.detach().numpy(), bits))
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(len(scale), dtype=torch.int32), 0, qmin,
                                                  qmax)


@pytest.mark.parametrize("bits", BITS)
def test_weight_fake_quant_equals_torchs_fused_op_with_its_gradient(bits):
    """Weights too are fake-quantized with elementwise ops: torch's per-channel values bit for bit and its
    straight-through gradient (scales from the channel maximum never clamp, so it passes whole)."""
    from nasco.evo.train.quant import fake_quant_weight

    rng = np.random.default_rng(400 + bits)
    w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    w[1] = 0.0
    ours_in, theirs_in = torch.from_numpy(w).requires_grad_(), torch.from_numpy(w).requires_grad_()
    ours, theirs = fake_quant_weight(ours_in, bits), _torch_fused_weight(theirs_in, bits)
    assert _bits_equal(ours.detach().numpy(), theirs.detach().numpy())
    upstream = torch.from_numpy(rng.standard_normal(w.shape).astype(np.float32))
    ours.backward(upstream)
    theirs.backward(upstream)
    assert torch.equal(ours_in.grad, theirs_in.grad)


def test_fake_quantization_never_waits_for_the_device():
    """torch's fused fake-quant ops check zero points with .item() (a host synchronisation per call, ~290 per
    training step on a GPU): nasco's quantizers make none, forward or backward."""
    from torch.profiler import ProfilerActivity, profile

    conv_w = torch.randn(16, 8, 3, 3, requires_grad=True)
    x = torch.randn(4, 8, 6, 6, requires_grad=True)
    weight, act = WeightQuantizer(4), ActQuantizer(6).train()
    act(x)  # calibrated
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        y = torch.nn.functional.conv2d(act(x), weight(conv_w))
        y.sum().backward()
        act.eval()
        with torch.no_grad():
            act(x)  # the CPU's evaluation shortcut reads one flag; nothing per element
    counts = {e.key: e.count for e in prof.key_averages()}
    assert counts.get("aten::_local_scalar_dense", 0) <= 1, counts


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_fake_quant_on_cuda_equals_torchs_fused_ops(bits):
    """On CUDA too, nasco's elementwise fake quantization gives torch's fused CUDA kernels' values bit for bit,
    with the same scales (computed on the device)."""
    from nasco.evo.train.quant import fake_quant_weight

    rng = np.random.default_rng(500 + bits)
    w = torch.from_numpy(rng.standard_normal((32, 16, 3, 3)).astype(np.float32)).cuda()
    qmin, qmax = weight_qrange(bits)
    scale = (w.abs().flatten(1).amax(dim=1) / qmax).clamp_min(float(MIN_SCALE)).float()
    theirs = torch.fake_quantize_per_channel_affine(w, scale, torch.zeros(len(scale), dtype=torch.int32,
                                                                            device="cuda"), 0, qmin, qmax)
    assert _bits_equal(fake_quant_weight(w, bits).cpu().numpy(), theirs.cpu().numpy())
    x = torch.from_numpy((rng.standard_normal(100_000) * 3).astype(np.float32)).cuda()
    lo, hi = torch.tensor(-2.5, device="cuda"), torch.tensor(6.0, device="cuda")
    scale, zero_point = act_qparams_torch(lo, hi, bits)
    theirs = torch.fake_quantize_per_tensor_affine(x, scale, zero_point, *act_qrange(bits))
    assert _bits_equal(fake_quant_act(x, lo, hi, bits).cpu().numpy(), theirs.cpu().numpy())
