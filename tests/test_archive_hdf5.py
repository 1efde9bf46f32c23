"""HDF5-specific behaviour: persistence, live readers, crash safety under SIGKILL, bad files."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from archive_worker import COLUMNS, expected, same

from nasco.archive import ArchiveError, HDF5Archive

WORKER = str(Path(__file__).with_name("archive_worker.py"))
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def _writer(path) -> HDF5Archive:
    archive = HDF5Archive(path, "a", columns=COLUMNS)
    archive.register_space("sp", {"toy": 1}, n_genes=12)
    archive.register_task("t", {"name": "t"})
    return archive


def test_persists_across_reopen(tmp_path):
    path = tmp_path / "a.h5"
    with _writer(path) as archive:
        archive.append([expected(i) for i in range(10)])
        archive.append([expected(i) for i in range(10, 13)])
    with HDF5Archive(path) as reader:
        assert len(reader) == 13 and all(same(reader.table(), i) for i in range(13))
        assert len(reader.find(expected(4).genome_hash)) == 1
    with h5py.File(path, "r") as f:  # plain h5py, as SCHEMA.md says
        assert f.attrs["committed"] == 13 and int(f["committed"][0]) == 13
        assert json.loads(f.attrs["columns_json"]) == list(COLUMNS)
    with _writer(path) as archive:
        archive.append([expected(13)])
        assert len(archive) == 14


def test_reader_follows_live_writer_in_another_process(tmp_path):
    """The reader opens the file while the writer holds it and sees it grow over several refreshes
    (it reports OPEN with what it saw first, GROWTH with the refreshes that added records)."""
    path = tmp_path / "live.h5"
    with _writer(path) as archive:
        archive.append([expected(0)])
        reader = subprocess.Popen([sys.executable, WORKER, "read", str(path), "4.0"], stdout=subprocess.PIPE,
                                  text=True, env=ENV)
        first_seen = int(reader.stdout.readline().split("OPEN")[1])  # the reader is open before the writer goes on
        for start in range(1, 200, 10):
            archive.append([expected(i) for i in range(start, start + 10)])
            time.sleep(0.05)
        out, _ = reader.communicate(timeout=60)
    assert first_seen == 1
    assert "BAD" not in out
    assert int(out.split("CHECKED")[1]) == 201
    assert int(out.split("GROWTH")[1].split()[0]) >= 3  # it followed the writer, not one read of a finished file


def test_crash_safety_under_sigkill(tmp_path):
    """≥ 20 SIGKILLs of a writer at random moments; every reported commit survives, bit for bit."""
    path = tmp_path / "crash.h5"
    rng = np.random.default_rng(0)
    reader = subprocess.Popen([sys.executable, WORKER, "read", str(path), "600"], stdout=subprocess.PIPE,
                              text=True, env=ENV)
    kills = recovered = 0
    reported = 0
    try:
        while kills < 22:
            writer = subprocess.Popen([sys.executable, WORKER, "write", str(path)], stdout=subprocess.PIPE,
                                      text=True, env=ENV)
            first = writer.stdout.readline()  # the writer is appending now
            assert first.strip(), "writer died before its first commit"
            reported = max(reported, int(first))
            time.sleep(rng.uniform(0.0, 0.25))
            writer.send_signal(signal.SIGKILL)
            out, _ = writer.communicate()
            reported = max([reported, *(int(line) for line in out.split())])
            kills += 1
            with HDF5Archive(path) as check:  # a reader opens the killed file as it is
                table = check.table()
                assert len(table) >= reported
                assert all(same(table, i) for i in range(reported))
            with HDF5Archive(path, "a", columns=COLUMNS) as resumed:  # the writer's open recovers
                recovered += resumed.recovered is not None
                assert len(resumed) >= reported
                assert all(same(resumed.table(), i) for i in range(len(resumed)))
    finally:
        reader.send_signal(signal.SIGTERM)
        reader_out, _ = reader.communicate()
    assert kills >= 20 and recovered >= 1 and reported > 0
    assert "BAD" not in reader_out and int(reader_out.split("CHECKED")[1]) > 0


def test_not_hdf5(tmp_path):
    path = tmp_path / "x.h5"
    path.write_text("hello")
    for mode in ("r", "a"):
        with pytest.raises(ArchiveError, match="not an HDF5 file"):
            HDF5Archive(path, mode, columns=COLUMNS)
    assert path.read_text() == "hello"


def test_hdf5_but_not_an_archive(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["data"] = np.arange(3)
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match="not a nasco archive"):
        HDF5Archive(path, "a", columns=COLUMNS)
    assert path.read_bytes() == before


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "new.h5"
    _writer(path).close()
    with h5py.File(path, "a", libver="latest") as f:
        f.attrs["schema_version"] = 2
    before = path.read_bytes()
    for mode in ("r", "a"):
        with pytest.raises(ArchiveError, match="schema version 2 is newer than this nasco reads"):
            HDF5Archive(path, mode)
    assert path.read_bytes() == before


def test_read_only_file_refused_for_writing(tmp_path):
    path = tmp_path / "ro.h5"
    _writer(path).close()
    path.chmod(0o444)
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match="the file is read-only"):
        HDF5Archive(path, "a")
    assert len(HDF5Archive(path)) == 0 and path.read_bytes() == before


def test_new_columns_widen_the_file_and_reader_cannot_write(tmp_path):
    path = tmp_path / "c.h5"
    with _writer(path) as archive:
        archive.append([expected(0)])
        before = archive.table()
    with HDF5Archive(path, "a", columns=("error",)) as archive:  # a subset: the file's columns stay
        assert archive.columns == before.columns
    with HDF5Archive(path, "a", columns=("error", "flops")) as archive:  # a new column: added, NaN in old records
        assert archive.columns == (*before.columns, "flops")
        archive.append([dataclasses.replace(expected(1), values={**expected(1).values, "flops": 5.0})])
        table = archive.table()
    assert np.isnan(table.column("flops")[0]) and table.column("flops")[1] == 5.0
    assert table.select([0]).genome(0).tolist() == before.genome(0).tolist()
    np.testing.assert_array_equal(table.values[:1, : len(before.columns)], before.values)
    with HDF5Archive(path) as reader, pytest.raises(ArchiveError, match="opened for reading"):
        reader.register_task("x", {})
    with pytest.raises(ArchiveError, match="columns: None is not allowed for a new archive"):
        HDF5Archive(tmp_path / "new.h5", "a")


def test_second_writer_refused(tmp_path):
    path = tmp_path / "w.h5"
    with _writer(path), pytest.raises(ArchiveError, match=rf"another process \(pid {os.getpid()}\) is writing"):
        HDF5Archive(path, "a")


def test_second_writer_through_a_symbolic_link_refused(tmp_path):
    """A run folder whose archive.h5 links to a live campaign's archive must not let a second writer in."""
    live = tmp_path / "a" / "archive.h5"
    live.parent.mkdir()
    other = tmp_path / "b"
    other.mkdir()
    (other / "archive.h5").symlink_to(live)
    with _writer(live) as archive:
        archive.append([expected(0)])
        with pytest.raises(ArchiveError, match=rf"pid {os.getpid()}\) is writing this archive \(the file it links to"):
            HDF5Archive(other / "archive.h5", "a", columns=COLUMNS)
        assert len(archive) == 1
    with _writer(other / "archive.h5") as archive:  # once the first writer is gone, the link works
        archive.append([expected(1)])
    with HDF5Archive(live) as reader:
        assert len(reader) == 2


