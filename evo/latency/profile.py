"""Measuring latency: per-layer profiling into a :class:`LatencyTable`, the overhead fit, the check.

Timing: on the CPU, ``time.perf_counter_ns`` around each forward with torch's threads fixed;
on CUDA, CUDA events around each forward and a synchronisation before reading them. Every
measurement runs under ``torch.inference_mode`` after warm-up runs.

Rounds: every entry (and every checked network) is timed in several rounds that visit all
entries in turn, so an entry's rounds lie seconds apart; it keeps the median and
interquartile range of its quietest round (lowest median). A shared machine changes speed
under its neighbours' load — on the 2-core VM this was built on, a network's median swings
between 2.4 and 3.8 ms in states lasting about a second — and a single window of timing
then measures the neighbours, not the network: two back-to-back passes over 40 random
networks (1×28×28, batch 1, median of 30 runs each) ranked them with Spearman ρ 0.35; with 5
rounds of 10 runs, each network keeping its quietest, two passes over 50 networks agree at
ρ 0.97. On a quiet machine the rounds change nothing.

Whole networks are measured in their deployed form: slim (pruned), float, BatchNorm folded
into the convolutions, eval mode — the same layers the table times one by one
(:func:`layer_module`).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nasco.evo.latency.table import LatencyError, LatencyTable, layer_configurations
from nasco.evo.space.genome import decode
from nasco.evo.space.layout import GenomeLayout
from nasco.evo.train.builder import CandidateNet, ConvUnit, build_model
from nasco.kernels.latency import unpack_key
from nasco.kernels.tables import FLOAT_BITS, KIND_DEPTHWISE, KIND_LINEAR, L_A_BITS, L_W_BITS


def device_description(device: torch.device, batch: int, threads: int) -> dict:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
    return {"type": device.type, "name": name, "torch": torch.__version__, "threads": threads, "batch": batch}


def layer_module_input(key: int) -> tuple[int, ...]:
    """The input shape, without batch, of one LUT key's layer."""
    k = unpack_key(key)
    return (k["c_in"],) if k["kind"] == KIND_LINEAR else (k["c_in"], k["h"], k["w"])


def layer_module(key: int) -> nn.Module:
    """The module of one LUT key: conv (+bias) [+ ReLU6] or linear (input: :func:`layer_module_input`)."""
    k = unpack_key(key)
    if k["kind"] == KIND_LINEAR:
        return nn.Linear(k["c_in"], k["c_out"])
    groups = k["c_in"] if k["kind"] == KIND_DEPTHWISE else 1
    conv = nn.Conv2d(k["c_in"], k["c_out"], k["kernel"], stride=k["stride"], padding=k["kernel"] // 2,
                     groups=groups, bias=True)
    return nn.Sequential(conv, nn.ReLU6(inplace=True)) if k["act"] else conv  # as in the network


def time_forward(module: nn.Module, x: torch.Tensor, device: torch.device, *, warmup: int, repeats: int
                 ) -> tuple[float, float]:
    """(median, interquartile range) in µs of ``module(x)`` over ``repeats`` runs after ``warmup``."""
    with torch.inference_mode():
        for _ in range(warmup):
            module(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(repeats)]
            for start, end in events:
                start.record()
                module(x)
                end.record()
            torch.cuda.synchronize(device)
            times = [start.elapsed_time(end) * 1e3 for start, end in events]
        else:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter_ns()
                module(x)
                times.append((time.perf_counter_ns() - t0) / 1e3)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return float(median), float(q3 - q1)


