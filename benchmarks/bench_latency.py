"""Latency look-up tables on this CPU: profile, then predicted vs measured on random networks.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_latency.py [--samples 50]`` with other
work stopped (the timings are wall-clock).

For the default space at 1×28×28 and 3×32×32, batch 1 and 32, one torch thread: profile every
layer configuration (7 rounds over all entries, each warm-up 3 + 10 timed runs; an entry keeps
its quietest round's median), fit the per-network overhead on 12 calibration networks, then
measure ``--samples`` other random networks end to end the same way (deployed form: slim,
float, BatchNorm folded) and compare with the table's prediction: Spearman ρ and mean absolute
percentage error. With ``--device cuda`` the same on a GPU.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="check networks per setting (50)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    args = parser.parse_args()
    import torch
    from scipy.stats import spearmanr

    from nasco.evo import compile_space, default_space, sample_genomes
    from nasco.evo.latency.profile import fit_overhead, measure_networks, profile
    from nasco.evo.train.trainer import resolve_device

    device = resolve_device(args.device)
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in ((1, 28, 28), (3, 32, 32)):
            layout = compile_space(default_space(shape, 10))
            for batch in (1, 32):
                started = time.perf_counter()
                table = profile(layout, device, batch=batch, threads=args.threads, existing=None)
                profiled = time.perf_counter() - started
                calibration = sample_genomes(layout, np.random.default_rng(100), 12)
                table.overhead = fit_overhead(table, layout, calibration, measure_networks(
                    layout, calibration, device, batch=batch, threads=args.threads))
                table.save(Path(tmp) / f"lut_{shape[0]}x{shape[1]}_b{batch}.h5")
                genomes = sample_genomes(layout, np.random.default_rng(7), args.samples)
                predicted = table.predict(layout, genomes)
                measured = measure_networks(layout, genomes, device, batch=batch, threads=args.threads)
                rho = float(spearmanr(predicted, measured)[0])
                mape = float(np.mean(np.abs(predicted - measured) / measured))
                name = f"{shape[0]}x{shape[1]}x{shape[2]}_b{batch}"
                rows.append((name, len(table.keys), profiled, table.overhead, measured, rho, mape))
                results += [(f"spearman_{name}", rho, ">=", 0.9), (f"mape_{name}", mape, "<=", 0.15)]
                print(f"{name}: ρ {rho:.3f} MAPE {100 * mape:.1f}%", file=sys.stderr, flush=True)
    print(f"# bench_latency  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {cpu_name() if device.type == 'cpu' else torch.cuda.get_device_name(device)}, "
          f"{os.cpu_count()} cores; torch {torch.__version__}, {args.threads} thread(s); {args.samples} random "
          "networks per setting (other seeds than the 12 calibration networks)")
    print(f"\n{'setting':<14} {'entries':>7} {'profile s':>9} {'overhead µs':>18} {'measured ms':>15} {'ρ':>6} "
          f"{'MAPE':>6}")
    for name, entries, seconds, (c0, c1), measured, rho, mape in rows:
        print(f"{name:<14} {entries:>7} {seconds:>9.1f} {c0:>9.1f} + {c1:>4.1f}/L {measured.min() / 1e3:>6.2f}–"
              f"{measured.max() / 1e3:<7.2f} {rho:>6.3f} {100 * mape:>5.1f}%")
    print()
    return 0 if print_results(results) else 1


if __name__ == "__main__":
    sys.exit(main())
