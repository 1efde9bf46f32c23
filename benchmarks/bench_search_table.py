"""Search efficiency on fully enumerated benchmarks: every method, every benchmark, one table each.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_search_table.py [--seeds 10] [--workers 2]``.

Benchmarks (``--benchmarks``), each a ``genes`` space whose every genome has a known error and cost:

- ``nas-bench-macro``: NAS-Bench-Macro (CIFAR-10; 8 genes × operations "0", "1", "2", 6,561 networks),
  read from ``../shared/benchmarks/nas-bench-macro/`` (or ``$NASCO_NAS_BENCH_MACRO``);
- ``channel-mobilenet``, ``channel-resnet``: Channel-Bench-Macro's two width spaces (7 genes × 4
  widths, 16,384 networks each, errors within ~2.7 points: narrow and noisy);
- ``digits-exhaustive``: nasco's own, every genome of a joint architecture × bits × pruning slice
  trained on digits with three seeds (``benchmarks/data/digits_exhaustive.csv``, made by
  ``make_digits_table.py``; 4 genes, 144 genomes, the cliffs of compression).

The data is never copied into the project: a temporary CSV (key, error, cost, size) feeds the
``table`` evaluator, with ``cost`` and ``size`` cheap (known for every genome, like the kernels' exact
costs) and only the error counting as an evaluation. Objectives: (error, cost), cost = FLOPs
(CIFAR-10 tables) or BitOps (digits).

Anchors a user would pick instead (``--methods tpe,optuna_gp,optuna_nsga2``; ``pip install
'nasco[bench]'``): Optuna's multivariate TPE, its GP sampler and its NSGA-II (population 20) on the same
genes as categorical parameters; a repeated genome is answered from the table without counting.

Protocol (issue 15): hypervolume regret = 1 − HV/HV_true, HV_true over the whole table, points
normalised by (error − min error)/(cap − min error) (cap: 15 % on CIFAR-10, 40 % on digits) and
(cost − min)/(max − min) (digits: of log10 BitOps, which span three decades), reference (1, 1);
regret after 50/100/200/400 true evaluations (in evaluation order; digits: 25/50/100, its space has
144 genomes), mean over seeds. Methods: ``nsga2``
(nasco's NSGA-II without surrogate, population 20, 20 offspring per generation), ``random``,
``auto`` (nasco's defaults, 10 offspring per generation: ``search.proposal = "auto"`` chooses the inner
search on every space here), ``screen`` (surrogate screening of the asked offspring), ``screen_hv``
(screening by hypervolume improvement), ``inner`` (the inner NSGA-II on the surrogate, set explicitly).
The ``RESULT`` lines are the default's (``auto``).

Every finished run is kept in ``benchmarks/results/bench_search_table_runs.jsonl`` (benchmark, method,
seed, regrets, seconds, the commit that ran it): a later invocation reuses it instead of running it
again, so that a table can be completed over several sessions; ``--rerun METHODS`` runs those again
(after a change of nasco's code, for nasco's methods); ``--kept-only METHODS`` shows those with the seeds
kept so far and runs none of their missing seeds (Optuna's GP sampler takes ~10 minutes per 400-trial run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per worker process (two would oversubscribe)
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, git_commit, load_runs, print_results

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
DATA = Path(os.environ.get("NASCO_NAS_BENCH_MACRO", SHARED / "nas-bench-macro")) / "nas-bench-macro_cifar10.json"
CHANNEL_BENCH = SHARED / "channel-bench-macro"
DIGITS_TABLE = Path(__file__).parent / "data" / "digits_exhaustive.csv"
RUNS = Path(__file__).parent / "results" / "bench_search_table_runs.jsonl"
BENCHMARKS = ("nas-bench-macro", "channel-mobilenet", "channel-resnet", "digits-exhaustive")
BUDGETS = (50, 100, 200, 400)
SMALL_BUDGETS = (25, 50, 100)  # digits-exhaustive: 144 genomes in all
ERROR_CAP = {"digits-exhaustive": 0.40}  # the normalisation's worst error (else 15 %)
LOG_COST = {"digits-exhaustive"}  # BitOps span three decades: normalised as log10, as campaigns see them
ANCHOR_NSGA2 = {50: 12.63, 100: 6.96, 200: 2.84, 400: 1.39}
METHODS = {
    "nsga2": {"population": 20, "offspring": 20, "screen_factor": 1, "surrogate": False},
    "random": {"population": 20, "offspring": 20, "algorithm": "random", "screen_factor": 1, "surrogate": False},
    "auto": {"population": 20, "offspring": 10},  # nasco's defaults (search.proposal = auto)
    "screen": {"population": 20, "offspring": 10, "proposal": "screen"},
    "screen_hv": {"population": 20, "offspring": 10, "acquisition": "hypervolume"},
    "inner": {"population": 20, "offspring": 10, "proposal": "inner"},
    "inner_ard": {"population": 20, "offspring": 10, "proposal": "inner", "inner_family": "gp_ard"},
}


def budgets_of(benchmark: str) -> tuple[int, ...]:
    return SMALL_BUDGETS if benchmark == "digits-exhaustive" else BUDGETS


def key_separator(benchmark: str) -> str:
    return "-" if benchmark == "digits-exhaustive" else ""


def load_rows(benchmark: str = "nas-bench-macro") -> tuple[dict, list[tuple[str, float, float, float]]]:
    """(genes of the space, rows (key, error, cost, size)) of every network of a benchmark; the key is the
    genome's choices joined (NAS-Bench-Macro: op digits "0"–"2"; Channel-Bench-Macro: width digits "1"–"4";
    digits: ``arch-weight_bits-act_bits-prune``, numbers as the table evaluator writes them)."""
    import csv

    if benchmark == "digits-exhaustive":
        from make_digits_table import GENES

        def as_key(text: str) -> str:
            return "-".join(p if not p.replace(".", "").isdigit() or not float(p).is_integer() else str(int(float(p)))
                            for p in text.split("-"))

        with open(DIGITS_TABLE, newline="") as f:
            rows = [(as_key(r["key"]), float(r["error"]), float(r["bitops"]), float(r["size_bits"]))
                    for r in csv.DictReader(f)]
        return dict(GENES), sorted(rows)
    if benchmark == "nas-bench-macro":
        data = json.loads(DATA.read_text())
        rows = [(k, 1 - v["mean_acc"] / 100, float(v["flops"]), float(v["params"])) for k, v in sorted(data.items())]
        return {f"b{i}": ["0", "1", "2"] for i in range(8)}, rows
    with open(CHANNEL_BENCH / f"{benchmark.removeprefix('channel-')}_cifar10.csv", newline="") as f:
        rows = [(r["key"], float(r["test_err_mean"]) / 100, float(r["flops"]), float(r["params"]))
                for r in csv.DictReader(f)]
    return {f"c{i}": [1, 2, 3, 4] for i in range(7)}, sorted(rows)


def load_table(benchmark: str = "nas-bench-macro") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(error (N,), cost (N,), keys) of every network."""
    _, rows = load_rows(benchmark)
    return (np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), [r[0] for r in rows])


