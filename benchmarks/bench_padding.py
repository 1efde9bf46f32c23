"""Shape padding keeps search-fidelity errors faithful: padded vs exact trainings of the same genomes.

Run: ``PYTHONSAFEPATH=1 python benchmarks/bench_padding.py [--genomes 24] [--workers 2]``

``training.channel_multiple`` and ``training.depthwise_kernel`` (``nasco.evo.train.padding``) train a
genome's network with padded layer shapes: the same logits and gradients, but float sums in another
order, so a training drifts from the exact one the way a training on another CPU does. This measures
whether that drift is noise: random genomes of the default space on digits, at the campaign's search
recipe (4 epochs, batch 64, 1 torch thread each), trained exact with seeds 0 and 1 and padded
(channels to 32, depthwise kernels 7×7) with seed 0. The padding's effect |exact − padded| is set
beside the seed-to-seed spread |seed 0 − seed 1|, and the mean shift (padded − exact) beside its
standard error. The CPU seconds show the padded network's extra arithmetic (what it saves is a GPU's
per-shape planning: ``bench_gpu.py``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import cpu_name, git_commit, print_results

PADDING = {"channel_multiple": 32, "depthwise_kernel": 7}
RUNS = (("exact", 0, {}), ("exact", 1, {}), ("padded", 0, PADDING))


def _train(job: tuple[int, int, dict]) -> tuple[float, float]:
    """(validation error, seconds) of genome ``job[0]`` trained with seed ``job[1]`` and padding ``job[2]``."""
    import torch

    from nasco.evo import compile_space, default_space, sample_genomes
    from nasco.evo.train.datasets import load_task
    from nasco.evo.train.trainer import TrainConfig, train_candidate

    torch.set_num_threads(1)
    index, seed, padding = job
    task = load_task("digits", seed=0)
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = sample_genomes(layout, np.random.default_rng(2026), index + 1)[index]
    started = time.perf_counter()
    result, _ = train_candidate(layout, genome, task, TrainConfig(epochs=4, device="cpu", **padding), seed=seed)
    if result.status != "ok":
        raise RuntimeError(f"genome {index} seed {seed} {padding}: {result.reason}")
    return result.val_error, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genomes", type=int, default=24, help="random genomes of the default space")
    parser.add_argument("--workers", type=int, default=2, help="trainings in parallel (1 torch thread each)")
    args = parser.parse_args()
    jobs = [(g, seed, padding) for g in range(args.genomes) for _, seed, padding in RUNS]
    with ProcessPoolExecutor(args.workers) as pool:
        done = list(pool.map(_train, jobs))
    errors = np.array([e for e, _ in done]).reshape(args.genomes, len(RUNS))
    seconds = np.array([s for _, s in done]).reshape(args.genomes, len(RUNS))

    print(f"# bench_padding  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; {args.workers} trainings in parallel, 1 torch thread "
          f"each; code {git_commit()}")
    print(f"# digits, default space, {args.genomes} random genomes (rng 2026), 4 epochs, batch 64; padded = "
          f"channel_multiple {PADDING['channel_multiple']}, depthwise_kernel {PADDING['depthwise_kernel']}\n")
    print(f"{'genome':>6} {'exact s0':>9} {'exact s1':>9} {'padded s0':>10} {'s exact':>8} {'s padded':>9}")
    for g in range(args.genomes):
        print(f"{g:6d} {errors[g, 0]:9.4f} {errors[g, 1]:9.4f} {errors[g, 2]:10.4f} {seconds[g, 0]:8.1f} "
              f"{seconds[g, 2]:9.1f}")
    shift = errors[:, 2] - errors[:, 0]
    se = shift.std(ddof=1) / np.sqrt(len(shift))
    effect, spread = np.abs(shift).mean(), np.abs(errors[:, 1] - errors[:, 0]).mean()
    print(f"\nmean validation error: exact {errors[:, 0].mean():.4f} (seed 1: {errors[:, 1].mean():.4f}), "
          f"padded {errors[:, 2].mean():.4f}")
    print(f"padding's effect mean |padded - exact| {effect:.4f} vs seed spread mean |seed 1 - seed 0| {spread:.4f}; "
          f"mean shift padded - exact {shift.mean():+.4f} ± {se:.4f} (standard error)")
    print(f"CPU seconds per training: exact {seconds[:, :2].mean():.1f}, padded {seconds[:, 2].mean():.1f} "
          f"({seconds[:, 2].mean() / seconds[:, :2].mean():.2f}×)\n")
    ok = print_results([("padding_effect_over_seed_spread", effect / spread, "<=", 1.5),
                        ("padding_error_shift_over_2se", abs(shift.mean()) / (2 * se) if se > 0 else 0.0, "<=", 1.0)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
