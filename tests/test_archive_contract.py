"""One contract suite over both archives (HDF5 and in-memory)."""

from __future__ import annotations

import numpy as np
import pytest

from nasco.archive import ArchiveError, HDF5Archive, MemoryArchive, Record

COLUMNS = ("error", "macs", "size_bits")
SPACE = {"input_shape": [1, 8, 8], "num_classes": 10, "stages": []}


def make_record(i: int, *, space_id="sp1", task_id="digits", fidelity=5, status="ok", n_genes=6, **kw) -> Record:
    rng = np.random.default_rng(i)
    defaults = dict(
        genome=rng.integers(0, 4, n_genes), space_id=space_id, task_id=task_id, fidelity=fidelity,
        values={"error": float(rng.random()), "macs": float(1000 + i), "size_bits": float(8 * i)},
        status=status, reason="" if status == "ok" else f"loss became nan ✗ #{i}",
        wall_time_s=1.5, device="cpu", seed=i, generation=i % 3, campaign_id="c1",
        curve=rng.random(i % 4).astype(np.float32), created=1_700_000_000.0 + i,
    )
    defaults.update(kw)
    return Record(**defaults)


@pytest.fixture(params=["memory", "hdf5"])
def archive(request, tmp_path):
    factories = {"memory": lambda: MemoryArchive(COLUMNS),
                 "hdf5": lambda: HDF5Archive(tmp_path / "a.h5", "a", columns=COLUMNS)}
    arch = factories[request.param]()
    arch.register_space("sp1", SPACE, n_genes=6)
    arch.register_task("digits", {"name": "digits", "input_shape": [1, 8, 8], "num_classes": 10})
    yield arch
    arch.close()


def _assert_same(record: Record, stored: Record) -> None:
    assert np.array_equal(record.genome, stored.genome)
    assert np.array_equal(np.asarray(record.curve, np.float32), stored.curve)
    for name in ("space_id", "task_id", "fidelity", "status", "reason", "wall_time_s", "device", "seed",
                 "generation", "campaign_id", "created"):
        assert getattr(record, name) == getattr(stored, name), name
    assert dict(record.values) == stored.values


def test_append_and_read_back(archive):
    records = [make_record(i, status="failed" if i % 5 == 0 else "ok") for i in range(40)]
    assert archive.append(records[:1]) == 1
    assert archive.append(records[1:17]) == 17
    assert archive.append(records[17:]) == 40
    table = archive.table()
    assert len(table) == len(archive) == 40
    for i, record in enumerate(records):
        _assert_same(record, table.record(i))
    assert table.genome_matrix().shape == (40, 6)


def test_filters(archive):
    archive.register_task("other", {"name": "other"})
    archive.append([make_record(i, task_id="other" if i % 2 else "digits", fidelity=5 + i % 3,
                                status="failed" if i % 4 == 0 else "ok") for i in range(24)])
    assert len(archive.read(task="other")) == 12
    assert len(archive.read(status="failed")) == 6
    assert len(archive.read(fidelity=6)) == 8
    assert len(archive.read(generation=0)) == 8
    assert len(archive.read(space="sp1", task="digits", status="ok")) == 6
    with pytest.raises(ArchiveError, match="status: 'broken' is not allowed"):
        archive.read(status="broken")


def test_find_by_hash(archive):
    records = [make_record(i) for i in range(10)]
    archive.append(records)
    archive.append([make_record(3, fidelity=20)])
    found = archive.find(records[3].genome_hash)
    assert len(found) == 2 and set(found.column("fidelity").tolist()) == {5, 20}
    assert len(archive.find(records[3].genome_hash, fidelity=20)) == 1
    assert len(archive.find("0" * 16)) == 0


def test_bad_batch_writes_nothing(archive):
    archive.append([make_record(0)])
    bad_batches = [
        ([make_record(1), make_record(2, n_genes=5)], r"record\.genome: shape \(5,\)"),
        ([make_record(1, space_id="nope")], r"record\.space_id: 'nope' is not registered"),
        ([make_record(1, task_id="cifar")], r"record\.task_id: 'cifar' is not registered"),
        ([make_record(1, values={"error": 0.1})], r"record\.values: columns \['error'\] do not match"),
        ([make_record(1, values={"error": 0.1, "macs": float("inf"), "size_bits": 1.0})], "infinite"),
        ([make_record(1, status="maybe")], r"record\.status: 'maybe' is not allowed"),
        ([make_record(1, device="x" * 40)], r"record\.device: .* is 40 UTF-8 bytes; allowed: at most 16"),
        ([make_record(1, campaign_id="a\x00b")], "contains a NUL"),
        ([make_record(1, reason="\udcff")], "is not valid UTF-8"),
        ([make_record(1, fidelity=-1)], r"record\.fidelity: -1 is not allowed"),
        ([make_record(1, genome=np.array([0, 1, 2, 3, 4, 40_000]))], r"record\.genome: values 0\.\.40000"),
        ([make_record(1, wall_time_s=float("nan"))], r"record\.wall_time_s: nan is not allowed"),
    ]
    for batch, pattern in bad_batches:
        with pytest.raises(ArchiveError, match=pattern):
            archive.append(batch)
        assert len(archive) == 1
    assert len(archive.table().genomes) == 6


def test_registration_conflicts(archive):
    archive.register_space("sp1", SPACE, n_genes=6)  # same definition again: fine
    with pytest.raises(ArchiveError, match="space id 'sp1' is already registered with a different definition"):
        archive.register_space("sp1", {**SPACE, "num_classes": 3}, n_genes=6)
    with pytest.raises(ArchiveError, match="task id '' is not allowed"):
        archive.register_task("", {})


def test_register_after_append(archive):
    archive.append([make_record(0)])
    archive.register_space("sp2", {"other": True}, n_genes=3)
    archive.append([make_record(1, space_id="sp2", n_genes=3)])
    assert len(archive.read(space="sp2")) == 1 and "sp2" in archive.spaces


def test_warm_start_sources_are_registered_and_kept(archive, tmp_path):
    assert dict(archive.sources) == {}
    archive.append([make_record(i) for i in range(3)])
    archive.register_source("/data/a.h5", {"sha256": "ab" * 32, "records": 3})
    archive.register_task("other", {"name": "other"})  # later registrations keep the sources
    assert dict(archive.sources) == {"/data/a.h5": {"sha256": "ab" * 32, "records": 3}}
    if isinstance(archive, HDF5Archive):
        archive.close()
        with HDF5Archive(tmp_path / "a.h5") as reader:
            assert dict(reader.sources) == {"/data/a.h5": {"sha256": "ab" * 32, "records": 3}}
            assert len(reader) == 3
        with HDF5Archive(tmp_path / "a.h5", "a", columns=(*COLUMNS, "latency_ms")) as writer:  # rewritten
            assert dict(writer.sources) == {"/data/a.h5": {"sha256": "ab" * 32, "records": 3}}
