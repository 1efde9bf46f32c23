"""How a ``genes`` space's encoding reaches the surrogate: one-hot vs ordinal genes, held-out Kendall τ.

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 python benchmarks/bench_encoding.py [--repeats 5]``

On every fully enumerated development benchmark read from the shared data folder — NAS-Bench-Macro
(8 genes of operator choices "0", "1", "2": identity, MBConv k3e3, MBConv k5e6) and Channel-Bench-Macro's
MobileNet and ResNet spaces (7 genes of 4 channel widths each) — the campaign's features (the space's
``features``: every gene by its encoding, then log FLOPs and parameters as cheap costs) feed the default
surrogate family (``ensemble``: GP + trees), fitted on 156 / 469 / 1,563 random records and scored by
Kendall τ on 2,000 other records (log error, as campaigns fit it), ``--repeats`` random splits. Both
encodings see the same splits. nasco's default encodes strings one-hot and numbers as ordinals; the
RESULT lines check that the default is never worse than the other encoding by more than 0.01 τ.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import print_results

from nasco.evo.space.kinds import compile_any
from nasco.evo.space.toml_io import space_from_dict
from nasco.surrogate import make_predictor, rank_quality

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
SIZES = (156, 469, 1563)
HELD_OUT = 2000


def nas_bench_macro() -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """(genes, genomes (N, 8), cheap (N, 2): flops, params, error (N,))."""
    data = json.loads((SHARED / "nas-bench-macro" / "nas-bench-macro_cifar10.json").read_text())
    keys = sorted(data)
    genomes = np.array([[int(c) for c in k] for k in keys])
    cheap = np.array([[data[k]["flops"], data[k]["params"]] for k in keys], dtype=np.float64)
    error = np.array([1 - data[k]["mean_acc"] / 100 for k in keys])
    return {f"b{i}": ["0", "1", "2"] for i in range(8)}, genomes, cheap, error


def channel_bench(name: str) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    with open(SHARED / "channel-bench-macro" / f"{name}_cifar10.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    genes = {f"c{i}": sorted({int(r[f"c{i}"]) for r in rows}) for i in range(7)}
    genomes = np.array([[genes[f"c{i}"].index(int(r[f"c{i}"])) for i in range(7)] for r in rows])
    cheap = np.array([[float(r["flops"]), float(r["params"])] for r in rows])
    error = np.array([float(r["test_err_mean"]) / 100 for r in rows])
    return genes, genomes, cheap, error


def held_out_tau(genes: dict, genomes: np.ndarray, cheap: np.ndarray, error: np.ndarray, encoding: str,
                 n: int, repeat: int) -> float:
    layout = compile_any(space_from_dict({"kind": "genes", "genes": genes,
                                          "encoding": dict.fromkeys(genes, encoding)}))
    X = np.hstack([layout.features(genomes), np.log10(1.0 + cheap)])
    y = np.log(error + 0.01)
    order = np.random.default_rng(repeat).permutation(len(y))
    train, test = order[:n], order[n:n + HELD_OUT]
    model = make_predictor("ensemble", seed=repeat).fit(X[train], y[train])
    return float(rank_quality(y[test], model.predict(X[test])[0])[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    benchmarks = {"nas-bench-macro": (nas_bench_macro(), "onehot"),
                  "channel-mobilenet": (channel_bench("mobilenet"), "ordinal"),
                  "channel-resnet": (channel_bench("resnet"), "ordinal")}
    print(f"held-out Kendall τ of the ensemble surrogate (mean ± std over {args.repeats} splits, {HELD_OUT} held out)")
    print(f"{'benchmark':<18} {'records':>7} {'ordinal':>15} {'one-hot':>15}  default")
    results = []
    for name, ((genes, genomes, cheap, error), default) in benchmarks.items():
        for n in SIZES:
            taus = {enc: [held_out_tau(genes, genomes, cheap, error, enc, n, r) for r in range(args.repeats)]
                    for enc in ("ordinal", "onehot")}
            cells = [f"{np.mean(t):.3f} ± {np.std(t):.3f}" for t in taus.values()]
            print(f"{name:<18} {n:>7} {cells[0]:>15} {cells[1]:>15}  {default}", flush=True)
            other = "ordinal" if default == "onehot" else "onehot"
            results.append((f"{name}_default_minus_other_tau_at_{n}",
                            float(np.mean(taus[default]) - np.mean(taus[other])), ">=", -0.01))
    print_results(results)


if __name__ == "__main__":
    main()
