"""An exhaustively trained benchmark nasco makes itself: every genome of a small joint space on digits.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/make_digits_table.py [--workers 2]`` (about 30 min
of one core; rows already in the file are kept, so an interrupted run goes on where it stopped).

Space (4 genes, 144 genomes), a slice of the default 8×8 mobilenet space through
:func:`~nasco.evo.space.genome.fixed_genome`: ``arch`` (every architecture gene at its min, mid or max
choice), ``weight_bits`` (2, 3, 4, 8), ``act_bits`` (4, 6, 8) and ``prune`` (0, 0.25, 0.5, 0.75), each
the same for every layer. Every genome is trained with nasco's trainer (quantization-aware, gradual
pruning) for 8 epochs with seeds 0, 1, 2 on digits' 1,294 training images; the table keeps the
test error (359 images) of each seed, their mean, and the exact BitOps and size of the genome.
Unlike the CIFAR-10 tables (architecture only), its landscape has the cliffs of compression:
2-bit weights or 75 % pruning ruin small networks and barely touch large ones.

Output: ``benchmarks/data/digits_exhaustive.csv`` (key ``arch-weight_bits-act_bits-prune``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

OUT = Path(__file__).parent / "data" / "digits_exhaustive.csv"
GENES = {"arch": ["min", "mid", "max"], "weight_bits": [2, 3, 4, 8], "act_bits": [4, 6, 8],
         "prune": [0.0, 0.25, 0.5, 0.75]}
SEEDS = (0, 1, 2)
EPOCHS = 8
COLUMNS = ["key", "error", *(f"error_seed{s}" for s in SEEDS), "bitops", "size_bits", "macs", "train_s"]


def key_of(values: tuple) -> str:
    return "-".join(str(v) for v in values)


def train_one(values: tuple) -> dict:
    """Train one genome of the slice with every seed; its table row."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from nasco.evo.space.default import default_space
    from nasco.evo.space.genome import fixed_genome, genome_costs
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.train.datasets import load_task
    from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate
    from nasco.kernels.tables import COST_NAMES

    task = load_task("digits")
    layout = compile_any(default_space(task.input_shape, task.num_classes))
    arch, weight_bits, act_bits, prune = values
    genome = fixed_genome(layout, arch=arch, weight_bits=weight_bits, act_bits=act_bits, prune=prune)
    costs = dict(zip(COST_NAMES, genome_costs(layout, genome[None])[0], strict=True))
    started = time.perf_counter()
    errors = []
    for seed in SEEDS:
        _, model = train_candidate(layout, genome, task, TrainConfig(epochs=EPOCHS, device="cpu"), seed=seed)
        errors.append(evaluate(model, task, "test") if model is not None else 1.0)
    return {"key": key_of(values), "error": float(np.mean(errors)),
            **{f"error_seed{s}": e for s, e in zip(SEEDS, errors, strict=True)},
            "bitops": int(costs["bitops"]), "size_bits": int(costs["size_bits"]), "macs": int(costs["macs"]),
            "train_s": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    done = set()
    if OUT.is_file():
        with open(OUT, newline="") as f:
            done = {row["key"] for row in csv.DictReader(f)}
    todo = [v for v in itertools.product(*GENES.values()) if key_of(v) not in done]
    print(f"{len(done)} genomes in {OUT.name}, {len(todo)} to train ({len(SEEDS)} seeds × {EPOCHS} epochs each)")
    new_file = not OUT.is_file()
    with open(OUT, "a", newline="") as f, ProcessPoolExecutor(args.workers) as pool:
        writer = csv.DictWriter(f, COLUMNS)
        if new_file:
            writer.writeheader()
        futures = [pool.submit(train_one, v) for v in todo]
        for i, future in enumerate(as_completed(futures), 1):
            row = future.result()
            writer.writerow(row)
            f.flush()
            print(f"[{i}/{len(todo)}] {row['key']}: test error {row['error']:.4f} ({row['train_s']} s)", flush=True)
    with open(OUT, newline="") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["key"])
    with open(OUT, "w", newline="") as f:  # sorted by key, so that reruns give the same file
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    sys.stdout.write(f"{len(rows)} rows in {OUT}\n")


if __name__ == "__main__":
    main()