def write_csv(path: Path, benchmark: str = "nas-bench-macro") -> None:
    _, rows = load_rows(benchmark)
    lines = ["arch,error,cost,size"] + [f"{k},{e!r},{f},{p}" for k, e, f, p in rows]
    path.write_text("\n".join(lines) + "\n")


class Normaliser:
    """The protocol's normalisation and hypervolume (reference (1, 1))."""

    def __init__(self, error: np.ndarray, flops: np.ndarray, cap: float = 0.15) -> None:
        from pymoo.indicators.hv import HV

        self.cap, self.e_min, self.f_min, self.f_max = cap, error.min(), flops.min(), flops.max()
        self.hv = HV(ref_point=np.array([1.0, 1.0]))
        self.true = self(error, flops)

    def __call__(self, error: np.ndarray, flops: np.ndarray) -> float:
        points = np.column_stack([(error - self.e_min) / (self.cap - self.e_min),
                                  (flops - self.f_min) / (self.f_max - self.f_min)])
        points = points[np.all(points < 1.0, axis=1)]
        return float(self.hv(points)) if len(points) else 0.0


def regrets_of(benchmark: str, error: np.ndarray, cost: np.ndarray) -> list[float]:
    """Regret (%) after each budget of the benchmark, of evaluations in evaluation order."""
    scale = np.log10 if benchmark in LOG_COST else np.asarray
    all_error, all_cost = load_table(benchmark)[:2]
    norm = Normaliser(all_error, scale(all_cost), cap=ERROR_CAP.get(benchmark, 0.15))
    return [100 * (1 - norm(error[:b], scale(cost[:b])) / norm.true) for b in budgets_of(benchmark)]


