"""How fast `nasco front` answers on a large archive (100,000 records), end to end and by stage.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_front.py [--records 100000]``.

The archive holds random genomes of the default 8×8 space with exact costs and random errors
(written once to a temporary folder). Timed: the whole ``nasco front`` command in a fresh
process (interpreter start, imports, reading, the front, the table), its stages in process
(HDF5 read, first-front kernel, table rows), the pairwise non-dominated sort it avoids, and
``nasco report`` on the same archive.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results

NASCO = str(Path(sys.executable).with_name("nasco"))


def make_archive(path: Path, n: int) -> None:
    from nasco.archive import HDF5Archive, Record
    from nasco.evo import compile_space, default_space, sample_genomes
    from nasco.evo.search.campaign import RESULT_COLUMNS
    from nasco.evo.space.genome import genome_costs
    from nasco.kernels.tables import COST_NAMES

    layout = compile_space(default_space((1, 8, 8), 10))
    rng = np.random.default_rng(0)
    genomes = sample_genomes(layout, rng, n)
    costs = genome_costs(layout, genomes).astype(float)
    errors = np.clip(0.4 - 0.05 * np.log10(costs[:, 2]) + rng.normal(0, 0.05, n), 0.005, 0.95)
    with HDF5Archive(path, "a", columns=RESULT_COLUMNS) as archive:
        archive.register_space(layout.space.space_id, layout.space.to_dict(), layout.n_genes)
        archive.register_task("digits", {"name": "digits"})
        for start in range(0, n, 10_000):
            archive.append(Record(genome=g, space_id=layout.space.space_id, task_id="digits", fidelity=4,
                                  values={"error": float(e), **dict(zip(COST_NAMES, c.tolist(), strict=True)),
                                          "latency_us": float("nan"), "test_error": float("nan")},
                                  generation=i // 1000, campaign_id="bench",
                                  curve=np.array([e], np.float32))
                           for i, (g, c, e) in enumerate(zip(genomes[start:start + 10_000], costs[start:start + 10_000],
                                                             errors[start:start + 10_000], strict=True), start))


def timed_command(args: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="archive size (100000)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median; 5)")
    args = parser.parse_args()
    from nasco.archive import HDF5Archive
    from nasco.evo.results.front import front_rows, select_front
    from nasco.kernels.pareto import non_dominated, pareto_ranks

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.h5"
        started = time.perf_counter()
        make_archive(path, args.records)
        made = time.perf_counter() - started
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        subprocess.run([NASCO, "front", str(path)], check=True, stdout=subprocess.DEVNULL, env=env)  # warm caches
        cli = timed_command([NASCO, "front", str(path)], args.repeats)
        cli_json = timed_command([NASCO, "front", str(path), "--json", str(Path(tmp) / "f.json")], args.repeats)
        cli_plot = timed_command([NASCO, "front", str(path), "--plot", str(Path(tmp) / "f.png")], 1)
        t0 = time.perf_counter()
        with HDF5Archive(path) as archive:
            table, spaces = archive.table(), dict(archive.spaces)
        t1 = time.perf_counter()
        front = select_front(table, spaces)
        t2 = time.perf_counter()
        rows = front_rows(front)
        t3 = time.perf_counter()
        non_dominated(front.F)
        kernel = time.perf_counter() - t3
        sub = front.F[:5000]
        t4 = time.perf_counter()
        pareto_ranks(sub)
        full_sort_5k = time.perf_counter() - t4
        report = timed_command([NASCO, "report", str(path), "-o", str(Path(tmp) / "r.html")], 1)
        size = (Path(tmp) / "r.html").stat().st_size / 1e6

    print(f"# bench_front  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; commands in fresh processes, median of "
          f"{args.repeats}; archive of {args.records:,} records made in {made:.1f} s")
    print(f"\n{'what':<58} {'seconds':>8}")
    for name, value in (("nasco front ARCHIVE (whole command: start, imports, table)", cli),
                        ("nasco front ARCHIVE --json FILE", cli_json),
                        ("nasco front ARCHIVE --plot PNG", cli_plot),
                        ("  in process: read the archive (HDF5)", t1 - t0),
                        ("  in process: select records, first front", t2 - t1),
                        ("  in process: table rows of the front", t3 - t2),
                        ("  first-front kernel alone on all records", kernel),
                        ("  (full non-dominated sort of only 5,000 records)", full_sort_5k),
                        (f"nasco report ARCHIVE ({size:.1f} MB HTML)", report)):
        print(f"{name:<58} {value:>8.3f}")
    print(f"\nfront: {len(rows)} of {len(front.F):,} records")
    print()
    return 0 if print_results([("front_100k_command_s", cli, "<=", 2.0)]) else 1


if __name__ == "__main__":
    sys.exit(main())
