"""The supernet's inherited error as a surrogate feature (``supernet.surrogate_feature``): does it pay?

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_supernet_feature.py [--tasks digits]``
(after ``bench_supernet.py``, whose supernets, trainings and ``train`` campaigns it reuses from
``benchmarks/data/supernet_runs/``; what is missing is trained here).

Per task, with the default space and the campaign recipe of ``bench_supernet.py``:

1. **Surrogate rank quality**: the ``--genomes`` random genomes of ``bench_supernet.py``'s rank part, trained
   stand-alone (seed 0), and their inherited errors (the campaign's settings). For training sizes of 20 … 80
   records, held-out Kendall τ of the campaign's surrogate (its families, selected by cross-validation on the
   training records, :func:`nasco.surrogate.holdout_evaluation`, 10 random splits) with the space's features
   alone and with the inherited error added — and of the inherited error alone, as a ranking.
2. **Search at equal compute** (``--search-seeds`` seeds): ``bench_supernet.py``'s ``train`` campaign (16 + 8 ×
   10 trainings), and the same campaign with ``supernet.surrogate_feature = true`` (its seed's supernet, every
   screened genome inherited once). Compute in candidate-training units: the trainings' wall seconds, plus for
   the feature campaign its supernet's training and every inheritance, counted from its start (a conservative
   count: they are spread over the campaign in truth). Printed: the validation HV of both after all their
   trainings, and the test-split HV of both final fronts (retrained with their seeds). The RESULT ratio is the
   ``train`` campaign's compute to reach the feature campaign's final validation HV over the feature
   campaign's total compute (all of ``train``'s, a lower bound, when it never does). When the ``train``
   campaign ran longer (``bench_supernet.py --train-generations 25``), the HVs are compared after the same
   number of trainings (its front among its first trainings retrained for the test HV), and the ratio uses
   all of its trainings. Also printed: each campaign's surrogate judged where it mattered — its predicted
   against the trained error of the genomes it picked (out of sample, generations pooled).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, bench_supernet, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results
from bench_supernet import (
    WORK,
    base_config,
    compute_ratio,
    hv_reference,
    rank_genomes,
    setup,
    train_campaign_config,
    train_campaign_curve,
    train_many,
)

TRAIN_SIZES = (20, 40, 60, 80)


def surrogate_taus(layout, genomes: np.ndarray, errors: np.ndarray, inherited: np.ndarray, families: list[str]
                   ) -> dict[int, tuple[float, float, float]]:
    """Training size → mean held-out τ (space features, with the inherited error, the inherited error alone)."""
    from nasco.evo.search.surrogate_io import to_target
    from nasco.surrogate.selection import holdout_evaluation, rank_quality

    X = layout.features(genomes)
    X_feature = np.column_stack([X, inherited])
    y = to_target(errors)
    out = {}
    for size in TRAIN_SIZES:
        plain = holdout_evaluation(X, y, size, repeats=10, families=families, seed=0)
        feature = holdout_evaluation(X_feature, y, size, repeats=10, families=families, seed=0)
        held_out = [np.random.default_rng(r).permutation(len(y))[size:] for r in range(10)]  # holdout's splits
        alone = [rank_quality(y[test], inherited[test])[0] for test in held_out]
        out[size] = (float(np.mean([r.selected_tau for r in plain])),
                     float(np.mean([r.selected_tau for r in feature])), float(np.mean(alone)))
    return out


def picked_rank_quality(folder: Path, last_generation: int) -> tuple[float, float, int]:
    """(Kendall τ, mean absolute difference, count) of the surrogate's predicted error against the trained error
    of the genomes it picked, generations 1 … ``last_generation`` pooled (the campaign's ``surrogate.jsonl``):
    its out-of-sample rank quality where it mattered."""
    from scipy.stats import kendalltau

    predicted, true = [], []
    for line in (folder / "surrogate.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["generation"] <= last_generation:
            predicted += entry["predicted"]
            true += entry["true"]
    predicted, true = np.array(predicted, dtype=float), np.array(true, dtype=float)
    ok = np.isfinite(predicted) & np.isfinite(true)
    return (float(kendalltau(predicted[ok], true[ok])[0]), float(np.mean(np.abs(predicted[ok] - true[ok]))),
            int(ok.sum()))


def feature_campaign(name: str, args: argparse.Namespace, pool: ProcessPoolExecutor, seed: int, ref: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """(HV curve, cumulative training seconds, test-split HV of the final front, supernet training seconds,
    inheritance seconds) of the ``train`` campaign of ``seed`` with the inherited error as a surrogate feature."""
    import torch
    from rich.console import Console

    from nasco.evo import run_campaign

    _, config = train_campaign_config(name, args, seed)
    folder = WORK / f"{name}-feature-{seed}"
    config["campaign"] = {**config["campaign"], "out": str(folder)}
    config["supernet"] = {**base_config(name, args, folder, seed)["supernet"], "surrogate_feature": True}
    run_campaign(config, console=Console(quiet=True))
    curve, seconds, test_hv, _ = train_campaign_curve(pool, config, folder, seed, ref)
    supernet_s = float(torch.load(config["supernet"]["file"], map_location="cpu", weights_only=True)["seconds"])
    inherit_s = float(json.loads((folder / "inherited.json").read_text())["seconds"])
    return curve, seconds, test_hv, supernet_s, inherit_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="digits")
    parser.add_argument("--genomes", type=int, default=100, help="random genomes of the rank part (100)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fashion-train", type=int, default=2000)
    parser.add_argument("--supernet-epochs", type=int, default=0)
    parser.add_argument("--search-seeds", type=int, default=2)
    parser.add_argument("--train-generations", type=int, default=10, help="of the feature campaigns (10)")
    args = parser.parse_args()
    import torch

    from nasco.evo.search.config import SearchSection
    from nasco.evo.search.supernet_feature import INHERITANCE_SEED
    from nasco.evo.train.supernet import inherit, load_supernet

    torch.set_num_threads(1)
    families = list(SearchSection().surrogate_families)
    print(f"# bench_supernet_feature — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {args.workers} "
          f"worker processes × 1 thread, device {args.device}; surrogate families {families}")
    results = []
    for name in args.tasks.split(","):
        config = base_config(name, args, WORK / f"{name}-unused")
        layout, task, settings, recipe = setup(config)
        supernet, _ = load_supernet(config["supernet"]["file"], layout, recipe=recipe, device=args.device)
        genomes = rank_genomes(layout, args.genomes)
        with ProcessPoolExecutor(args.workers) as pool:
            trained = train_many(pool, config, genomes, [0] * len(genomes))[:, 0]
            inherited = np.array([inherit(supernet, g, task, settings, seed=INHERITANCE_SEED).error for g in genomes])
            ok = np.isfinite(trained)
            print(f"\n## {name}: {task.name}; held-out τ of the surrogate on {ok.sum()} random genomes (mean of 10 "
                  "splits)")
            print("| training records | space features | + inherited error | inherited error alone |")
            print("|---|---|---|---|")
            taus = surrogate_taus(layout, genomes[ok], trained[ok], inherited[ok], families)
            for size, (plain, feature, alone) in taus.items():
                print(f"| {size} | {plain:.3f} | {feature:.3f} | {alone:.3f} |")
            results.append((f"{name}_surrogate_tau_gain_at_40", taus[40][1] - taus[40][0], ">=", 0.05))

            ref = hv_reference(layout)
            print(f"\nsearch (HV on (validation error, log10 BitOps), ref {ref.round(3).tolist()}), compute in "
                  "candidate trainings (the train campaign's median training):")
            ratios = []
            for seed in range(args.search_seeds):
                folder, base = train_campaign_config(name, args, seed)
                f_curve, f_seconds, f_test_hv, supernet_s, inherit_s = feature_campaign(name, args, pool, seed, ref)
                curve, seconds, _, _ = train_campaign_curve(pool, base, folder, seed, ref)  # all its trainings
                _, _, test_hv, _ = train_campaign_curve(pool, base, folder, seed, ref, first=len(f_curve))
                unit = float(np.median(np.diff(seconds, prepend=0.0)))
                total = supernet_s + inherit_s + f_seconds[-1]
                ratio, spent, reached = compute_ratio({"curve": curve, "train_s": seconds}, f_curve[-1], total)
                k = len(f_curve) - 1
                print(f"  seed {seed}, after {k + 1} trainings: train campaign HV {curve[k]:.4f} (test {test_hv:.4f}) "
                      f"for {seconds[k] / unit:.1f} trainings of compute; with the feature HV {f_curve[-1]:.4f} (test "
                      f"{f_test_hv:.4f}) for {total / unit:.1f} = supernet {supernet_s / unit:.1f} + inheritance "
                      f"{inherit_s / unit:.1f} + trainings {f_seconds[-1] / unit:.1f}; the train campaign "
                      + (f"reaches that HV at {spent / unit:.1f}" if reached else
                         f"never reaches it in its {len(curve)} trainings ({seconds[-1] / unit:.1f})")
                      + f"; ratio {ratio:.2f}")
                ratios.append(ratio)
                for label, where in (("train campaign", folder), ("with the feature", WORK / f"{name}-feature-{seed}")):
                    tau, mae, n = picked_rank_quality(where, args.train_generations)
                    print(f"    {label}: the surrogate on the {n} genomes it picked (generations 1–"
                          f"{args.train_generations}): τ(predicted, trained) {tau:.3f}, mean |difference| {mae:.3f}")
            results.append((f"{name}_feature_compute_ratio_at_equal_hv", float(np.mean(ratios)), ">=", 1.0))
    print()
    print_results(results)


if __name__ == "__main__":
    main()