def run_one(job: tuple[str, int, str, str, str]) -> dict:
    """One campaign: its run record (regret % per budget, seconds, surrogate selection + fit seconds per
    generation, proposal seconds per generation (screening, or inner search and picks))."""
    import torch

    torch.set_num_threads(1)
    from rich.console import Console

    from nasco.archive import HDF5Archive
    from nasco.evo import run_campaign

    method, seed, csv_path, out, benchmark = job
    search = {"max_evaluations": max(budgets_of(benchmark)),
              "surrogate_families": ["gp", "trees", "rbf", "ensemble"], **METHODS[method]}
    config = {"campaign": {"name": f"{method}-{seed}", "seed": seed, "out": out},
              "space": {"kind": "genes", "genes": load_rows(benchmark)[0]},
              "objectives": {"names": ["error", "metric:cost"]},
              "search": search, "training": {"epochs": 1, "final_epochs": 0},
              "evaluator": {"kind": "table", "file": csv_path, "key": "arch", "key_separator": key_separator(benchmark),
                            "metrics": ["error"], "cheap": ["cost", "size"]}}
    started = time.perf_counter()
    run_campaign(config, console=Console(quiet=True))
    seconds = time.perf_counter() - started
    with HDF5Archive(Path(out) / "archive.h5") as archive:
        table = archive.table()
    order = np.lexsort((table.rows["genome_hash"], table.rows["generation"]))  # evaluation order
    log = Path(out) / "surrogate.jsonl"
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return {"regrets": regrets_of(benchmark, table.column("error")[order], table.column("cost")[order]),
            "seconds": seconds,
            "select_s": float(np.mean([line["selection_s"] for line in lines])) if lines else 0.0,
            "propose_s": float(np.mean([line["proposal_s"] for line in lines])) if lines else 0.0}


OPTUNA = {"tpe": lambda seed: __import__("optuna").samplers.TPESampler(multivariate=True, seed=seed),
          "optuna_gp": lambda seed: __import__("optuna").samplers.GPSampler(seed=seed, deterministic_objective=True),
          "optuna_nsga2": lambda seed: __import__("optuna").samplers.NSGAIISampler(population_size=20, seed=seed)}


def run_optuna(job: tuple[str, int, str, str, str]) -> dict:
    """An Optuna anchor (what a user would pick instead): the same genes as categorical parameters, the
    same two objectives, a repeated genome answered from the table without counting as an evaluation
    (repeats free); regret after the same numbers of distinct evaluations."""
    import warnings

    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    method, seed, _, _, benchmark = job
    genes, rows = load_rows(benchmark)
    sep = key_separator(benchmark)
    table = {key: (error, cost) for key, error, cost, _ in rows}
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=OPTUNA[method](seed))
    seen: dict[str, tuple[float, float]] = {}
    budget = max(budgets_of(benchmark))
    started = time.perf_counter()
    for _ in range(50 * budget):
        if len(seen) >= budget:
            break
        trial = study.ask()
        values = [trial.suggest_categorical(name, choices) for name, choices in genes.items()]
        key = sep.join(str(int(v)) if isinstance(v, float) and v.is_integer() else str(v) for v in values)
        seen.setdefault(key, table[key])
        study.tell(trial, list(table[key]))
    error, cost = (np.array(v) for v in zip(*seen.values(), strict=True))  # dicts keep evaluation order
    return {"regrets": regrets_of(benchmark, error, cost), "seconds": time.perf_counter() - started,
            "select_s": 0.0, "propose_s": 0.0}


def run_job(job: tuple[str, int, str, str, str]) -> dict:
    method, seed, _, _, benchmark = job
    result = run_optuna(job) if method in OPTUNA else run_one(job)
    return {"benchmark": benchmark, "method": method, "seed": seed, **result, "commit": COMMIT,
            "date": f"{datetime.datetime.now():%Y-%m-%d %H:%M}"}


