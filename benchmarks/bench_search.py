"""Search efficiency at equal training budget: nasco (its default surrogate proposal) vs plain NSGA-II vs random.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_search.py [--seeds 10] [--workers 2]``.

Every run is a real campaign (:class:`nasco.evo.search.campaign.Campaign`, local executor, one torch
thread per worker process) on the default space, objectives (validation error, BitOps),
hypervolume in (error, log10 BitOps) with one fixed reference point per task
(error 1, log10 of the space's largest BitOps). Methods:

- ``nasco``: population 16, then 6 generations of 8 trained offspring the surrogate proposes
  (the default ``search.proposal``, on this space the inner NSGA-II on the surrogate; 64 trainings);
- ``nsga2``: the same NSGA-II without surrogate (8 offspring asked and trained per generation),
  run for twice the budget (128 trainings) to see when it reaches nasco's final hypervolume;
- ``random``: uniform random genomes, 64 trainings;
- ``nasco+preprocess`` / ``nasco+schedule``: nasco with the sensitivity pre-processing of the
  compression choices (3a) / the strict-to-relaxed compression schedule (3b);
- ``nasco+screen``: nasco with ``search.proposal = "screen"`` instead of the default (``auto``, the
  inner NSGA-II on the surrogate here): the surrogate filters the asked offspring.

``--methods`` runs a subset (``nasco,nasco+screen``: is the default proposal the right one on a network
space? ``bench_search_proposals.txt`` answered it before the default changed, when ``nasco`` screened
and ``nasco+inner`` named the inner search); without ``nsga2`` the trainings-to-reach column is left out.

Tasks: ``digits`` (2 epochs per candidate) and Fashion-MNIST resized to 8×8 from Debian's
``dataset-fashion-mnist`` package (2,000 training images, 1,200 validation images, 2 epochs;
skipped when absent).
Every finished campaign is kept in ``benchmarks/results/bench_search_runs.jsonl`` (task, method, seed,
hypervolume after every generation, seconds in all, per training and per generation choosing the
offspring, the commit that ran it): a later invocation reuses it instead
of running it again, so that the 10-seed table can be completed over several sessions; ``--rerun METHODS``
runs those again (after a change of nasco's code), ``--kept-only`` shows the seeds kept so far and runs
nothing. Run folders live under ``benchmarks/data/search_runs/`` (git-ignored) while a campaign runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, fashion_root, git_commit, load_runs, print_results

WORK = Path(__file__).parent / "data" / "search_runs"
RUNS = Path(__file__).parent / "results" / "bench_search_runs.jsonl"
COMMIT = git_commit()
BUDGET = int(os.environ.get("NASCO_BENCH_BUDGET", 64))
METHODS = {
    "nasco": {},
    "nsga2": {"search": {"screen_factor": 1, "surrogate": False, "generations": 14}},
    "random": {"search": {"algorithm": "random", "screen_factor": 1, "surrogate": False}},
    "nasco+preprocess": {"search": {"preprocess": True}},
    "nasco+schedule": {"search": {"compression_schedule": "strict-to-relaxed"}},
    "nasco+screen": {"search": {"proposal": "screen"}},
}
TASKS = {
    "digits": {"dataset": "digits"},
    "fashion-mnist@8x8": {"dataset": "fashion-mnist", "image_size": 8, "train_subset": 2000, "val_fraction": 0.375},
}


def _config(task: str, method: str, seed: int, folder: Path, root: str, reference: list[float]):
    from nasco.evo.search.config import config_from_dict

    data = {
        "campaign": {"name": method, "seed": seed, "out": str(folder)},
        "task": {**TASKS[task], "root": root},
        "objectives": {"names": ["error", "bitops"], "reference": reference},
        "search": {"population": 16, "offspring": 8, "generations": 6, "screen_factor": 10},
        "training": {"epochs": 2, "final_epochs": 0, "device": "cpu"},
    }
    for section, values in METHODS[method].items():
        data[section] = {**data.get(section, {}), **values}
    return config_from_dict(data)


def _run(args: tuple) -> dict:
    """One campaign from a fresh run folder; its record for the runs file."""
    import torch
    from rich.console import Console

    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    task, method, seed, root, reference = args
    torch.set_num_threads(1)
    folder = WORK / task / f"{method}-s{seed}"
    shutil.rmtree(folder, ignore_errors=True)  # a campaign killed half-way is run again from its start
    started = time.perf_counter()
    config = prepare_run_folder(folder, _config(task, method, seed, folder, root, reference), resume=False,
                                force=False)
    Campaign(config, folder, console=Console(quiet=True)).run()
    return {"benchmark": task, "method": method, "seed": seed, "trajectory": _trajectory(folder, reference),
            "seconds": round(time.perf_counter() - started, 1), **_timing(folder), "commit": COMMIT,
            "date": f"{datetime.datetime.now():%Y-%m-%d %H:%M}"}


def _trajectory(folder: Path, reference: list[float]) -> list[tuple[int, float]]:
    """(trainings so far, hypervolume) after every generation, from the run's archive."""
    from pymoo.indicators.hv import HV

    from nasco.archive import HDF5Archive

    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table().filter(fidelity=2)
    generation = table.column("generation")
    ok = table.rows["status"] == 0
    F = np.column_stack([table.column("error"), np.log10(np.maximum(table.column("bitops"), 1))])
    ref = np.array(reference)
    out = []
    for g in range(int(generation.max()) + 1):
        upto = generation <= g
        inside = F[upto & ok & np.all(ref > F, axis=1)]
        out.append((int(upto.sum()), float(HV(ref_point=ref)(inside)) if len(inside) else 0.0))
    return out


