"""Fused quantization/pruning sweep vs looping torch fake-quant; fake-quant bandwidth vs a NumPy copy.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_quant.py``.

1. Sweep: every conv/linear weight of the default 3×32×32 network at its largest
   architecture (full width), over the space's weight bit-widths × prune ratios. nasco's
   fused kernel (one pass per layer, all grid cells) against the plain torch loop a user
   would write: for every layer and grid cell, prune the smallest-L1 channels,
   ``torch.fake_quantize_per_channel_affine`` the kept ones and compute MSE. Also shown: a
   smarter torch loop that quantizes once per bit-width and reuses it for every ratio, and
   nasco's batch version (all layers in one compiled call; serial, so that Numba never
   changes the OpenMP thread count torch shares). Results are checked equal (rtol 1e-6).
2. Bandwidth: fake quantization of a 256 MiB float32 weight matrix per channel (and per
   tensor) by the single-threaded Numba kernel, against ``np.copyto`` of the same array;
   both write into the same preallocated output; bytes moved = read + write for both.
   torch's fake-quant is shown for reference.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results

from nasco.evo import build_model, compile_space, decode, default_space
from nasco.evo.space.genome import fixed_genome
from nasco.kernels.quant import act_qparams, fake_quant_per_channel, fake_quant_per_tensor, weight_qrange, weight_scales
from nasco.kernels.sweep import sweep_layer, sweep_layers
from nasco.kernels.tables import PRUNE_EPS

TARGET_SWEEP_SPEEDUP = 10.0
TARGET_BANDWIDTH_SHARE = 0.5


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def torch_grid_loop(layers, bits, ratios, *, reuse_quant: bool) -> list[np.ndarray]:
    out = []
    for w in layers:
        wt = torch.from_numpy(w)
        n_ch = wt.shape[0]
        order = torch.argsort(wt.abs().sum(dim=1, dtype=torch.float64), stable=True)
        table = np.empty((len(ratios), len(bits)))
        cache = {}
        for p, ratio in enumerate(ratios):
            n_removed = min(int(np.floor(ratio * n_ch + PRUNE_EPS)), n_ch - 1)
            keep = torch.ones(n_ch, dtype=torch.bool)
            keep[order[:n_removed]] = False
            for j, b in enumerate(bits):
                if b >= 32:
                    q = wt
                elif reuse_quant and b in cache:
                    q = cache[b]
                else:
                    qmin, qmax = weight_qrange(b)
                    scale = (wt.abs().amax(dim=1) / qmax).clamp_min(2.0**-24)
                    q = torch.fake_quantize_per_channel_affine(wt, scale, torch.zeros(n_ch, dtype=torch.int32),
                                                               0, qmin, qmax)
                    cache[b] = q
                approx = torch.where(keep[:, None], q, torch.zeros_like(q))
                table[p, j] = float(((approx.double() - wt.double()) ** 2).mean())
        out.append(table)
    return out




def main() -> int:
    torch.set_num_threads(1)
    layout = compile_space(default_space((3, 32, 32), 10))
    bits, ratios = layout.space.compression.weight_bits, layout.space.compression.prune_ratios
    torch.manual_seed(0)
    model = build_model(decode(layout, fixed_genome(layout, arch="max")), slim=False)
    layers = [m.weight.detach().numpy().reshape(m.weight.shape[0], -1).copy()
              for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    n_weights = sum(w.size for w in layers)

    sweep_layer(layers[0], bits, ratios)
    sweep_layers(layers[:2], bits, ratios)  # compile/load caches outside the measurements
    fused = [sweep_layer(w, bits, ratios).combined_mse for w in layers]
    naive = torch_grid_loop(layers, bits, ratios, reuse_quant=False)
    agree = all(np.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(fused, naive, strict=True))
    t_fused = best_of(lambda: [sweep_layer(w, bits, ratios) for w in layers], 5)
    t_batch = best_of(lambda: sweep_layers(layers, bits, ratios), 5)
    t_naive = best_of(lambda: torch_grid_loop(layers, bits, ratios, reuse_quant=False), 2)
    t_smart = best_of(lambda: torch_grid_loop(layers, bits, ratios, reuse_quant=True), 2)

    rng = np.random.default_rng(0)
    big = rng.standard_normal((4096, 16384), dtype=np.float32)  # 256 MiB
    scale = weight_scales(big, 4)
    zp = np.zeros(len(big), dtype=np.int64)
    qmin, qmax = weight_qrange(4)
    a_scale, a_zp = act_qparams(-4.0, 4.0, 8)
    dst = np.empty_like(big)
    fake_quant_per_channel(big[:2], scale[:2], zp[:2], qmin, qmax)
    moved = 2 * big.nbytes / 1e9
    t_copy = best_of(lambda: np.copyto(dst, big), 5)
    t_channel = best_of(lambda: fake_quant_per_channel(big, scale, zp, qmin, qmax, out=dst), 5)
    t_tensor = best_of(lambda: fake_quant_per_tensor(big, a_scale, a_zp, 0, 255, out=dst), 5)
    tb, ts, tz = torch.from_numpy(big), torch.from_numpy(scale), torch.from_numpy(zp).int()
    t_torch = best_of(lambda: torch.fake_quantize_per_channel_affine(tb, ts, tz, 0, qmin, qmax), 3)

    print(f"# bench_quant  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; threads: torch {torch.get_num_threads()}, "
          "numba kernels 1; "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"# sweep: {len(layers)} layers, {n_weights:,} weights, grid {len(ratios)} ratios × {len(bits)} bit-widths "
          f"{list(bits)}; fused equals the torch loop: {agree}")
    print()
    print(f"{'sweep':<52}{'seconds':>10}{'fused is ×':>12}")
    for name, t in [("nasco fused sweep, layer by layer (1 thread)", t_fused),
                    ("nasco batch sweep, all layers in one call (1 thread)", t_batch),
                    ("torch loop: fake-quant + MSE per grid cell", t_naive),
                    ("torch loop: fake-quant once per bit-width", t_smart)]:
        print(f"{name:<52}{t:>10.4f}{t / t_fused:>12.1f}")
    print()
    print(f"{'fake quantization of 4096×16384 float32':<52}{'seconds':>10}{'GB/s':>10}{'of copy':>10}")
    for name, t in [("np.copyto (memory bandwidth reference)", t_copy),
                    ("nasco per-channel kernel (1 thread)", t_channel),
                    ("nasco per-tensor kernel (1 thread)", t_tensor),
                    ("torch.fake_quantize_per_channel_affine", t_torch)]:
        print(f"{name:<52}{t:>10.4f}{moved / t:>10.2f}{t_copy / t:>10.0%}")
    print()
    results = [
        ("sweep_speedup_vs_torch_loop", t_naive / t_fused, TARGET_SWEEP_SPEEDUP),
        ("sweep_equal_to_torch_loop", float(agree), 1.0),
        ("fake_quant_share_of_copy_bandwidth", t_copy / t_channel, TARGET_BANDWIDTH_SHARE),
    ]
    return 0 if print_results([(n, v, ">=", t) for n, v, t in results], digits=2) else 1


if __name__ == "__main__":
    sys.exit(main())
