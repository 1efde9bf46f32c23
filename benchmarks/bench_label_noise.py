"""How well can any surrogate rank the benchmark's records? Seed-to-seed agreement of the labels.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_label_noise.py [--n 60]``.

Retrains the first N digits genomes of ``benchmarks/data/surrogate_8x8.h5`` (same 8-epoch
recipe, new seeds) and reports Kendall τ between the archived and the new validation errors.
This τ is the labels' own reproducibility: one training ranks a second training of the same
genomes only this well, so the τ bench_surrogate can measure against single trainings is
bounded near it (a perfect predictor of the expected error would do somewhat better than one
noisy training, not much). The RESULT compares the selected surrogate's held-out τ at 200
records (from benchmarks/results/bench_surrogate.txt) with it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
import surrogate_data
from bench_common import cpu_name, print_results

from nasco.archive import HDF5Archive
from nasco.evo.search.surrogate_io import task_records
from nasco.surrogate import rank_quality

RESULTS = Path(__file__).parent / "results" / "bench_surrogate.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="genomes to retrain (60)")
    args = parser.parse_args()
    with HDF5Archive(surrogate_data.ARCHIVE) as archive:
        _, genomes, errors = task_records(archive.table(), dict(archive.spaces), "digits")
    jobs = [(g, 999_000 + i) for i, g in enumerate(genomes[: args.n])]
    with ProcessPoolExecutor(2, initializer=surrogate_data._init, initargs=("digits",)) as pool:
        again = np.array([result.val_error for _, _, result in pool.map(surrogate_data._train, jobs)])
    tau, rho, _ = rank_quality(errors[: args.n], again)
    match = re.search(r"RESULT tau_selected_200=([0-9.]+)", RESULTS.read_text()) if RESULTS.exists() else None
    surrogate_tau = float(match.group(1)) if match else float("nan")
    print(f"# bench_label_noise  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; 2 training processes, 1 torch thread each")
    print(f"retrained {args.n} digits genomes (8 epochs, new seeds): Kendall τ {tau:.3f}, Spearman ρ {rho:.3f} "
          "between the archived and the new validation errors")
    print(f"mean |error difference|: {np.mean(np.abs(errors[: args.n] - again)):.4f}")
    print(f"selected surrogate's held-out τ at 200 records (bench_surrogate): {surrogate_tau:.3f}")
    print()
    ok = print_results([("surrogate_tau_200_over_label_tau", surrogate_tau / tau, ">=", 0.9)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
