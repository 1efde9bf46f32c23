"""What one genome costs on a device the first time its shapes are seen, and again: inheritance and training.

Run (after ``bench_supernet.py`` has trained ``benchmarks/data/supernet_runs/fashion-supernet.pt``):
``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/device_shapes.py [--device cuda]``

A diagnosis, not a benchmark with targets. Every genome has its own channel counts, so every layer of a new
genome runs convolutions of shapes the process has not run before; a library that prepares work per shape (cuDNN,
for one, selects and builds a plan for each new convolution shape and batch size) pays that once per shape and
process.
In one process, on bench_supernet's Fashion-MNIST task (2,000 training images, 6,000 validation images) and
supernet, one after another:

1. ``--n`` rank genomes inherited (fine-tune, recalibrate, validate), then the same genomes again;
2. a genome trained stand-alone (4 epochs), the same genome again, a new genome;
3. two new genomes inherited under torch's CPU profiler (the ops with the most CPU time);
4. new genomes inherited and one trained with only the depthwise (grouped) convolutions kept off cuDNN, forward and
   backward (cuDNN 9.10 and later compile an execution plan at run time for each new depthwise shape:
   NVIDIA/cudnn-frontend issue 1066), then the same with cuDNN disabled for every convolution, then inherited with
   ``cudnn.benchmark``.

Each stage stops when ``--budget`` seconds are nearly spent (a device lease is short).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_supernet, also under PYTHONSAFEPATH=1
from bench_supernet import WORK, base_config, inherited_images, rank_genomes, setup

from nasco.evo.train.supernet import inherit, load_supernet
from nasco.evo.train.trainer import TrainConfig, train_candidate


class _GroupedConvWithoutCudnn(torch.autograd.Function):
    """A grouped convolution (no bias, dilation 1) whose forward and backward both run without cuDNN; under autocast
    it runs in the autocast dtype, as ``F.conv2d`` does."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda", cast_inputs=torch.bfloat16)
    def forward(ctx, x, weight, stride, padding, groups):
        ctx.save_for_backward(x, weight)
        ctx.settings = (_pair(stride), _pair(padding), groups)
        with torch.backends.cudnn.flags(enabled=False):
            return _CONV2D(x, weight, None, stride, padding, 1, groups)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        stride, padding, groups = ctx.settings
        with torch.backends.cudnn.flags(enabled=False):
            grad_x, grad_weight, _ = torch.ops.aten.convolution_backward(
                grad, x, weight, None, stride, padding, [1, 1], False, [0, 0], groups,
                [ctx.needs_input_grad[0], ctx.needs_input_grad[1], False])
        return grad_x, grad_weight, None, None, None


def _pair(value) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


_CONV2D = torch.nn.functional.conv2d


def _conv2d_grouped_without_cudnn(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if groups == 1 or bias is not None or _pair(dilation) != [1, 1] or isinstance(padding, str):
        return _CONV2D(x, weight, bias, stride, padding, dilation, groups)
    return _GroupedConvWithoutCudnn.apply(x, weight, stride, padding, groups)


@contextlib.contextmanager
def grouped_convolutions_without_cudnn() -> Iterator[None]:
    """Every ``F.conv2d`` with groups > 1 (the depthwise convolutions; ``nn.Conv2d`` calls it too) runs without
    cuDNN while inside."""
    torch.nn.functional.conv2d = _conv2d_grouped_without_cudnn
    try:
        yield
    finally:
        torch.nn.functional.conv2d = _CONV2D


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=10, help="genomes inherited twice (10)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each stand-alone training (4)")
    parser.add_argument("--budget", type=float, default=260, help="seconds for the whole run (260)")
    args = parser.parse_args()
    started = time.monotonic()
    torch.set_num_threads(1)
    config = base_config("fashion", argparse.Namespace(fashion_train=2000, device=args.device, supernet_epochs=0),
                         WORK / "unused")
    layout, task, settings, recipe = setup(config)
    supernet, _ = load_supernet(config["supernet"]["file"], layout, recipe=recipe, device=args.device)
    genomes = rank_genomes(layout, 100)
    images = inherited_images(settings, task)
    print(f"setup {time.monotonic() - started:.1f}s; inheritance passes {images} images", flush=True)

    def left() -> float:
        return args.budget - (time.monotonic() - started)

    def inherit_each(stage: str, indices: range) -> None:
        seconds = []
        for i in indices:
            if left() < 20:
                break
            seconds.append(inherit(supernet, genomes[i], task, settings).seconds)
        if seconds:
            print(f"{stage}: {np.round(seconds, 3).tolist()} median {np.median(seconds):.3f}s = "
                  f"{images / np.median(seconds):.0f} img/s", flush=True)

    def train(stage: str, i: int) -> None:
        if left() < 40:
            return
        result, _ = train_candidate(layout, genomes[i], task, TrainConfig(epochs=args.epochs, device=args.device),
                                    seed=0)
        print(f"{stage}: genome {i} {result.wall_time_s:.2f}s err {result.val_error:.3f} "
              f"({args.epochs * len(task.train) / result.wall_time_s:.0f} train img/s incl. validation)", flush=True)

    inherit_each("inherit first", range(args.n))
    inherit_each("inherit again", range(args.n))
    train("train first", 0)
    train("train again", 0)
    train("train new", 1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        inherit_each("inherit new (profiled)", range(args.n, args.n + 2))
    print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=12), flush=True)
    with grouped_convolutions_without_cudnn():
        inherit_each("inherit new, depthwise off cudnn", range(args.n + 12, args.n + 18))
        train("train new, depthwise off cudnn", 3)
        inherit_each("inherit those again, depthwise off cudnn", range(args.n + 12, args.n + 18))
    torch.backends.cudnn.enabled = False
    inherit_each("inherit new, cudnn off", range(args.n + 2, args.n + 8))
    train("train new, cudnn off", 2)
    torch.backends.cudnn.enabled = True
    torch.backends.cudnn.benchmark = True
    inherit_each("inherit new, cudnn benchmark", range(args.n + 8, args.n + 12))
    print(f"done {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
