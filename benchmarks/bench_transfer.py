"""Warm-started campaigns: a new task's search with and without the archive of another task in the same space.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_transfer.py [--seeds 5] [--workers 2] [--pairs …]``.

Pairs (source → target, one space):

- ``channel-mobilenet->channel-resnet`` and the reverse: Channel-Bench-Macro's two CIFAR-10 tables
  share their genes (7 widths × 4 choices), read from ``../shared/benchmarks/`` through the ``table``
  evaluator as in ``bench_search_table.py`` (population 20, 10 offspring per generation; FLOPs and
  parameters cheap). Quality: hypervolume regret (that script's protocol) after 25/50/100 evaluations.
  Source: a 300-evaluation plain NSGA-II campaign on the source table.
- ``digits->fashion-mnist@8x8`` and the reverse: real trainings (2 epochs) on the default 8×8 space,
  Fashion-MNIST resized to 8×8 from Debian's ``dataset-fashion-mnist`` (2,000 training images, 1,200
  validation images; skipped when absent). Quality: hypervolume of (validation error, log10 BitOps),
  reference (1, log10 of the space's largest BitOps), after 25/50/100 trainings. Source: a
  100-training campaign (surrogate screening, population 16, 8 offspring) on the source task.

Methods: ``cold`` (the default campaign), ``warm`` (``[campaign] warm_start`` = the source archive, nasco's
defaults otherwise: the surrogate's transfer feature, and ``search.initial = "auto"`` seeds half of
generation 0 with the source's front), ``warm-lhs`` (table pairs only: the transfer feature alone,
``search.initial = "lhs"``). Targets use nasco's defaults (``search.proposal = "auto"``: the inner search
on every space here); sources are pinned to screening and a Latin-hypercube start. Source campaigns use
seed 100, targets seeds 0…; run folders are kept under ``benchmarks/data/transfer_runs/`` (git-ignored), so
an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, fashion_root, print_results

WORK = Path(__file__).parent / "data" / "transfer_runs"
BUDGETS = (25, 50, 100)
SOURCE_SEED = 100
TABLE_PAIRS = ("channel-mobilenet->channel-resnet", "channel-resnet->channel-mobilenet")
TRAIN_PAIRS = ("digits->fashion-mnist@8x8", "fashion-mnist@8x8->digits")
METHODS = {"cold": {}, "warm": {"warm": True}, "warm-lhs": {"warm": True, "initial": "lhs"}}
SOURCE_SEARCH = {"proposal": "screen", "initial": "lhs"}  # as the sources were run (their records feed the targets)
TASKS = {"digits": {"dataset": "digits"},
         "fashion-mnist@8x8": {"dataset": "fashion-mnist", "image_size": 8, "train_subset": 2000,
                               "val_fraction": 0.375}}


def _table_config(benchmark: str, name: str, seed: int, out: Path, csv_dir: Path, budget: int, **search) -> dict:
    from bench_search_table import key_separator, load_rows

    return {"campaign": {"name": name, "seed": seed, "out": str(out)},
            "space": {"kind": "genes", "genes": load_rows(benchmark)[0]},
            "objectives": {"names": ["error", "metric:cost"]},
            "search": {"population": 20, "offspring": 10, "max_evaluations": budget,
                       "surrogate_families": ["gp", "trees", "rbf", "ensemble"], **search},
            "training": {"epochs": 1, "final_epochs": 0},
            "evaluator": {"kind": "table", "file": str(csv_dir / f"{benchmark}.csv"), "key": "arch",
                          "key_separator": key_separator(benchmark), "metrics": ["error"], "cheap": ["cost", "size"]}}


def _train_config(task: str, name: str, seed: int, out: Path, root: str, reference: list[float], budget: int,
                  **search) -> dict:
    return {"campaign": {"name": name, "seed": seed, "out": str(out)},
            "task": {**TASKS[task], "root": root},
            "objectives": {"names": ["error", "bitops"], "reference": reference},
            "search": {"population": 16, "offspring": 8, "max_evaluations": budget, **search},
            "training": {"epochs": 2, "final_epochs": 0, "device": "cpu"}}


def _run_campaign(settings: dict) -> Path:
    """Run (or continue) one campaign in its folder; the folder."""
    import torch
    from rich.console import Console

    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    torch.set_num_threads(1)
    folder = Path(settings["campaign"]["out"])
    config = prepare_run_folder(folder, as_config(settings), resume=False, force=False)
    Campaign(config, folder, console=Console(quiet=True)).run()
    return folder


def _own_records(folder: Path, campaign: str):
    from nasco.archive import HDF5Archive

    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table().filter(campaign=campaign)
    return table.select(np.lexsort((table.rows["genome_hash"], table.rows["generation"])))  # evaluation order


def _job(job: tuple) -> tuple:
    """One target campaign: (pair, method, seed, quality after each budget)."""
    pair, method, seed, source_archive, extra = job
    target = pair.split("->")[1]
    options = METHODS[method]
    campaign = {"warm_start": [str(source_archive)]} if options.get("warm") else {}
    search = {"initial": options["initial"]} if "initial" in options else {}
    out = WORK / pair / f"{method}-s{seed}"
    if pair in TABLE_PAIRS:
        settings = _table_config(target, method, seed, out, Path(extra), max(BUDGETS), **search)
        settings["campaign"].update(campaign)
        table = _own_records(_run_campaign(settings), method)
        return pair, method, seed, [regret_at(target, table.column("error"), table.column("cost"), b)
                                    for b in BUDGETS]
    root, reference = extra
    settings = _train_config(target, method, seed, out, root, reference, max(BUDGETS), **search)
    settings["campaign"].update(campaign)
    table = _own_records(_run_campaign(settings), method)
    return pair, method, seed, [_hypervolume(table, reference, b) for b in BUDGETS]


def regret_at(benchmark: str, error: np.ndarray, cost: np.ndarray, budget: int) -> float:
    """Regret (%) of the first ``budget`` evaluations, bench_search_table's protocol."""
    from bench_search_table import ERROR_CAP, Normaliser, load_table

    all_error, all_cost = load_table(benchmark)[:2]
    norm = Normaliser(all_error, all_cost, cap=ERROR_CAP.get(benchmark, 0.15))
    return 100 * (1 - norm(error[:budget], cost[:budget]) / norm.true)


