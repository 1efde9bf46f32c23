"""Co-optimisation vs compression alone: original, pruned only, quantized only, joint, and sequential.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_coopt.py [--task fashion-mnist] [--seeds 3]``
(``--task cifar10 --root DIR [--download]`` where CIFAR-10 can be read or downloaded; ``--device cuda``
on a GPU).

The experiment of the design (docs/ARCHITECTURE.md §1), measured at equal training budget: every searched
method trains ``--budget`` candidates per seed with the same recipe (epochs, batch, learning rate,
data subset, validation split and training seeds as a campaign gives them):

- ``original``: the float reference architecture (every architecture gene at its middle choice,
  nothing pruned, 32-bit weights and activations) — one training;
- ``pruned``: that network with uniform prune ratios 25/50/75 % (three trainings), and a campaign
  searching its per-layer prune ratios (float bits) — the space pinned with ``pin_architecture``;
- ``quantized``: uniform W8A8 and W4A4 (two trainings), and a campaign searching its per-layer bits
  (nothing pruned);
- ``joint``: nasco's campaign on the whole space (architecture + prune ratios + bits);
- ``sequential``: what a user would otherwise do — a campaign over architectures alone (float,
  unpruned) for half the budget, then the most accurate network found compressed by a campaign over
  its prune ratios and bits for the other half.

Objectives (validation error, BitOps). Hypervolume of each method's front on (error, log10 BitOps),
reference (0.5, log10 of the whole space's largest float BitOps); the pruned and quantized fronts
include their uniform points (a few trainings more than the budget: in their favour). Latency: the
deployed network (pruned channels removed, float weights; quantized kernels are issue 19's) at batch 1
on one CPU thread, median of the quietest of 7 rounds, measured after all training has finished.
Run folders are kept under ``benchmarks/data/coopt_runs/`` (git-ignored): an interrupted benchmark
reuses every archived training.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, fashion_root, print_results

WORK = Path(__file__).parent / "data" / "coopt_runs"
METHODS = ("original", "pruned", "quantized", "joint", "sequential")
UNIFORM = {"pruned": [{"prune": r} for r in (0.25, 0.5, 0.75)],
           "quantized": [{"weight_bits": b, "act_bits": b} for b in (8, 4)]}
ERROR_REF = 0.5


def uniform_label(setting: dict) -> str:
    """``{"prune": 0.5}`` → ``"uniform prune 0.5"``: the label of a uniformly compressed point."""
    return "uniform " + " ".join(f"{k} {v}" for k, v in setting.items())


@dataclasses.dataclass
class Point:
    """One trained candidate: where it came from, its objectives and what rebuilds its network."""

    method: str
    label: str  # "search", "uniform prune 0.5", "original", ...
    seed: int
    error: float
    bitops: float
    size_bits: float
    space: dict
    genome: list[int]


def _task(args: argparse.Namespace) -> dict:
    task = {"dataset": args.task, "root": args.root, "download": args.download, "image_size": args.image_size,
            "train_subset": args.train_subset, "val_fraction": args.val_fraction}
    return {k: v for k, v in task.items() if v not in (None, "")}


def _config(args: argparse.Namespace, name: str, seed: int, budget: int) -> dict:
    population = max(4, min(16, budget - 4))  # a surrogate from generation 1 on, where the budget allows
    offspring = max(1, min(8, budget - population))
    setting = f"{args.task}-{args.image_size}px-n{args.train_subset}-e{args.epochs}-b{args.budget}-{args.arch}"
    return {"campaign": {"name": name, "seed": seed, "out": str(WORK / setting / f"{name}-s{seed}")},
            "task": _task(args), "objectives": {"names": ["error", "bitops"]},
            "search": {"population": population, "offspring": offspring,
                       "generations": max(1, -(-(budget - population) // offspring)), "max_trained": budget},
            "training": {"epochs": args.epochs, "final_epochs": 0, "device": args.device},
            "executor": {"workers": 1}}


def _full_space(args: argparse.Namespace):
    from nasco.evo import default_space
    from nasco.evo.search.config import config_from_dict
    from nasco.evo.search.task import load_task_spec, task_spec

    config = config_from_dict(_config(args, "probe", 0, args.budget))
    task = load_task_spec(task_spec(config.task, 0))
    return default_space(task.input_shape, task.num_classes)


def _compression_only(space, genome, **choices):
    """``space`` with ``genome``'s architecture pinned and the given compression choices."""
    from nasco.evo import compile_space
    from nasco.evo.space.genome import pin_architecture

    pinned = pin_architecture(compile_space(space), genome)
    return dataclasses.replace(pinned, compression=dataclasses.replace(pinned.compression, **choices))