COMMIT = git_commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--methods", default="nsga2,random,auto,screen,screen_hv,inner,tpe,optuna_gp,optuna_nsga2",
                        help=f"of {', '.join([*METHODS, *OPTUNA])} (the Optuna samplers need optuna)")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--rerun", default="", help="methods run again even when kept runs exist (comma-separated)")
    parser.add_argument("--kept-only", default="",
                        help="methods shown with the seeds kept so far, their missing seeds not run (comma-separated; "
                             "for the slow Optuna GP anchor)")
    parser.add_argument("--tau-repeats", type=int, default=0, help="splits of the surrogate-at-scale table (0: skip)")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"NAS-Bench-Macro not found at {DATA} (set NASCO_NAS_BENCH_MACRO)")
    methods, benchmarks = args.methods.split(","), args.benchmarks.split(",")
    rerun = set(filter(None, args.rerun.split(",")))
    kept_only = set(filter(None, args.kept_only.split(",")))
    unknown = [m for m in methods if m not in METHODS and m not in OPTUNA]
    if unknown:
        sys.exit(f"--methods: {unknown} unknown; allowed: {', '.join([*METHODS, *OPTUNA])}")
    print(f"# bench_search_table — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {args.workers} worker "
          f"processes × 1 thread; {', '.join(benchmarks)}; {args.seeds} seeds; code {COMMIT}")
    kept = load_runs(RUNS)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for benchmark in benchmarks:
            csv_path = Path(tmp) / f"{benchmark}.csv"
            write_csv(csv_path, benchmark)
            jobs += [(m, s, str(csv_path), str(Path(tmp) / f"{benchmark}-{m}-{s}"), benchmark)
                     for m in methods for s in range(args.seeds)
                     if m in rerun or ((benchmark, m, s) not in kept and m not in kept_only)]
        reused = sum((b, m, s) in kept and m not in rerun
                     for b in benchmarks for m in methods for s in range(args.seeds))
        print(f"{len(jobs)} runs to do; {reused} kept from {RUNS.name}")
        jobs.sort(key=lambda job: job[1])  # seed by seed: a session that stops early leaves whole seeds
        with ProcessPoolExecutor(args.workers) as pool, open(RUNS, "a") as log:
            for future in as_completed([pool.submit(run_job, job) for job in jobs]):
                run = future.result()
                kept[run["benchmark"], run["method"], run["seed"]] = run
                log.write(json.dumps(run) + "\n")  # kept as each run ends, in any order
                log.flush()
    print(f"({time.perf_counter() - started:.0f} s in all)")
    report(kept, methods, benchmarks, args.seeds)
    if args.tau_repeats:
        surrogate_at_scale(args.tau_repeats)