def _set_committed(path: Path, value, dtype=np.int64) -> None:
    with h5py.File(path, "r+", libver="latest", locking=False) as f:
        del f["committed"]
        f.create_dataset("committed", data=np.array([value], dtype=dtype))


@pytest.mark.parametrize(("value", "dtype"), [(0, np.int64), (-3, np.int64), (12, np.int64), (40.0, np.float64),
                                              (b"40", "S2")])
def test_damaged_committed_count_is_refused_never_truncated(tmp_path, value, dtype):
    """A committed count below what the file was closed with, negative or of the wrong type: readers and
    the writer refuse, every command says 'damaged', and the file keeps every row."""
    path = tmp_path / "a.h5"
    with _writer(path) as archive:
        archive.append([expected(i) for i in range(40)])
    _set_committed(path, value, dtype)
    size = path.stat().st_size
    for mode in ("r", "a"):
        with pytest.raises(ArchiveError, match="committed count is damaged"):
            HDF5Archive(path, mode, columns=COLUMNS)
    for command in (["archive", "info", str(path)], ["front", str(path)]):
        done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", *command], capture_output=True, text=True,
                              timeout=60, env=ENV)
        assert done.returncode == 2 and "committed count is damaged" in done.stderr, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
    assert path.stat().st_size == size
    with h5py.File(path, "r") as f:
        assert f["records"].shape[0] == 40