def _campaign(args: argparse.Namespace, method: str, seed: int, space, budget: int, label: str = "search"
              ) -> list[Point]:
    from rich.console import Console

    from nasco.evo import run_campaign

    config = _config(args, f"{method}-{label}", seed, budget)
    folder = Path(config["campaign"]["out"])
    result = run_campaign(config, space=space, resume=folder.exists(), console=Console(quiet=True))
    ok = result.records.filter(status="ok")
    return [Point(method, label, seed, float(e), float(b), float(s), space.to_dict(), [int(x) for x in g])
            for e, b, s, g in zip(ok.column("error"), ok.column("bitops"), ok.column("size_bits"), ok.genome_matrix(),
                                  strict=True)]


def _train_fixed(args: argparse.Namespace, method: str, seed: int, space, genomes: dict[str, np.ndarray]
                 ) -> list[Point]:
    """Train fixed genomes with exactly a campaign's recipe (task, subset, split and training seed)."""
    from nasco.evo import compile_space
    from nasco.evo.search.builtin_evaluators import train_evaluator
    from nasco.evo.search.campaign import training_seed
    from nasco.evo.search.config import config_from_dict
    from nasco.evo.search.task import load_task_spec, task_spec
    from nasco.evo.space.genome import costs_dict

    config = config_from_dict(_config(args, method, seed, args.budget))
    layout = compile_space(space)
    evaluator = train_evaluator(config, layout, load_task_spec(task_spec(config.task, seed)))
    points = []
    for label, genome in genomes.items():
        seeds = np.array([training_seed(seed, layout.hash(genome))])
        result = evaluator.evaluate(genome[None], args.epochs, seeds)[0]
        costs = costs_dict(layout, genome)
        points.append(Point(method, label, seed, float(result.metrics["error"]), float(costs["bitops"]),
                            float(costs["size_bits"]), space.to_dict(), [int(x) for x in genome]))
    return points


