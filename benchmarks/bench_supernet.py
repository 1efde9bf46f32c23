"""Weight sharing as an evaluation fidelity: rank quality, cost, and search compute per hypervolume.

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_supernet.py [--tasks digits,fashion]``

Per task (digits 8×8; Fashion-MNIST 28×28 from Debian's ``dataset-fashion-mnist``, a class-stratified
training subset of ``--fashion-train`` images), with the default space and the campaign recipe
(``training.epochs`` epochs per candidate, batch 64, lr 0.005, one torch thread per process):

1. **Supernet**: trained once (``[supernet]`` defaults unless ``--supernet-epochs``), its wall time
   also in stand-alone candidate trainings (÷ the mean training time of part 2).
2. **Rank quality** on ``--genomes`` random genomes (every gene uniform: mixed bits and prune ratios):
   Kendall τ between the inherited validation error and the stand-alone trained one (seed 0), and
   next to it the seed-to-seed τ of stand-alone training (seed 0 vs seed 1: the label noise, the
   ceiling of any predictor of a single training); also τ against the error after training the genome
   from its inherited weights (what the final front of a supernet campaign gets).
3. **Cost**: seconds to evaluate one genome by inheritance (extract, recalibrate, fine-tune, validate) vs
   to train it; where the validation split is larger than ``--val-images``, also τ and cost of inheritances
   scored on its first ``--val-images`` images only (``supernet.val_images``).
4. **Search at equal compute** (``--search-seeds`` seeds; a campaign's seed also draws its train/validation
   split, so each seed's supernet campaign trains its own supernet, counted), objectives (error, BitOps):
   ``train``: today's campaign (each candidate trained), its front's hypervolume after every
   training; ``supernet``: a campaign with ``evaluator.kind = "supernet"`` (``--supernet-evals``
   inherited evaluations), then its front — the non-dominated genomes by inherited error, at most
   ``--front-max`` spread over BitOps — trained stand-alone with the same recipe as the ``train``
   campaign's candidates, from the inherited weights (``supernet.final_start = "inherited"``, the
   default: the RESULT line) and, for comparison, from scratch. Hypervolumes on (validation error,
   log10 BitOps) with reference (1.0, log10 of the space's largest float BitOps + 0.01). Compute is
   wall seconds on one thread in candidate-training units: ``train``'s is the sum of its trainings up to
   the point where its hypervolume first reaches the supernet campaign's (all of them, a lower bound of
   the ratio, when it never does); ``supernet``'s is its supernet's training + every inherited
   evaluation + its front's trainings. The ratio of the two is the compute saved at equal hypervolume
   (target ≥ 2). Both campaigns select their fronts on the validation split, so their validation
   hypervolumes are optimistic; the test-split hypervolume of both final fronts (the ``train``
   campaign's retrained with its seeds) is printed next to them.
On a GPU (``--device cuda``) the ``--workers`` training processes share the one device, so a training's seconds
in the pool overstate its compute: 4 genomes are trained again alone (in a fresh process), and every training's
pool seconds are divided by the median slowdown (the supernet's training and the inheritances run alone).
``--seed-genomes K`` trains only the first K genomes with seed 1 (the seed-to-seed τ on those), and
``--warm-tasks`` names the tasks whose genomes are also trained from their inherited weights (default: all): on
a slow machine (Fashion-MNIST on 2 CPU cores, about a minute per training) the rank part then fits in a session.
With ``--truth-tasks``, the genomes of part 2 are also trained for ``--truth-epochs`` epochs (seed 0):
a higher-fidelity ground truth against which both cheap proxies — inheritance, and the search-fidelity
training with another seed — are ranked.
A supernet trained on another device (its checkpoint says which) is not counted in this run's training units: the
search then trains its own on this device (``<task>-supernet-<device>.pt``).
Run folders, supernets, trainings and inheritances are kept under ``benchmarks/data/supernet_runs/`` (git-ignored),
so an interrupted run reuses them (a cached inheritance keeps the seconds of the run that measured it).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, fashion_root, print_results

WORK = Path(__file__).parent / "data" / "supernet_runs"
EPOCHS = 4  # training.epochs: the campaign's search fidelity


def task_section(name: str, fashion_train: int) -> dict:
    if name == "digits":
        return {"dataset": "digits"}
    root = fashion_root(WORK)
    if root is None:
        sys.exit("Fashion-MNIST not found: apt-get install dataset-fashion-mnist")
    return {"dataset": "fashion-mnist", "root": root, "train_subset": fashion_train}


def base_config(name: str, args: argparse.Namespace, out: Path, seed: int = 0) -> dict:
    """A campaign of ``seed`` (which also draws the train/validation split: each seed has its own supernet)."""
    return {"campaign": {"name": f"sn-{name}-{seed}", "seed": seed, "out": str(out)},
            "task": task_section(name, args.fashion_train),
            "training": {"epochs": EPOCHS, "final_epochs": 0, "device": args.device},
            "supernet": {"file": str(WORK / f"{name}-supernet{variant(args)}{f'-{seed}' if seed else ''}.pt"),
                         **({"epochs": args.supernet_epochs} if args.supernet_epochs else {})},
            "executor": {"workers": 1}}


def variant(args: argparse.Namespace) -> str:
    """The file-name tag of a supernet trained with other than the default epochs (its runs are kept apart)."""
    return f"-e{args.supernet_epochs}" if args.supernet_epochs else ""


def setup(config: dict) -> tuple:
    """(layout, task, supernet settings, recipe id) of a config dict."""
    from nasco.evo.search.config import config_from_dict
    from nasco.evo.search.plan import campaign_space
    from nasco.evo.search.supernet_evaluator import supernet_config
    from nasco.evo.search.task import load_task_spec, task_spec
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.train.supernet import recipe_id

    c = config_from_dict(config)
    task = load_task_spec(task_spec(c.task, c.campaign.seed))
    layout = compile_any(campaign_space(c, task))
    settings = supernet_config(c)
    return layout, task, settings, recipe_id(layout, task, settings, c.campaign.seed)


def train_one(job: tuple[dict, list[int], int, int, str]) -> tuple[float, float, float]:
    """(validation error, seconds, test error) of one genome trained stand-alone with the campaign recipe for
    ``epochs``: from a fresh initialisation, or (``start`` = a supernet file) from its inherited weights."""
    import torch

    torch.set_num_threads(1)
    from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate

    config, genome, seed, epochs, start = job
    layout, task, _, recipe = _cached_setup(config)
    initial = _cached_supernet(start, layout, recipe).extract(np.array(genome)) if start else None
    recipe_config = TrainConfig(epochs=epochs, device=config["training"]["device"])
    result, model = train_candidate(layout, np.array(genome), task, recipe_config, seed=seed, start=initial)
    if result.status != "ok":
        return float("nan"), result.wall_time_s, float("nan")
    return result.val_error, result.wall_time_s, evaluate(model, task, "test", device=next(model.parameters()).device)


_SUPERNETS: dict = {}


def _cached_supernet(path: str, layout, recipe: str):
    from nasco.evo.train.supernet import load_supernet

    if path not in _SUPERNETS:
        _SUPERNETS[path] = load_supernet(path, layout, recipe=recipe)[0]
    return _SUPERNETS[path]


_SETUP: dict = {}


def _cached_setup(config: dict) -> tuple:
    key = repr((config["task"], config["campaign"]["seed"]))
    if key not in _SETUP:
        _SETUP[key] = setup(config)
    return _SETUP[key]


def train_many(pool: ProcessPoolExecutor, config: dict, genomes: np.ndarray, seeds: list[int],
               epochs: int = EPOCHS, *, start: str = "", tag: str = "", test: bool = False) -> np.ndarray:
    """(N, 3): validation error, seconds and test error (NaN unless ``test``) of each genome trained
    stand-alone with its seed (from the supernet file ``start``'s weights when given, ``tag`` naming its
    variant). Trainings are cached in ``WORK/<task>-trained[-E][-inherited<tag>].json`` by (genome, seed), so
    that an interrupted benchmark resumes."""
    suffix = ("" if epochs == EPOCHS else f"-{epochs}") + (f"-inherited{tag}" if start else "")
    cache_path = WORK / f"{config['task']['dataset']}-trained{suffix}.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    split = config["campaign"]["seed"]
    keys = [f"{' '.join(map(str, g.tolist()))}/{int(s)}" + (f"@{split}" if split else "")
            for g, s in zip(genomes, seeds, strict=True)]
    todo = [i for i, k in enumerate(keys) if k not in cache or (test and len(cache[k]) < 3)]
    jobs = [(config, genomes[i].tolist(), int(seeds[i]), epochs, start) for i in todo]
    written = time.monotonic()
    for n, (i, done) in enumerate(zip(todo, pool.map(train_one, jobs), strict=True)):
        cache[keys[i]] = list(done)
        if n == len(todo) - 1 or time.monotonic() - written > 30:  # an interrupted run keeps what it trained
            cache_path.write_text(json.dumps(cache))
            written = time.monotonic()
    return np.array([(cache[k] + [float("nan")])[:3] for k in keys])


def contention(config: dict, genomes: np.ndarray, concurrent_s: np.ndarray, k: int = 4) -> float:
    """How much slower a training ran in the pool than alone: the median ratio of ``concurrent_s`` (the pool's
    seconds of the first ``k`` genomes, seed 0) to their trainings repeated alone, in a fresh process (as the
    pool's were: CUDA prepares each new convolution shape once per process). 1 on the CPU (one core per worker);
    on a GPU the workers share the device, so the pool's seconds overstate a training's compute."""
    if config["training"]["device"] == "cpu":
        return 1.0
    jobs = [(config, g.tolist(), 0, EPOCHS, "") for g in genomes[:k]]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as alone:
        alone_s = np.array([done[1] for done in alone.map(train_one, jobs)])
    return float(np.median(concurrent_s[:k] / alone_s))


def inherit_many(supernet, genomes: np.ndarray, task, settings, recipe: str, path: Path) -> np.ndarray:
    """(N, 2): inherited validation error and seconds of each genome, cached in ``WORK/<task>-inherited.json`` by
    (supernet file, recipe, fine-tuning steps, validation images, genome), so that a rerun (say, for the search
    part) does not inherit the rank part's genomes again: a cached entry's seconds are those of the run that
    measured it."""
    from nasco.evo.train.supernet import inherit

    cache_path = WORK / f"{task.name.split(':')[0]}-inherited.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    keys = [f"{path.name}/{recipe}/{settings.finetune_steps}/{settings.val_images}/{' '.join(map(str, g.tolist()))}"
            for g in genomes]
    for key, genome in zip(keys, genomes, strict=True):
        if key not in cache:
            done = inherit(supernet, genome, task, settings)
            cache[key] = [done.error, done.seconds]
            cache_path.write_text(json.dumps(cache))
    return np.array([cache[k] for k in keys])


def search_supernet_file(path: str, layout, device: str) -> str:
    """The supernet file of a search campaign: ``path``, unless a supernet trained on another device lies there
    (say, reused by the rank part from a GPU run), whose seconds are not in this run's units; then
    ``path`` tagged with ``device``, trained by the campaign on this device."""
    from nasco.evo.train.supernet import load_supernet

    if not Path(path).is_file():
        return path
    trained_on = load_supernet(path, layout)[1]["config"]["train"]["device"]
    return path if trained_on == device else str(Path(path).with_stem(f"{Path(path).stem}-{device}"))


def inherited_images(settings, task) -> int:
    """The images one inheritance passes through its sub-network: fine-tuning (forward and backward), BatchNorm
    recalibration and validation (forward)."""
    tuned = settings.finetune_steps * settings.train.batch_size
    calibrated = min(settings.calib_batches * settings.calib_batch_size, len(task.train))
    return tuned + calibrated + len(task.val)


def rank_genomes(layout, n: int) -> np.ndarray:
    """The ``n`` random genomes of the rank-quality part (every gene uniform; one fixed draw, shared by
    ``bench_supernet_feature.py``, so that their cached trainings serve both)."""
    from nasco.evo.space.genome import sample_genomes

    return sample_genomes(layout, np.random.default_rng(12345), n)


def hv_reference(layout) -> np.ndarray:
    """The hypervolume reference point on (error, log10 BitOps): (1, log10 of the largest float network's BitOps
    + 0.01)."""
    from nasco.evo.space.genome import genome_costs, largest_genome

    return np.array([1.0, np.log10(genome_costs(layout, largest_genome(layout))[0, 2]) + 0.01])


def hypervolume(error: np.ndarray, bitops: np.ndarray, ref: np.ndarray) -> float:
    from pymoo.indicators.hv import HV

    points = np.column_stack([error, np.log10(bitops)])
    points = points[np.all(points < ref, axis=1) & np.isfinite(points).all(axis=1)]
    return float(HV(ref_point=ref)(points)) if len(points) else 0.0


def spread_front(error: np.ndarray, bitops: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the non-dominated points, at most ``limit`` of them evenly spaced over BitOps."""
    from nasco.kernels.pareto import non_dominated

    front = np.flatnonzero(non_dominated(np.column_stack([error, bitops])))
    front = front[np.argsort(bitops[front])]
    if len(front) <= limit:
        return front
    return front[np.unique(np.round(np.linspace(0, len(front) - 1, limit)).astype(int))]


def train_campaign_config(name: str, args: argparse.Namespace, seed: int) -> tuple[Path, dict]:
    """(run folder, config) of the ``train`` campaign of ``seed``: 16 + 8 × ``--train-generations`` trainings."""
    from nasco.evo.search.config import load_config

    folder = WORK / f"{name}-train-{seed}"
    config = base_config(name, args, folder, seed)
    config["supernet"] = base_config(name, args, folder)["supernet"]  # unused by train; one value for every seed
    if (folder / "config.toml").is_file():  # keep the stored (unused) section: its defaults may have changed since
        config["supernet"] = load_config(folder / "config.toml").to_dict()["supernet"]
    config["search"] = {"population": 16, "offspring": 8, "generations": args.train_generations}
    config["executor"] = {"workers": args.workers}
    return folder, config


def run_search(name: str, args: argparse.Namespace, pool: ProcessPoolExecutor, seed: int, ref: np.ndarray,
               slowdown: float) -> dict:
    """Both campaigns of one seed (each with its split; the supernet campaign trains its own supernet):
    hypervolumes (validation; test of the final fronts) and compute (seconds; the trainings' pool seconds divided
    by ``slowdown``, see :func:`contention`)."""
    import torch
    from rich.console import Console

    from nasco.archive import HDF5Archive
    from nasco.evo import run_campaign
    from nasco.evo.search.campaign import training_seed
    from nasco.evo.space.genome import genome_hash
    from nasco.evo.train.supernet import load_supernet

    torch.set_num_threads(1)
    out = {}
    folder = WORK / f"{name}-supernet{variant(args)}-{seed}"
    config = base_config(name, args, folder, seed)
    layout = _cached_setup(config)[0]
    config["supernet"]["file"] = search_supernet_file(config["supernet"]["file"], layout, args.device)
    config["search"] = {"population": 32, "offspring": 16, "generations": max(1, (args.supernet_evals - 32) // 16)}
    run_campaign({**config, "evaluator": {"kind": "supernet"}}, console=Console(quiet=True))  # trains its supernet
    supernet_s = float(load_supernet(config["supernet"]["file"], layout)[1]["seconds"])
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    search_s = supernet_s + float(table.rows["wall_time_s"].sum())
    genomes = np.array([table.genome(i) for i in range(len(table))])
    picks = spread_front(table.column("error"), table.column("bitops"), args.front_max)
    seeds = [training_seed(seed, genome_hash(layout, genomes[i])) for i in picks]
    bitops = table.column("bitops")[picks]
    out["evaluated"], out["front"] = len(table), len(picks)
    out["supernet_s"], out["inherit_s"] = supernet_s, float(table.rows["wall_time_s"].sum())
    for start in ("inherited", "scratch"):
        trained = train_many(pool, config, genomes[picks], seeds, start=config["supernet"]["file"]
                             if start == "inherited" else "", tag=variant(args), test=start == "inherited")
        out[start] = (hypervolume(trained[:, 0], bitops, ref), search_s + float(trained[:, 1].sum()) / slowdown,
                      hypervolume(trained[:, 2], bitops, ref))

    folder, config = train_campaign_config(name, args, seed)
    run_campaign(config, console=Console(quiet=True))
    out["curve"], out["train_s"], out["train_test_hv"], out["train_repro"] = train_campaign_curve(
        pool, config, folder, seed, ref)
    out["train_s"] = out["train_s"] / slowdown
    return out


def train_campaign_curve(pool: ProcessPoolExecutor, config: dict, folder: Path, seed: int, ref: np.ndarray,
                         first: int = 0) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(validation HV after each training (T,), cumulative training seconds (T,), test-split HV of the final front
    retrained with its seeds, the largest difference of those retrainings' validation errors from the archived
    ones) of a finished ``train`` campaign of ``seed`` in ``folder``, its trainings in (generation, hash) order;
    with ``first``, of its first ``first`` trainings only."""
    from nasco.archive import HDF5Archive
    from nasco.evo.search.campaign import training_seed
    from nasco.evo.space.genome import genome_hash

    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    layout = _cached_setup(config)[0]
    order = np.lexsort((table.rows["genome_hash"], table.rows["generation"]))[:first or len(table)]
    error, bitops = table.column("error")[order], table.column("bitops")[order]
    curve = np.array([hypervolume(error[:k], bitops[:k], ref) for k in range(1, len(error) + 1)])
    genomes = np.array([table.genome(i) for i in order])
    front = spread_front(error, bitops, len(error))  # the final front, retrained with its seeds for its test error
    again = train_many(pool, config, genomes[front], [training_seed(seed, genome_hash(layout, g))
                                                      for g in genomes[front]], test=True)
    return (curve, np.cumsum(table.rows["wall_time_s"][order]), hypervolume(again[:, 2], bitops[front], ref),
            float(np.nanmax(np.abs(again[:, 0] - error[front]))))


def compute_ratio(out: dict, hv: float, compute: float) -> tuple[float, float, bool]:
    """(ratio, the train campaign's compute to reach ``hv``, whether it did): the train campaign's seconds to first
    reach hypervolume ``hv`` over ``compute``; all its seconds (a lower bound of the ratio) when it never does."""
    reached = np.flatnonzero(out["curve"] >= hv)
    spent = out["train_s"][reached[0]] if len(reached) else out["train_s"][-1]
    return spent / compute, spent, bool(len(reached))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="digits,fashion")
    parser.add_argument("--genomes", type=int, default=100, help="random genomes of the rank-quality part (100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="device of every training and evaluation (cpu, cuda)")
    parser.add_argument("--fashion-train", type=int, default=2000, help="Fashion-MNIST training subset (2000)")
    parser.add_argument("--supernet-epochs", type=int, default=0, help="0: the [supernet] default")
    parser.add_argument("--search-seeds", type=int, default=2)
    parser.add_argument("--train-generations", type=int, default=10, help="train campaign: 16 + 8 × this trainings")
    parser.add_argument("--supernet-evals", type=int, default=160, help="supernet campaign: inherited evaluations")
    parser.add_argument("--front-max", type=int, default=12, help="supernet campaign: front members trained")
    parser.add_argument("--truth-tasks", default="",
                        help="tasks whose genomes are also trained for --truth-epochs (seed 0): a higher-fidelity "
                             "ground truth for both proxies, inheritance and the search-fidelity training")
    parser.add_argument("--truth-epochs", type=int, default=12)
    parser.add_argument("--seed-genomes", type=int, default=0,
                        help="the seed-to-seed τ on the first this many genomes (0: all of --genomes)")
    parser.add_argument("--warm-tasks", default=None,
                        help="tasks whose genomes are also trained from their inherited weights (default: all)")
    parser.add_argument("--val-images", type=int, default=1500,
                        help="the rank part also scores inheritances on this many validation images (0: not)")
    parser.add_argument("--search-tasks", default=None, help="tasks of the search part (default: all of --tasks)")
    args = parser.parse_args()
    import torch
    from scipy.stats import kendalltau

    from nasco.evo.search.supernet_evaluator import ensure_trained
    from nasco.evo.space.genome import largest_genome
    from nasco.evo.train.supernet import inherit, load_supernet

    torch.set_num_threads(1)
    WORK.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"# bench_supernet — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {args.workers} worker "
          f"processes × 1 thread, device {device}; torch {torch.__version__}; {EPOCHS} epochs per candidate; "
          f"{args.genomes} random genomes")
    results = []
    for name in args.tasks.split(","):
        config = base_config(name, args, WORK / f"{name}-unused")
        layout, task, settings, recipe = setup(config)
        path = Path(config["supernet"]["file"])
        ensure_trained(layout, task, settings, path, 0)
        supernet, info = load_supernet(path, layout, recipe=recipe, device=args.device)
        supernet_s = float(info["seconds"])
        genomes = rank_genomes(layout, args.genomes)
        context = None if args.device == "cpu" else multiprocessing.get_context("spawn")  # CUDA cannot fork
        with ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            runs = [train_many(pool, config, genomes, [0] * len(genomes))]
            paired = args.seed_genomes or len(genomes)
            runs.append(np.full_like(runs[0], np.nan))
            runs[1][:paired] = train_many(pool, config, genomes[:paired], [1] * paired)
            inherited = inherit_many(supernet, genomes, task, settings, recipe, path)
            inherit_error, inherit_s = inherited[:, 0], float(np.median(inherited[:, 1]))
            slowdown = contention(config, genomes, runs[0][:, 1])
            train_s = float(np.nanmedian(np.concatenate([runs[0][:, 1], runs[1][:, 1]]))) / slowdown
            ok = np.isfinite(runs[0][:, 0])
            both = ok & np.isfinite(runs[1][:, 0])
            tau_inherit = kendalltau(inherit_error[ok], runs[0][ok, 0])[0]
            tau_inherit_mean = kendalltau(inherit_error[both], runs[0][both, 0] + runs[1][both, 0])[0]
            tau_seeds = kendalltau(runs[0][both, 0], runs[1][both, 0])[0]
            print(f"\n## {name}: {task.name}, {len(task.train)} training images, space {layout.space.space_id}")
            if slowdown != 1:
                print(f"trainings ran {args.workers} at a time on one device, {slowdown:.2f}× slower than alone (4 "
                      f"genomes trained again alone): every training's seconds below are divided by that")
            trained_on = info["config"]["train"]["device"]
            print(f"supernet: {info['epoch']} epochs in {supernet_s:.0f} s"
                  + (f" = {supernet_s / train_s:.1f} candidate trainings" if trained_on == args.device else
                     f" on {trained_on} (not in this run's training units)")
                  + f" (median training {train_s:.2f} s); {info['epoch'] * len(task.train) / supernet_s:.0f} "
                  f"training images/s (each through {2 + settings.random_subnets} sub-networks)")
            as_is = dataclasses.replace(settings, finetune_steps=0)
            plain = inherit_many(supernet, genomes, task, as_is, recipe, path)[:, 0]
            print(f"rank quality on {ok.sum()} genomes (training ok): τ(inherited, trained seed 0) "
                  f"{tau_inherit:.3f}; on the {both.sum()} also trained with seed 1: τ(inherited, mean of 2 seeds) "
                  f"{tau_inherit_mean:.3f}, seed-to-seed τ of training {tau_seeds:.3f}")
            print(f"  without its {settings.finetune_steps} fine-tuning steps: τ(inherited, trained seed 0) "
                  f"{kendalltau(plain[ok], runs[0][ok, 0])[0]:.3f}")
            if 0 < args.val_images < len(task.val):
                fewer = dataclasses.replace(settings, val_images=args.val_images)
                subset = inherit_many(supernet, genomes, task, fewer, recipe, path)
                subset_s = float(np.median(subset[:, 1]))
                print(f"  scored on the first {args.val_images} of {len(task.val)} validation images "
                      f"(supernet.val_images): τ(inherited, trained seed 0) "
                      f"{kendalltau(subset[ok, 0], runs[0][ok, 0])[0]:.3f}, "
                      f"τ with the whole split's scores {kendalltau(subset[:, 0], inherit_error)[0]:.3f}; "
                      f"{subset_s:.3f} s per inheritance = {train_s / subset_s:.0f}× cheaper than training")
            print(f"  stand-alone error: median {np.median(runs[0][ok, 0]):.3f}, inherited: median "
                  f"{np.median(inherit_error):.3f}; largest network inherited "
                  f"{inherit(supernet, largest_genome(layout), task, settings).error:.3f}")
            if name not in (args.tasks if args.warm_tasks is None else args.warm_tasks).split(","):
                warm = np.full(len(genomes), np.nan)
            else:
                warm = train_many(pool, config, genomes, [0] * len(genomes), start=str(path), tag=variant(args))[:, 0]
            good = ok & np.isfinite(warm)
            if good.any():
                print(f"against training from the inherited weights (the final front's training, {EPOCHS} epochs, "
                      f"seed 0), {good.sum()} genomes: τ(inherited) "
                      f"{kendalltau(inherit_error[good], warm[good])[0]:.3f} (without fine-tuning "
                      f"{kendalltau(plain[good], warm[good])[0]:.3f}), τ(training from scratch, "
                      f"seed 0) {kendalltau(runs[0][good, 0], warm[good])[0]:.3f}; median error "
                      f"{np.median(warm[good]):.3f}")
            if name in args.truth_tasks.split(","):
                truth = train_many(pool, config, genomes, [0] * len(genomes), args.truth_epochs)[:, 0]
                good = ok & np.isfinite(truth)
                print(f"against {args.truth_epochs}-epoch training (seed 0) as the ground truth, {good.sum()} genomes: "
                      f"τ(inherited) {kendalltau(inherit_error[good], truth[good])[0]:.3f} (without fine-tuning "
                      f"{kendalltau(plain[good], truth[good])[0]:.3f}), τ({EPOCHS}-epoch training seed 1) "
                      f"{kendalltau(runs[1][good, 0], truth[good])[0]:.3f}")
            print(f"cost: inheritance {inherit_s:.3f} s vs training {train_s:.2f} s per genome = "
                  f"{train_s / inherit_s:.0f}× cheaper; an inheritance passes {inherited_images(settings, task)} "
                  f"images ({inherited_images(settings, task) / inherit_s:.0f} images/s)")
            results += [(f"{name}_tau_inherited_vs_trained", tau_inherit, ">=", 0.5),
                        (f"{name}_eval_cost_ratio", train_s / inherit_s, ">=", 10.0)]
            if name not in (args.tasks if args.search_tasks is None else args.search_tasks).split(","):
                continue
            ref = hv_reference(layout)
            ratios, scratch_ratios = [], []
            print(f"search at equal compute (hypervolume on (error, log10 BitOps), ref {ref.round(3).tolist()}):")
            for seed in range(args.search_seeds):
                out = run_search(name, args, pool, seed, ref, slowdown)
                curve = out["curve"]
                print(f"  seed {seed}: train campaign HV {curve[-1]:.4f} after {len(curve)} trainings "
                      f"({out['train_s'][-1] / train_s:.1f} trainings of compute); supernet campaign: its supernet "
                      f"{out['supernet_s']:.0f} s ({out['supernet_s'] / train_s:.1f} trainings), "
                      f"{out['evaluated']} inherited evaluations {out['inherit_s']:.0f} s "
                      f"({out['inherit_s'] / train_s:.1f} trainings), {out['front']} front members trained:")
                for start in ("inherited", "scratch"):
                    hv_sn, compute_sn, _ = out[start]
                    ratio, spent, reached = compute_ratio(out, hv_sn, compute_sn)
                    print(f"    front trained from {start + ' weights' if start == 'inherited' else 'scratch'}: "
                          f"HV {hv_sn:.4f} for {compute_sn / train_s:.1f} trainings of compute; the train campaign "
                          + (f"reaches it at {spent / train_s:.1f} trainings" if reached else
                             f"never reaches it (ratio a lower bound: all {spent / train_s:.1f} of its trainings)")
                          + f"; ratio {ratio:.2f}")
                    (ratios if start == "inherited" else scratch_ratios).append(ratio)
                print(f"    test-split HV of the final fronts: train campaign {out['train_test_hv']:.4f} (its front "
                      f"retrained with the same seeds, validation errors reproduced within {out['train_repro']:.4f}), "
                      f"supernet campaign {out['inherited'][2]:.4f}")
            print(f"  mean ratio with the front trained from scratch: {np.mean(scratch_ratios):.2f}")
            results.append((f"{name}_compute_ratio_at_equal_hv", float(np.mean(ratios)), ">=", 2.0))
    print()
    print_results(results)


if __name__ == "__main__":
    main()
