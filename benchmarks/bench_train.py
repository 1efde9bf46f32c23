"""Candidate training throughput (images/s) and accuracy on this machine's CPU (and GPU if present).

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_train.py``.

Digits (8×8, the default task): the default space's middle architecture as a float network
and compressed (4-bit weights / 8-bit activations / 50% pruning, 2-bit weights, 75% pruning),
each trained for the test suite's fixed budget of 15 epochs; images/s counts training images
× epochs over the whole ``train_candidate`` wall time (slimming and evaluation included).
28×28: the default space for 1×28×28 at its middle architecture, 1 epoch on Fashion-MNIST
(read from Debian's dataset-fashion-mnist when installed; otherwise synthetic 28×28 data
of the same size, said in the output). One torch thread on the CPU.

Targets: digits ≥ 95% validation accuracy for the float network (issue 3), and throughput
that lets the default campaign (about 5 minutes on 2 cores, ~40 candidates of ~10 epochs)
fit: ≥ 2,000 images/s on digits; ≥ 180 images/s at 28×28 (an epoch of Fashion-MNIST's
54,000 training images within 5 minutes).
"""

from __future__ import annotations

import datetime
import gzip
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results

from nasco.evo import compile_space, default_space
from nasco.evo.space.genome import fixed_genome
from nasco.evo.train.datasets import load_task
from nasco.evo.train.trainer import TrainConfig, train_candidate

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
EPOCHS = 15




def fashion_task(tmp: Path):
    if DEBIAN_FASHION.is_dir():
        raw = tmp / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for gz in DEBIAN_FASHION.glob("*.gz"):
            with gzip.open(gz) as src, open(raw / gz.name.removesuffix(".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
        return load_task("fashion-mnist", root=tmp, download=False), "Fashion-MNIST (Debian package)"
    rng = np.random.default_rng(0)
    path = tmp / "synthetic.npz"
    np.savez(path, x=rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8), y=rng.integers(0, 10, 60_000))
    return load_task("npz", root=path, num_classes=10), "synthetic 28×28 (dataset-fashion-mnist not installed)"


def run(task, genome_kwargs, epochs, device):
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = fixed_genome(layout, **genome_kwargs)
    result, _ = train_candidate(layout, genome, task, TrainConfig(epochs=epochs, device=device), seed=0)
    if result.status != "ok":
        raise SystemExit(f"training failed: {result.reason}")
    return result, len(task.train) * epochs / result.wall_time_s


def main() -> int:
    torch.set_num_threads(1)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    digits = load_task("digits", seed=0)
    variants = [("float (32/32, no pruning)", {}),
                ("4-bit w / 8-bit a / 50% pruned", dict(weight_bits=4, act_bits=8, prune=0.5)),
                ("2-bit weights", dict(weight_bits=2)),
                ("75% pruned", dict(prune=0.75))]
    print(f"# bench_train  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); devices: {devices}"
          + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ""))
    print(f"# digits: {len(digits.train)} train / {len(digits.val)} val images, {EPOCHS} epochs, batch 64")
    print()
    print(f"{'device':<7}{'task':<12}{'candidate':<34}{'val acc':>9}{'MACs':>11}{'seconds':>9}{'images/s':>10}")
    measured = {}
    for device in devices:
        for name, kwargs in variants:
            result, rate = run(digits, kwargs, EPOCHS, device)
            measured[(device, "digits", name)] = (1 - result.val_error, rate)
            print(f"{device:<7}{'digits':<12}{name:<34}{1 - result.val_error:>9.3f}{result.macs:>11,}"
                  f"{result.wall_time_s:>9.1f}{rate:>10,.0f}")
    with tempfile.TemporaryDirectory() as tmp:
        fashion, source = fashion_task(Path(tmp))
        for device in devices:
            result, rate = run(fashion, {}, 1, device)
            measured[(device, "28x28", "float")] = (1 - result.val_error, rate)
            print(f"{device:<7}{'28×28':<12}{'float, 1 epoch':<34}{1 - result.val_error:>9.3f}{result.macs:>11,}"
                  f"{result.wall_time_s:>9.1f}{rate:>10,.0f}")
    print(f"# 28×28 data: {source}, {len(fashion.train):,} training images")
    print()
    float_acc, float_rate = measured[("cpu", "digits", variants[0][0])]
    results = [
        ("digits_float_val_accuracy", float_acc, 0.95),
        ("cpu_train_images_per_s_digits", float_rate, 2000),
        ("cpu_train_images_per_s_28x28", measured[("cpu", "28x28", "float")][1], 180),
    ]
    if "cuda" in devices:
        results.append(("gpu_train_images_per_s_digits", measured[("cuda", "digits", variants[0][0])][1], float_rate))
        results.append(("gpu_train_images_per_s_28x28", measured[("cuda", "28x28", "float")][1],
                        measured[("cpu", "28x28", "float")][1]))
    accuracy, rates = results[:1], results[1:]
    ok = print_results([(n, v, ">=", t) for n, v, t in accuracy], digits=3)
    return 0 if print_results([(n, v, ">=", round(t)) for n, v, t in rates], digits=0) and ok else 1


if __name__ == "__main__":
    sys.exit(main())