def _hypervolume(table, reference: list[float], budget: int) -> float:
    from pymoo.indicators.hv import HV

    first = table.select(np.arange(min(budget, len(table))))
    ok = first.rows["status"] == 0
    F = np.column_stack([first.column("error"), np.log10(np.maximum(first.column("bitops"), 1))])[ok]
    inside = F[np.all(F < np.array(reference), axis=1)]
    return float(HV(ref_point=np.array(reference))(inside)) if len(inside) else 0.0


def _reference() -> list[float]:
    from nasco.evo import compile_space, default_space
    from nasco.evo.space.genome import costs_dict, fixed_genome

    layout = compile_space(default_space((1, 8, 8), 10))
    top = costs_dict(layout, fixed_genome(layout, arch="max", weight_bits=32, act_bits=32))["bitops"]
    return [1.0, float(np.log10(top))]


def _source(pair: str, csv_dir: Path, roots: dict, reference: list[float]) -> Path:
    source = pair.split("->")[0]
    out = WORK / f"source-{source}"
    if pair in TABLE_PAIRS:
        settings = _table_config(source, "source", SOURCE_SEED, out, csv_dir, 300, screen_factor=1, surrogate=False,
                                 **SOURCE_SEARCH)
    else:
        settings = _train_config(source, "source", SOURCE_SEED, out, roots[source], reference, 100, **SOURCE_SEARCH)
    return _run_campaign(settings) / "archive.h5"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", default=",".join((*TABLE_PAIRS, *TRAIN_PAIRS)))
    args = parser.parse_args()
    from bench_search_table import write_csv

    WORK.mkdir(parents=True, exist_ok=True)
    roots = {"digits": "", "fashion-mnist@8x8": fashion_root(WORK)}
    pairs = [p for p in args.pairs.split(",") if p in TABLE_PAIRS or all(roots[t] is not None for t in p.split("->"))]
    reference = _reference()
    csv_dir = WORK / "tables"  # a stable path: the run folders' configs name it
    csv_dir.mkdir(exist_ok=True)
    for benchmark in ("channel-mobilenet", "channel-resnet"):
        write_csv(csv_dir / f"{benchmark}.csv", benchmark)
    with ProcessPoolExecutor(args.workers) as pool:
        sources = dict(zip(pairs, pool.map(_source, pairs, [csv_dir] * len(pairs), [roots] * len(pairs),
                                           [reference] * len(pairs)), strict=True))
        jobs = [(p, m, s, sources[p], str(csv_dir) if p in TABLE_PAIRS else (roots[p.split("->")[1]], reference))
                for p in pairs for m in METHODS for s in range(args.seeds)
                if p in TABLE_PAIRS or m != "warm-lhs"]
        results = list(pool.map(_job, jobs))
    print(f"# bench_transfer — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {args.workers} worker "
          f"processes × 1 thread; {args.seeds} seeds")
    checks = []
    for pair in pairs:
        table = pair in TABLE_PAIRS
        label = "hypervolume regret % (lower is better)" if table else "hypervolume (higher is better)"
        print(f"\n{pair}: {label} after {'/'.join(map(str, BUDGETS))} evaluations, mean ± standard error")
        print(f"{'method':13} " + " ".join(f"{'@' + str(b):>15}" for b in BUDGETS))
        mean = {}
        for method in METHODS:
            rows = np.array([r[3] for r in results if r[0] == pair and r[1] == method])
            if not len(rows):
                continue
            mean[method] = rows.mean(axis=0)
            err = rows.std(axis=0) / np.sqrt(len(rows))
            print(f"{method:13} " + " ".join(f"{m:9.4f}±{e:.3f}" for m, e in zip(mean[method], err, strict=True)))
        sign = 1 if table else -1  # sign · (warm − cold) ≤ 0: warm start at least as good
        gains = {}
        for method in (m for m in mean if m != "cold"):
            worst = max(sign * (mean[method][i] - mean["cold"][i]) for i in range(len(BUDGETS)))
            checks.append((f"{pair}_{method}_worse_than_cold_worst_budget", worst, "<=", 0.0))
            gains[method] = sign * (mean["cold"][0] - mean[method][0])
        best = max(gains, key=gains.get)
        checks.append((f"{pair}_{best}_gain_at_{BUDGETS[0]}", gains[best], ">=", 1e-4))  # better, not merely equal
    print()
    return 0 if print_results(checks, digits=4) else 1


if __name__ == "__main__":
    sys.exit(main())
