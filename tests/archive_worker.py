"""Child processes of the crash-safety test: a writer that reports commits, a checking reader.

Record ``i`` has content derived only from ``i``, so any process can check it bit for bit.
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np

from nasco.archive import ArchiveError, HDF5Archive, Record

COLUMNS = ("error", "macs")


def expected(i: int) -> Record:
    rng = np.random.default_rng(i)
    return Record(genome=rng.integers(0, 9, 12), space_id="sp", task_id="t", fidelity=i % 7,
                  values={"error": float(rng.random()), "macs": float(i)}, status="ok" if i % 3 else "failed",
                  reason="" if i % 3 else f"reason {i} ✓", seed=i, generation=i // 10, campaign_id="crash",
                  curve=rng.random(i % 5).astype(np.float32), created=1e9 + i, wall_time_s=float(i % 11))


def same(table, i: int) -> bool:
    record, want = table.record(i), expected(i)
    return (np.array_equal(record.genome, want.genome) and record.values == want.values
            and np.array_equal(record.curve, want.curve) and record.reason == want.reason
            and record.seed == want.seed and record.created == want.created and record.status == want.status)


def write(path: str) -> None:
    archive = HDF5Archive(path, "a", columns=COLUMNS)
    archive.register_space("sp", {"toy": 1}, n_genes=12)
    archive.register_task("t", {"name": "t"})
    rng = np.random.default_rng(int(time.time_ns() % 2**32))
    while True:
        start = len(archive)
        archive.append([expected(i) for i in range(start, start + int(rng.integers(1, 24)))])
        print(len(archive), flush=True)


def read(path: str, seconds: float) -> None:
    """Check every visible record until ``seconds`` pass or SIGTERM; prints OPEN n (at the first open),
    BAD i, GROWTH k (looks that found new records) and CHECKED n."""
    checked, deadline = 0, time.monotonic() + seconds
    stopped, growth, opened = [], 0, False

    def stop(*_):  # only a flag: an exception raised from here inside h5py's cleanup can be swallowed
        stopped.append(True)

    signal.signal(signal.SIGTERM, stop)
    while time.monotonic() < deadline and not stopped:
        try:
            archive = HDF5Archive(path)
        except (ArchiveError, OSError):
            time.sleep(0.01)  # between kill and recovery the file may be mid-replace
            continue
        if not opened:
            print(f"OPEN {len(archive)}", flush=True)
            opened = True
        for _ in range(20):
            if stopped:
                break
            table = archive.table()
            for i in range(checked if checked <= len(table) else 0, len(table)):
                if not same(table, i):
                    r, w = table.record(i), expected(i)
                    print(f"BAD {i}: read {r.values} seed {r.seed}, expected {w.values} seed {w.seed}", flush=True)
            growth += len(table) > checked
            checked = len(table)
            time.sleep(0.005)
            try:
                archive.refresh()
            except Exception:
                break
        archive.close()
    print(f"GROWTH {growth}", flush=True)
    print(f"CHECKED {checked}", flush=True)


def hold(path: str) -> None:
    """A live writer that has committed records and keeps the archive open (a running campaign)."""
    archive = HDF5Archive(path, "a", columns=COLUMNS)
    archive.register_space("sp", {"toy": 1}, n_genes=12)
    archive.register_task("t", {"name": "t"})
    archive.append([expected(i) for i in range(5)])
    print("READY", flush=True)
    while True:
        time.sleep(0.1)
        archive.append([expected(len(archive))])


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2])
    elif sys.argv[1] == "hold":
        hold(sys.argv[2])
    else:
        read(sys.argv[2], float(sys.argv[3]))