def _timing(folder: Path) -> dict[str, float]:
    """Mean seconds to train one candidate, and per generation to choose the trained offspring (surrogate fit
    + proposal, from the run's ``surrogate.jsonl``; absent without a surrogate)."""
    from nasco.archive import HDF5Archive

    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table().filter(fidelity=2)
    out = {"train_s": round(float(np.mean(table.rows["wall_time_s"])), 2)}
    log = folder / "surrogate.jsonl"
    if log.is_file():
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        out["choose_s"] = round(float(np.mean([line["selection_s"] + line["proposal_s"] for line in lines])), 2)
    return out


def _reference(shape: tuple[int, int, int]) -> list[float]:
    from nasco.evo import compile_space, default_space
    from nasco.evo.space.genome import costs_dict, fixed_genome

    layout = compile_space(default_space(shape, 10))
    top = costs_dict(layout, fixed_genome(layout, arch="max", weight_bits=32, act_bits=32))["bitops"]
    return [1.0, float(np.log10(top))]


def _hv_at(trajectory: list[tuple[int, float]], budget: int) -> float:
    return max((hv for n, hv in trajectory if n <= budget), default=0.0)


def _trainings_to_reach(trajectory: list[tuple[int, float]], target: float) -> tuple[int, bool]:
    """(trainings when the hypervolume first reached ``target``, reached?) — censored at the run's end."""
    for n, hv in trajectory:
        if hv >= target - 1e-12:
            return n, True
    return trajectory[-1][0], False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method and task (10)")
    parser.add_argument("--workers", type=int, default=2, help="campaigns in parallel (2)")
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma-separated tasks")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--rerun", default="", help="methods run again even when kept runs exist (comma-separated)")
    parser.add_argument("--kept-only", action="store_true", help="show the seeds kept so far; run nothing")
    args = parser.parse_args()
    methods = args.methods.split(",")
    rerun = set(filter(None, args.rerun.split(",")))
    unknown = [m for m in [*methods, *rerun] if m not in METHODS]
    if unknown:
        parser.error(f"--methods/--rerun: {unknown} unknown; allowed: {', '.join(METHODS)}")
    WORK.mkdir(parents=True, exist_ok=True)
    roots = {"digits": "", "fashion-mnist@8x8": fashion_root(WORK)}
    tasks = [t for t in args.tasks.split(",") if roots.get(t) is not None]
    missing = [t for t in args.tasks.split(",") if t not in tasks]
    reference = _reference((1, 8, 8))
    kept = load_runs(RUNS)
    jobs = [(t, m, s, roots[t], reference) for t in tasks for s in range(args.seeds) for m in methods
            if m in rerun or (t, m, s) not in kept]
    if args.kept_only:
        jobs = []
    # digits first, then seed by seed (a session that stops early leaves whole seeds), the longest runs first
    jobs.sort(key=lambda j: (j[0] != "digits", j[2], j[1] != "nsga2"))
    print(f"{len(jobs)} campaigns to run; the others kept in {RUNS.name}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool, open(RUNS, "a") as log:
        futures = [pool.submit(_run, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            kept[run["benchmark"], run["method"], run["seed"]] = run
            log.write(json.dumps(run) + "\n")
            log.flush()
            n, hv = run["trajectory"][-1]
            print(f"[{done}/{len(jobs)}] {run['benchmark']} {run['method']} seed {run['seed']}: HV {hv:.4f} after "
                  f"{n} trainings, {run['seconds']:.0f} s ({time.perf_counter() - started:.0f} s so far)",
                  file=sys.stderr, flush=True)

    print(f"# bench_search  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; {args.workers} campaigns in parallel, 1 torch "
          f"thread each; up to {args.seeds} seeds; methods {', '.join(methods)}; code {COMMIT}")
    shown = [kept[t, m, s] for t in tasks for m in methods for s in range(args.seeds) if (t, m, s) in kept]
    if shown:
        commits = ", ".join(sorted({r["commit"] for r in shown}))
        print(f"# {len(shown)} campaigns shown, {len(jobs)} of them run now (the rest kept from earlier "
              f"invocations, perhaps on another machine); their code {commits}, "
              f"run {min(r['date'] for r in shown)} to {max(r['date'] for r in shown)}")
    print(f"# hypervolume of (validation error, log10 BitOps), reference {[round(r, 3) for r in reference]}; "
          f"budget {BUDGET} trainings (nsga2 runs to {2 * BUDGET})")
    if missing:
        print(f"# skipped (data not found): {', '.join(missing)} — apt-get install dataset-fashion-mnist")
    results = []
    for task in tasks:
        records = [kept[task, m, s] for m in methods for s in range(args.seeds) if (task, m, s) in kept]
        report_task(task, methods, {(r["method"], r["seed"]): r["trajectory"] for r in records}, results)
        report_timing(records)
    print()
    return 0 if print_results(results) else 1


def report_timing(records: list[dict]) -> None:
    """Seconds per generation spent choosing the offspring, next to one training (runs that recorded them)."""
    for method in dict.fromkeys(r["method"] for r in records):
        choose = [r["choose_s"] for r in records if r["method"] == method and "choose_s" in r]
        train = [r["train_s"] for r in records if r["method"] == method and "train_s" in r]
        if choose and train:
            print(f"  {method}: {np.mean(choose):.1f} s per generation choosing its 8 trained offspring (surrogate "
                  f"fit + proposal) next to {np.mean(train):.1f} s per training ({len(choose)} runs)")


def report_task(task: str, methods: list[str], runs: dict[tuple[str, int], list], results: list) -> None:
    """One task's table (hypervolume per seed, NSGA-II trainings to reach it) and its RESULT lines."""
    def hv_of(method: str) -> dict[int, float]:
        return {s: _hv_at(t, BUDGET) for (m, s), t in sorted(runs.items()) if m == method}

    print(f"\n{task}: hypervolume after {BUDGET} trainings, and trainings plain NSGA-II needs to reach it")
    print(f"{'method':>17} {'seeds':>5} {'HV mean±std':>16}   per seed{'':<34} nsga2 trainings to reach (ratio)")
    nsga2 = {s: t for (m, s), t in runs.items() if m == "nsga2"}
    for method in methods:
        hv = hv_of(method)
        if not hv:
            print(f"{method:>17}     0   (no run kept)")
            continue
        values = list(hv.values())
        line = (f"{method:>17} {len(hv):>5} {np.mean(values):>8.4f}±{np.std(values):.4f}   "
                + " ".join(f"{v:.4f}" for v in values))
        paired = [s for s in hv if s in nsga2]
        if method != "nsga2" and paired:
            reach = [_trainings_to_reach(nsga2[s], hv[s]) for s in paired]
            ratios = [n / BUDGET for n, _ in reach]
            line += "   " + " ".join(f"{n}{'' if ok else '+'}" for n, ok in reach)
            line += f" (median {np.median(ratios):.2f}×)"
            if method == "nasco":
                results.append((f"{task}_nsga2_trainings_to_reach_nasco_hv_ratio", float(np.median(ratios)),
                                ">=", 2.0))
        print(line)
    default = hv_of("nasco")
    for other in ("nsga2", "random", "nasco+screen"):
        pairs = [(default[s], v) for s, v in hv_of(other).items() if s in default]
        if pairs:
            results.append((f"{task}_hv_nasco_minus_{other.replace('nasco+', '')}",
                            float(np.mean([d - v for d, v in pairs])), ">=", 0.0))
    print("  (a '+' marks a seed whose nsga2 run never reached that hypervolume within "
          f"{2 * BUDGET} trainings: the count is a lower bound)")


if __name__ == "__main__":
    sys.exit(main())