def profile(layout: GenomeLayout, device: torch.device, *, batch: int, threads: int, existing: LatencyTable | None,
            warmup: int = 3, repeats: int = 10, rounds: int = 7, budget_s: float = 0.0,
            progress: Callable[[int, int], None] | None = None, save: Callable[[LatencyTable], None] | None = None
            ) -> LatencyTable:
    """Measure every layer configuration of ``layout`` in ``rounds`` rounds (resumable).

    Entries of ``existing`` keep their values and only get the rounds they lack. ``budget_s``
    (0: none) bounds the whole profile; an entry whose first warm-up run says it would not fit
    in the remaining budget is skipped and listed in ``skipped``. ``save`` is called every few
    entries so that an interrupted profile keeps what it measured.
    """
    torch.set_num_threads(threads)
    keys = layer_configurations(layout)
    table = LatencyTable(layout.space.space_id, tuple(layout.space.input_shape),
                         device_description(device, batch, threads), keys, np.full(len(keys), np.nan),
                         np.full(len(keys), np.nan))
    if existing is not None:
        existing.check_layout(layout)
        if {k: v for k, v in existing.device.items()} != table.device:
            raise LatencyError(f"the existing table was measured on {existing.device}, not {table.device}; write "
                               "to a new file")
        index = {int(k): i for i, k in enumerate(existing.keys)}
        for i, k in enumerate(keys):
            if int(k) in index:
                j = index[int(k)]
                table.median_us[i], table.spread_us[i] = existing.median_us[j], existing.spread_us[j]
                table.rounds[i] = existing.rounds[j]
    started = time.perf_counter()
    total, done = int(np.maximum(rounds - table.rounds, 0).sum()), 0
    modules: dict[int, nn.Module] = {}
    for r in range(rounds):
        for i in np.flatnonzero(table.rounds <= r):
            key = int(keys[i])
            if key in table.skipped:
                continue
            if key not in modules:
                modules[key] = layer_module(key).to(device).eval()
            x = torch.randn(batch, *layer_module_input(key), device=device)
            if budget_s and table.rounds[i] == 0:
                once, _ = time_forward(modules[key], x, device, warmup=1, repeats=1)
                left = budget_s - (time.perf_counter() - started)
                if once * 1e-6 * (warmup + repeats) * rounds > left:
                    table.skipped.append(key)
                    continue
            median, spread = time_forward(modules[key], x, device, warmup=warmup, repeats=repeats)
            if not median >= table.median_us[i]:  # lower, or the first round (NaN)
                table.median_us[i], table.spread_us[i] = median, spread
            table.rounds[i] += 1
            done += 1
            if progress is not None:
                progress(done, total)
            if save is not None and done % 25 == 0:
                save(table)
    return table


def deploy_model(layout: GenomeLayout, genome: np.ndarray, model: CandidateNet | None = None) -> CandidateNet:
    """The network as deployed for timing: slim, float, BatchNorm folded into its convolutions, eval.

    ``model``: the genome's slim float network to fold (changed in place; it computes the same logits
    in eval mode); None: a freshly initialised one."""
    if model is None:
        layers = decode(layout, genome)
        array = layers.array.copy()
        array[:, [L_W_BITS, L_A_BITS]] = FLOAT_BITS
        model = build_model(type(layers)(array, layers.names, layers.roles), slim=True)
    model = model.eval()
    for unit in model.modules():
        if isinstance(unit, ConvUnit):
            fused = torch.nn.utils.fusion.fuse_conv_bn_eval(unit.conv, unit.bn)
            plain = nn.Conv2d(fused.in_channels, fused.out_channels, fused.kernel_size, stride=fused.stride,
                              padding=fused.padding, groups=fused.groups, bias=True)
            plain.load_state_dict({"weight": fused.weight, "bias": fused.bias})
            unit.conv, unit.bn, unit.mask = plain, nn.Identity(), nn.Identity()  # slim: the masks keep everything
    linear = nn.Linear(model.classifier.in_features, model.classifier.out_features)
    linear.load_state_dict({"weight": model.classifier.weight, "bias": model.classifier.bias})
    model.classifier = linear
    for block in model.blocks:
        block.hidden_mask = nn.Identity()
    return model


def measure_networks(layout: GenomeLayout, genomes: np.ndarray, device: torch.device, *, batch: int, threads: int,
                     warmup: int = 3, repeats: int = 10, rounds: int = 7) -> np.ndarray:
    """End-to-end latency (µs) of each genome's deployed network: the median of its quietest round."""
    torch.set_num_threads(threads)
    models = [deploy_model(layout, genome).to(device) for genome in genomes]
    best = np.full(len(genomes), np.inf)
    for _ in range(rounds):
        for n, model in enumerate(models):
            x = torch.randn(batch, *layout.space.input_shape, device=device)
            best[n] = min(best[n], time_forward(model, x, device, warmup=warmup, repeats=repeats)[0])
    return best


def fit_overhead(table: LatencyTable, layout: GenomeLayout, genomes: np.ndarray, measured: np.ndarray
                 ) -> tuple[float, float]:
    """Least-squares (c0, c1) of measured − Σ LUT = c0 + c1 · n_layers over calibration networks."""
    zero = LatencyTable(table.space_id, table.input_shape, table.device, table.keys, table.median_us,
                        table.spread_us, (0.0, 0.0))
    residual = measured - zero.predict(layout, genomes)
    n_layers = np.array([len(decode(layout, g).array) for g in genomes], dtype=np.float64)
    design = np.column_stack([np.ones(len(genomes)), n_layers])
    (c0, c1), *_ = np.linalg.lstsq(design, residual, rcond=None)
    return float(c0), float(c1)