def report(kept: dict, methods: list[str], benchmarks: list[str], seeds: int) -> None:
    """One table per benchmark (mean ± standard error over seeds) and the RESULT lines of issue 36."""
    mean: dict[tuple[str, str], dict[int, float]] = {}
    for benchmark in benchmarks:
        budgets = budgets_of(benchmark)
        print(f"\n{benchmark}: hypervolume regret (mean over {seeds} seeds ± standard error; a method with fewer "
              "seeds names their number)")
        print(f"{'method':12} " + " ".join(f"{'regret@' + str(b):>11}" for b in budgets)
              + f" {'s/run':>7} {'select s/gen':>13} {'propose s/gen':>14}  code")
        for method in methods:
            runs = [kept[benchmark, method, s] for s in range(seeds) if (benchmark, method, s) in kept]
            if not runs:
                continue
            regret = np.array([r["regrets"] for r in runs])
            mean[benchmark, method] = dict(zip(budgets, regret.mean(axis=0), strict=True))
            name = method if len(runs) == seeds else f"{method} ({len(runs)})"
            print(f"{name:12} " + " ".join(f"{v:10.2f}%" for v in regret.mean(axis=0))
                  + f" {np.mean([r['seconds'] for r in runs]):7.1f} {np.mean([r['select_s'] for r in runs]):13.2f}"
                  + f" {np.mean([r['propose_s'] for r in runs]):14.2f}  "
                  + ",".join(sorted({r["commit"] for r in runs})))
            print(f"{'':12} " + " ".join(f"{'±' + format(v, '.2f'):>10} " for v in
                                         regret.std(axis=0) / np.sqrt(len(runs))))
        if benchmark == "digits-exhaustive":
            import csv

            with open(DIGITS_TABLE, newline="") as f:
                train_s = np.array([float(r["train_s"]) for r in csv.DictReader(f)]) / 3  # three seeds per row
            print(f"one evaluation here (one 8-epoch training on digits, 1 thread, while another ran beside it): "
                  f"median {np.median(train_s):.1f} s, {train_s.min():.1f}–{train_s.max():.1f} s — the surrogate's "
                  "select + propose seconds per generation above are spent once per 10 evaluations")
    checks = []
    methods = [m for m in methods if all((b, m) in mean for b in benchmarks)]
    for proposal in ("auto",):  # nasco's default
        if proposal not in methods:
            continue
        if "nsga2" in methods:  # against plain NSGA-II at every budget (issue 36)
            for benchmark in benchmarks:
                worst = max(mean[benchmark, proposal][b] - mean[benchmark, "nsga2"][b] for b in budgets_of(benchmark))
                checks.append((f"{benchmark}_{proposal}_minus_nsga2_worst_budget_pct", worst, "<=", 0.0))
        if "tpe" in methods:  # … against Optuna's TPE from 100 evaluations on
            for benchmark in benchmarks:
                worst = max(mean[benchmark, proposal][b] - mean[benchmark, "tpe"][b] for b in budgets_of(benchmark)
                            if b >= 100)
                checks.append((f"{benchmark}_{proposal}_minus_tpe_worst_budget_from_100_pct", worst, "<=", 0.0))
        if "nsga2" in methods:  # ≥ 4× fewer evaluations: the proposal at ¼ of NSGA-II's last budget
            fewer = sum(mean[b, proposal][max(budgets_of(b)) // 4] <= mean[b, "nsga2"][max(budgets_of(b))]
                        for b in benchmarks)
            checks.append((f"benchmarks_where_{proposal}_at_quarter_budget_beats_nsga2_at_full", fewer, ">=",
                           len(benchmarks) / 2))
    print_results(checks, digits=2)


def surrogate_at_scale(repeats: int) -> None:
    """Held-out Kendall τ and fit seconds per family at 200/450/1,000 training records (the rest held
    out; the campaigns' features and log-error target), mean over ``repeats`` random splits."""
    import torch

    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict
    from nasco.surrogate import make_predictor, rank_quality
    from nasco.surrogate.predictors import GaussianProcess

    torch.set_num_threads(1)
    data = json.loads(DATA.read_text())
    keys = sorted(data)
    layout = compile_any(space_from_dict({"kind": "genes", "genes": {f"b{i}": ["0", "1", "2"] for i in range(8)}}))
    genomes = np.array([[int(c) for c in k] for k in keys])
    cheap = np.array([[data[k]["flops"], data[k]["params"]] for k in keys], dtype=np.float64)
    X = np.hstack([layout.features(genomes), np.log10(1.0 + cheap)])
    y = np.log(np.array([1 - data[k]["mean_acc"] / 100 for k in keys]) + 0.01)
    families = {f: (lambda s, f=f: make_predictor(f, seed=s)) for f in ("gp", "trees", "ensemble", "mlp")}
    families["gp-200"] = lambda s: GaussianProcess(seed=s, max_records=200)
    print(f"\nsurrogate at scale: held-out Kendall τ (fit seconds), mean of {repeats} splits; gp conditions on up to "
          "1,000 records, gp-200 on 200 (the former cap)")
    print(f"{'records':>8} " + " ".join(f"{f:>15}" for f in families))
    for n in (200, 450, 1000):
        cells = []
        for make in families.values():
            taus, secs = [], []
            for r in range(repeats):
                order = np.random.default_rng(r).permutation(len(y))
                started = time.perf_counter()
                model = make(r).fit(X[order[:n]], y[order[:n]])
                secs.append(time.perf_counter() - started)
                taus.append(rank_quality(y[order[n:]], model.predict(X[order[n:]])[0])[0])
            cells.append(f"{np.mean(taus):.3f} ({np.mean(secs):4.1f}s)")
        print(f"{n:>8} " + " ".join(f"{c:>15}" for c in cells))


if __name__ == "__main__":
    main()