def test_committed_count_short_by_more_than_one_batch_is_refused(tmp_path):
    """A writer killed before any clean close leaves the attribute at 0: the count is then checked against
    the rows and the size of the last batch (the one a dead writer may not have committed)."""
    path = tmp_path / "a.h5"
    writer = subprocess.Popen([sys.executable, WORKER, "hold", str(path)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert writer.stdout.readline().strip() == "READY"
        time.sleep(0.5)  # it appends one record every 0.1 s after its first batch of 5
    finally:
        writer.kill()
        writer.wait()
    with h5py.File(path, "r", libver="latest", swmr=True, locking=False) as f:
        rows = f["records"].shape[0]
        assert int(f.attrs["committed"]) == 0 and rows >= 7 and int(f["pending"][0]) == 1
    with HDF5Archive(path, "a", columns=COLUMNS) as archive:  # the killed writer's file recovers as before
        assert len(archive) >= rows - 1
        kept = len(archive)
    with h5py.File(path, "r+", libver="latest", locking=False) as f:  # the same evidence, with a damaged count
        f.attrs["committed"] = 0
        f["committed"][0] = 1
        f["pending"][0] = 1
    with pytest.raises(ArchiveError, match=rf"says 1 records, but the file holds {kept} rows and the last batch had 1"):
        HDF5Archive(path, "a", columns=COLUMNS)
    with h5py.File(path, "r") as f:
        assert f["records"].shape[0] == kept


def test_schema_v1_fixture_stays_readable(tmp_path):
    """A file written by schema v1 (tests/fixtures/archive_v1.h5) must keep reading the same."""
    from nasco.archive.testing import contract_record as make_record

    fixture = Path(__file__).with_name("fixtures") / "archive_v1.h5"
    with HDF5Archive(fixture) as archive:
        table = archive.table()
        assert len(table) == 12 and archive.columns == ("error", "macs", "size_bits")
        for i in range(12):
            want, got = make_record(i, status="failed" if i % 4 == 0 else "ok"), table.record(i)
            assert np.array_equal(got.genome, want.genome) and got.values == want.values
            assert got.reason == want.reason and got.created == want.created


def test_schema_md_matches_the_writer():
    """Every field of ``records`` in SCHEMA.md has the dtype the writer uses, and no field is missing."""
    import re

    from nasco.archive.record import ROW_DTYPE

    text = (Path(__file__).parents[1] / "archive" / "SCHEMA.md").read_text(encoding="utf-8")
    section = text.split("Fields of `records`")[1].split("## ")[0]
    documented = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            names = re.findall(r"`(\w+)`", cells[0])
            kinds = [k.strip() for k in cells[1].split(",")]
            documented.update(zip(names, kinds, strict=True))
    spelled = {"int64": "<i8", "int32": "<i4", "int8": "|i1", "float64": "<f8"}
    actual = {name: ROW_DTYPE[name].str.lstrip("|") if ROW_DTYPE[name].kind == "S" else ROW_DTYPE[name].str
              for name in ROW_DTYPE.names}
    assert {n: spelled.get(k, k) for n, k in documented.items()} == actual


def _damaged_copies(tmp_path) -> dict[str, Path]:
    """A finished archive cut in half, one with an object header overwritten, one cut while a writer held it."""
    good = tmp_path / "good.h5"
    with _writer(good) as archive:
        archive.append([expected(i) for i in range(40)])
    data = good.read_bytes()
    out = {"truncated": tmp_path / "truncated.h5", "overwritten": tmp_path / "overwritten.h5"}
    out["truncated"].write_bytes(data[: len(data) // 2])
    out["overwritten"].write_bytes(data[:60] + bytes(200) + data[260:])
    live = tmp_path / "live.h5"
    writer = subprocess.Popen([sys.executable, WORKER, "hold", str(live)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert writer.stdout.readline().strip() == "READY"
        data = live.read_bytes()
    finally:
        writer.kill()
        writer.wait()
    out["truncated_live"] = tmp_path / "truncated_live.h5"
    out["truncated_live"].write_bytes(data[: len(data) // 2])
    return out


def test_damaged_archive_fails_fast_for_every_command(tmp_path):
    """A damaged file used to make every reader sleep forever in HDF5's SWMR retries: each open now
    ends within seconds with one clear line (exit status 2), for readers and for the writer."""
    for name, path in _damaged_copies(tmp_path).items():
        for mode in ("r", "a"):
            started = time.monotonic()
            with pytest.raises(ArchiveError, match=r"truncated|damaged"):
                HDF5Archive(path, mode, columns=COLUMNS)
            assert time.monotonic() - started < 5, (name, mode)
        for command in (["archive", "info", str(path)], ["archive", "export", str(path), "--format", "csv", "-o",
                                                         str(tmp_path / "x.csv")],
                        ["front", str(path)], ["report", str(path), "-o", str(tmp_path / "r.html")],
                        ["surrogate", "fit", str(path), "--task", "t"]):
            done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", *command], capture_output=True,
                                  text=True, timeout=60, env=ENV)
            assert done.returncode == 2, (name, command, done.stderr[-2000:])
            assert done.stderr.startswith("error:") and "Traceback" not in done.stderr, (name, command, done.stderr)
            assert "truncated" in done.stderr or "damaged" in done.stderr


def test_resume_on_a_damaged_archive_says_what_can_be_recovered(tmp_path):
    from campaign_helpers import tiny_config

    from nasco.evo.search.run_folder import prepare_run_folder

    damaged = _damaged_copies(tmp_path)["truncated"]
    folder = tmp_path / "run"
    prepare_run_folder(folder, tiny_config(folder), resume=False, force=False)
    (folder / "archive.h5").write_bytes(damaged.read_bytes())
    done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", "resume", str(folder)], capture_output=True,
                          text=True, timeout=120, env=ENV)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "is truncated" in done.stderr and "What can be recovered" in done.stderr
    assert "--force" in done.stderr and "no checkpoint" in done.stderr
