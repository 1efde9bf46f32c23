"""Archive write and read costs: appends in batches of 1, 16 and 256, loading 1,000,000 records.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_archive.py``.

Records look like a campaign's: a 126-gene genome (default 3×32×32 space), 6 value columns,
a 15-epoch curve, a failure reason on one record in ten. Each append is one committed batch
(data written, flushed, committed count written and flushed). Target: the archive's write
cost stays below 1% of a campaign's time when a candidate takes 1 s to train, i.e. below
10 ms per record at the campaign's batch size (16 candidates per generation) — and at a
batch of 1, the worst case. Loading a million records (all rows, the hash index, the genome
matrix and a value column) should take under 10 s, so a resumed campaign or a surrogate
warm start waits for its archive about as long as for a few trained candidates.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results

from nasco.archive import HDF5Archive, Record

COLUMNS = ("error", "macs", "params", "bitops", "size_bits", "peak_act_bits")
N_GENES = 126
N_LOAD = 1_000_000


def make_records(start: int, n: int, rng: np.random.Generator) -> list[Record]:
    genomes = rng.integers(0, 4, (n, N_GENES))
    values = rng.random((n, len(COLUMNS)))
    return [Record(genome=genomes[j], space_id="a1b2c3d4e5f60718", task_id="cifar10", fidelity=15,
                   values=dict(zip(COLUMNS, values[j].tolist(), strict=True)),
                   status="failed" if (start + j) % 10 == 0 else "ok",
                   reason="training loss became non-finite (nan/inf) in epoch 3" if (start + j) % 10 == 0 else "",
                   wall_time_s=1.0, device="cuda:0", seed=start + j, generation=(start + j) // 16,
                   campaign_id="bench", curve=rng.random(15).astype(np.float32)) for j in range(n)]


def open_writer(path: Path) -> HDF5Archive:
    archive = HDF5Archive(path, "a", columns=COLUMNS)
    archive.register_space("a1b2c3d4e5f60718", {"bench": True}, n_genes=N_GENES)
    archive.register_task("cifar10", {"name": "cifar10"})
    return archive




def main() -> int:
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for batch, total in ((1, 2_000), (16, 16_000), (256, 64_000)):
            path = Path(tmp) / f"b{batch}.h5"
            records = make_records(0, total, rng)
            with open_writer(path) as archive:
                start = time.perf_counter()
                for i in range(0, total, batch):
                    archive.append(records[i:i + batch])
                elapsed = time.perf_counter() - start
            rows.append((batch, total, elapsed, path.stat().st_size / total))

        path = Path(tmp) / "big.h5"
        build = time.perf_counter()
        with open_writer(path) as archive:
            for i in range(0, N_LOAD, 10_000):
                archive.append(make_records(i, 10_000, rng))
        build = time.perf_counter() - build
        start = time.perf_counter()
        with HDF5Archive(path) as reader:
            table = reader.table()
            opened = time.perf_counter() - start
            genomes = table.genome_matrix()
            errors = table.column("error")
            loaded = time.perf_counter() - start
            lookup_start = time.perf_counter()
            hits = sum(len(reader.find(table.rows["genome_hash"][i].decode())) for i in range(0, N_LOAD, 1000))
            lookup = (time.perf_counter() - lookup_start) / (N_LOAD // 1000)
        big_size = path.stat().st_size
        assert genomes.shape == (N_LOAD, N_GENES) and len(errors) == N_LOAD and hits >= N_LOAD // 1000

    print(f"# bench_archive  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores, 1 thread; h5py "
          f"{__import__('h5py').version.version}, HDF5 {__import__('h5py').version.hdf5_version}; local disk")
    print(f"# records: {N_GENES}-gene genome, {len(COLUMNS)} value columns, 15-point curve; uncompressed chunks")
    print()
    print(f"{'batch':>6}{'records':>9}{'seconds':>10}{'records/s':>12}{'ms/record':>11}{'bytes/record':>14}")
    per_record = {}
    for batch, total, elapsed, size in rows:
        per_record[batch] = elapsed / total
        print(f"{batch:>6}{total:>9,}{elapsed:>10.2f}{total / elapsed:>12,.0f}{1e3 * elapsed / total:>11.3f}"
              f"{size:>14,.0f}")
    print()
    print(f"1,000,000 records: written in {build:.1f} s (batches of 10,000), file {big_size / 2**20:.0f} MiB "
          f"({big_size / N_LOAD:.0f} bytes/record)")
    print(f"open + read all committed records + hash index: {opened:.2f} s; + genome matrix and a column: "
          f"{loaded:.2f} s; find by genome hash: {lookup * 1e6:.0f} µs")
    print()
    results = [
        ("write_share_of_1s_candidate_batch16", per_record[16] / 1.0, 0.01),
        ("write_share_of_1s_candidate_batch1", per_record[1] / 1.0, 0.01),
        ("load_1M_records_s", loaded, 10.0),
    ]
    return 0 if print_results([(n, v, "<=", t) for n, v, t in results], digits=5) else 1


if __name__ == "__main__":
    sys.exit(main())