def run_method(job: tuple[argparse.Namespace, object, str, int]) -> list[Point]:
    """All trainings of one method and seed (in a worker process, one torch thread)."""
    import torch

    from nasco.evo import compile_space
    from nasco.evo.space.genome import fixed_genome

    torch.set_num_threads(1)
    args, full, method, seed = job  # full: the task's default space, built once in main
    layout = compile_space(full)
    reference = fixed_genome(layout, arch=args.arch)
    if method == "original":
        return _train_fixed(args, method, seed, full, {"original": reference})
    if method in UNIFORM:
        uniform = {uniform_label(u): fixed_genome(layout, arch=args.arch, **u) for u in UNIFORM[method]}
        searched = (_compression_only(full, reference, weight_bits=(32,), act_bits=(32,)) if method == "pruned"
                    else _compression_only(full, reference, prune_ratios=(0.0,)))
        return (_train_fixed(args, method, seed, full, uniform)
                + _campaign(args, method, seed, searched, args.budget))
    if method == "joint":
        return _campaign(args, method, seed, full, args.budget)
    architectures = dataclasses.replace(full, compression=dataclasses.replace(
        full.compression, prune_ratios=(0.0,), weight_bits=(32,), act_bits=(32,)))
    first = _campaign(args, method, seed, architectures, args.budget // 2, label="architecture")
    best = min(first, key=lambda p: p.error)
    chosen = _compression_only(full, np.array(best.genome))  # same gene order: only choices differ
    return first + _campaign(args, method, seed, chosen, args.budget - args.budget // 2, label="compression")


def front_of(points: list[Point]) -> list[Point]:
    from nasco.kernels.pareto import non_dominated

    F = np.array([[p.error, p.bitops] for p in points])
    return [points[i] for i in np.flatnonzero(non_dominated(F))]


def hypervolume(points: list[Point], log_ref: float) -> float:
    from pymoo.indicators.hv import HV

    F = np.array([[p.error, np.log10(max(p.bitops, 1.0))] for p in points])
    F = F[np.all(F < [ERROR_REF, log_ref], axis=1)]
    return float(HV(ref_point=np.array([ERROR_REF, log_ref]))(F)) if len(F) else 0.0


def latency_us(point: Point, device: str) -> float:
    import torch

    from nasco.evo.latency.profile import measure_networks
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    layout = compile_any(space_from_dict(point.space))
    return float(measure_networks(layout, np.array([point.genome]), torch.device(device), batch=1, threads=1)[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="fashion-mnist", help="fashion-mnist (Debian's files), cifar10, ...")
    parser.add_argument("--root", default=None, help="dataset folder (default for fashion-mnist: Debian's files)")
    parser.add_argument("--download", action="store_true", help="let torchvision download the dataset into --root")
    parser.add_argument("--image-size", type=int, default=8, help="resize images (8; 0 keeps them)")
    parser.add_argument("--train-subset", type=int, default=2000, help="training images, stratified (2000; 0 all)")
    parser.add_argument("--val-fraction", type=float, default=0.02, help="validation share (0.02: 1,200 images)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per training (2)")
    parser.add_argument("--budget", type=int, default=40, help="trainings per searched method and seed (40)")
    parser.add_argument("--arch", default="mid", choices=("min", "mid", "max"), help="reference architecture (mid)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="methods trained in parallel (2)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.task == "fashion-mnist" and args.root is None:
        args.root = fashion_root(WORK)
        if args.root is None:
            sys.exit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist (or give --root)")
    WORK.mkdir(parents=True, exist_ok=True)

    full = _full_space(args)
    jobs = [(args, full, m, s) for s in range(args.seeds) for m in METHODS[::-1]]  # the long campaigns first
    points: list[Point] = []
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(run_method, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            got = future.result()
            points += got
            print(f"[{done}/{len(jobs)}] {got[0].method} seed {got[0].seed}: {len(got)} trainings", file=sys.stderr,
                  flush=True)
    report(args, points, full)
    return 0


def report(args: argparse.Namespace, points: list[Point], full) -> bool:
    from nasco.evo import compile_space
    from nasco.evo.space.genome import costs_dict, fixed_genome

    layout = compile_space(full)
    top = costs_dict(layout, fixed_genome(layout, arch="max"))["bitops"]
    log_ref = float(np.log10(top))
    seeds = sorted({p.seed for p in points})
    print(f"# bench_coopt  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; {args.workers} methods in parallel, 1 torch thread "
          f"each; device {args.device}; {len(seeds)} seeds")
    print(f"# task {args.task}, image size {args.image_size or 'native'}, {args.train_subset or 'all'} training "
          f"images (stratified), validation share {args.val_fraction}; {args.epochs} epochs per training; "
          f"budget {args.budget} trainings per searched method; reference architecture '{args.arch}'")
    print(f"# hypervolume of (validation error, log10 BitOps), reference ({ERROR_REF}, {log_ref:.3f})\n")

    original = {s: next(p for p in points if p.method == "original" and p.seed == s) for s in seeds}
    print(f"{'method':>11} {'what':>26} {'error %':>8} {'MBitOps':>9} {'size KB':>8} {'latency µs':>10}"
          "   (mean over seeds)")
    rows = [("original", "float reference", lambda s: [original[s]])]
    for method, uniform in UNIFORM.items():
        rows += [(method, uniform_label(u),
                  lambda s, m=method, u=u: [p for p in points if p.method == m and p.seed == s
                                            and p.label == uniform_label(u)])
                 for u in uniform]
    for method in ("pruned", "quantized", "joint", "sequential"):
        rows.append((method, "front: most accurate",
                     lambda s, m=method: [min(front_of([p for p in points if p.method == m and p.seed == s]),
                                              key=lambda p: p.error)]))
        rows.append((method, "front: fewest BitOps ≤ orig+1pt",
                     lambda s, m=method: _cheapest_near(points, m, s, original[s].error + 0.01)))
    for method, what, pick in rows:
        chosen = [q for s in seeds for q in pick(s)]
        if not chosen:
            print(f"{method:>11} {what:>26} {'(none)':>8}")
            continue
        lat = [latency_us(q, args.device) for q in chosen]
        print(f"{method:>11} {what:>26} {100 * np.mean([q.error for q in chosen]):8.2f} "
              f"{np.mean([q.bitops for q in chosen]) / 1e6:9.1f} {np.mean([q.size_bits for q in chosen]) / 8192:8.1f} "
              f"{np.mean(lat):10.0f}")

    print(f"\n{'method':>11} {'HV mean±std':>16}   per seed   (front size)")
    hv = {}
    for method in METHODS:
        hv[method] = [hypervolume(front_of([p for p in points if p.method == method and p.seed == s]), log_ref)
                      for s in seeds]
        sizes = [len(front_of([p for p in points if p.method == method and p.seed == s])) for s in seeds]
        print(f"{method:>11} {np.mean(hv[method]):8.4f}±{np.std(hv[method]):.4f}   "
              + " ".join(f"{v:.4f} ({n})" for v, n in zip(hv[method], sizes, strict=True)))
    print()
    return print_results([(f"hv_joint_minus_{m}", float(np.mean(hv["joint"]) - np.mean(hv[m])), ">=", 0.0)
                          for m in ("pruned", "quantized", "sequential")], digits=4)


def _cheapest_near(points: list[Point], method: str, seed: int, max_error: float) -> list[Point]:
    """The front member with the fewest BitOps within ``max_error`` (none if no member is that accurate)."""
    near = [p for p in front_of([p for p in points if p.method == method and p.seed == seed]) if p.error <= max_error]
    return [min(near, key=lambda p: p.bitops)] if near else []


if __name__ == "__main__":
    sys.exit(main())
