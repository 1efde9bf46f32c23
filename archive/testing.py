"""The archive contract as a kit: :func:`check_archive` runs every promise an :class:`~nasco.archive.Archive`
makes on archives you build (like ``optuna.testing``'s storage tests), and the suite runs it over the HDF5 and
in-memory archives.

Usage, for an archive of your own (a database, an object store)::

    from nasco.archive.testing import check_archive

    check_archive(lambda columns: MyArchive(url, columns=columns),
                  reopen=lambda: MyArchive(url))      # optional: what a later process reads back

``make(columns)`` returns a new, empty, writable archive with those value columns, each call a fresh one.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

import numpy as np

from nasco.archive.base import Archive
from nasco.archive.errors import ArchiveError
from nasco.archive.record import Record

COLUMNS = ("error", "macs", "size_bits")
SPACE = {"input_shape": [1, 8, 8], "num_classes": 10, "stages": []}
TASK = {"name": "digits", "input_shape": [1, 8, 8], "num_classes": 10}
SOURCE = {"sha256": "ab" * 32, "records": 3}


class ArchiveContractError(ArchiveError, AssertionError):
    """An archive breaks its contract: the message lists every problem found, one per line."""


def contract_record(i: int, *, space_id: str = "sp1", task_id: str = "digits", fidelity: int = 5,
                    status: str = "ok", n_genes: int = 6, **fields) -> Record:
    """Record ``i`` of the kit's data (deterministic in ``i``; keyword arguments override fields)."""
    rng = np.random.default_rng(i)
    defaults = dict(
        genome=rng.integers(0, 4, n_genes), space_id=space_id, task_id=task_id, fidelity=fidelity,
        values={"error": float(rng.random()), "macs": float(1000 + i), "size_bits": float(8 * i)},
        status=status, reason="" if status == "ok" else f"loss became nan ✗ #{i}",
        wall_time_s=1.5, device="cpu", seed=i, generation=i % 3, campaign_id="c1",
        curve=rng.random(i % 4).astype(np.float32), created=1_700_000_000.0 + i,
    )
    defaults.update(fields)
    return Record(**defaults)


def check_archive(make: Callable[[tuple[str, ...]], Archive], reopen: Callable[[], Archive] | None = None) -> None:
    """Check that archives ``make(columns)`` builds keep the archive contract; ``reopen()`` (optional)
    opens the last one made again, as a later process would, to check that records and sources persist.

    Raises:
        ArchiveContractError: listing every broken promise (which check, what went wrong).
    """
    problems, name = [], "the archive"
    for check in _CHECKS:
        archive = make(COLUMNS)
        name = type(archive).__name__
        try:
            archive.register_space("sp1", SPACE, n_genes=6)
            archive.register_task("digits", TASK)
            check(archive)
        except Exception as err:  # a broken promise of any kind is reported, the other checks still run
            where = traceback.extract_tb(err.__traceback__)[-1]
            problems.append(f"{check.__name__}: {type(err).__name__}: {err} (line {where.lineno})")
        finally:
            archive.close()
    if reopen is not None and not problems:
        problems += _check_reopen(make, reopen)
    if problems:
        raise ArchiveContractError(f"{name} breaks the archive contract:\n" + "\n".join(problems))


def _expect(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(what)


def _expect_same(record: Record, stored: Record, where: str) -> None:
    _expect(np.array_equal(record.genome, stored.genome), f"{where}: genome {stored.genome} != {record.genome}")
    _expect(np.array_equal(np.asarray(record.curve, np.float32), stored.curve), f"{where}: curve differs")
    for name in ("space_id", "task_id", "fidelity", "status", "reason", "wall_time_s", "device", "seed",
                 "generation", "campaign_id", "created"):
        _expect(getattr(record, name) == getattr(stored, name),
                f"{where}: {name} {getattr(stored, name)!r} != {getattr(record, name)!r}")
    _expect(dict(record.values) == stored.values, f"{where}: values {stored.values} != {dict(record.values)}")


def _expect_error(call: Callable[[], object], pattern: str, what: str) -> None:
    """``call`` raises an ArchiveError whose message contains ``pattern``."""
    try:
        call()
    except ArchiveError as err:
        _expect(pattern in str(err), f"{what}: the error {str(err)!r} does not say {pattern!r}")
        return
    raise AssertionError(f"{what}: accepted, not refused with an ArchiveError")


def appends_and_reads_back(archive: Archive) -> None:
    records = [contract_record(i, status="failed" if i % 5 == 0 else "ok") for i in range(40)]
    counts = [archive.append(records[:1]), archive.append(records[1:17]), archive.append(records[17:])]
    _expect(counts == [1, 17, 40], f"append returned {counts}; allowed: the total after each batch [1, 17, 40]")
    table = archive.table()
    _expect(len(table) == len(archive) == 40, f"{len(table)} records in the table, len {len(archive)}; 40 appended")
    for i, record in enumerate(records):
        _expect_same(record, table.record(i), f"record {i}")
    _expect(table.genome_matrix().shape == (40, 6), f"genome matrix {table.genome_matrix().shape}; allowed (40, 6)")


def filters(archive: Archive) -> None:
    archive.register_task("other", {"name": "other"})
    archive.append([contract_record(i, task_id="other" if i % 2 else "digits", fidelity=5 + i % 3,
                                    status="failed" if i % 4 == 0 else "ok") for i in range(24)])
    for query, expected in (({"task": "other"}, 12), ({"status": "failed"}, 6), ({"fidelity": 6}, 8),
                            ({"generation": 0}, 8), ({"space": "sp1", "task": "digits", "status": "ok"}, 6)):
        found = len(archive.read(**query))
        _expect(found == expected, f"read({query}) gave {found} records; allowed: {expected}")
    _expect_error(lambda: archive.read(status="broken"), "status: 'broken' is not allowed", "read(status='broken')")


def finds_by_hash(archive: Archive) -> None:
    records = [contract_record(i) for i in range(10)]
    archive.append(records)
    archive.append([contract_record(3, fidelity=20)])
    found = archive.find(records[3].genome_hash)
    _expect(len(found) == 2 and set(found.column("fidelity").tolist()) == {5, 20},
            f"find(hash) gave {len(found)} records; allowed: both fidelities of the genome (5 and 20)")
    _expect(len(archive.find(records[3].genome_hash, fidelity=20)) == 1, "find(hash, fidelity=20): not one record")
    _expect(len(archive.find("0" * 16)) == 0, "find of an unknown hash gave records")


BAD_BATCHES = (  # (records, what the refusal must say): each batch is refused whole
    (lambda: [contract_record(1), contract_record(2, n_genes=5)], "record.genome: shape (5,)"),
    (lambda: [contract_record(1, space_id="nope")], "record.space_id: 'nope' is not registered"),
    (lambda: [contract_record(1, task_id="cifar")], "record.task_id: 'cifar' is not registered"),
    (lambda: [contract_record(1, values={"error": 0.1})], "record.values: columns ['error'] do not match"),
    (lambda: [contract_record(1, values={"error": 0.1, "macs": float("inf"), "size_bits": 1.0})], "infinite"),
    (lambda: [contract_record(1, status="maybe")], "record.status: 'maybe' is not allowed"),
    (lambda: [contract_record(1, device="x" * 40)], "is 40 UTF-8 bytes; allowed: at most 16"),
    (lambda: [contract_record(1, campaign_id="a\x00b")], "contains a NUL"),
    (lambda: [contract_record(1, reason="\udcff")], "is not valid UTF-8"),
    (lambda: [contract_record(1, fidelity=-1)], "record.fidelity: -1 is not allowed"),
    (lambda: [contract_record(1, genome=np.array([0, 1, 2, 3, 4, 40_000]))], "record.genome: values 0..40000"),
    (lambda: [contract_record(1, wall_time_s=float("nan"))], "record.wall_time_s: nan is not allowed"),
)


def refuses_bad_batches_whole(archive: Archive) -> None:
    archive.append([contract_record(0)])
    for make_batch, said in BAD_BATCHES:
        batch = make_batch()
        _expect_error(lambda batch=batch: archive.append(batch), said, f"a batch that should say {said!r}")
        _expect(len(archive) == 1, f"after the refused batch {said!r}: {len(archive)} records; allowed: 1 (none of "
                                   "the batch written)")
    _expect(len(archive.table().genomes) == 6, "the table's genome heap holds more than the one record")


def refuses_conflicting_registrations(archive: Archive) -> None:
    archive.register_space("sp1", SPACE, n_genes=6)  # the same definition again: fine
    _expect_error(lambda: archive.register_space("sp1", {**SPACE, "num_classes": 3}, n_genes=6),
                  "space id 'sp1' is already registered with a different definition", "re-registering sp1 differently")
    _expect_error(lambda: archive.register_task("", {}), "task id '' is not allowed", "an empty task id")


def registers_after_appending(archive: Archive) -> None:
    archive.append([contract_record(0)])
    archive.register_space("sp2", {"other": True}, n_genes=3)
    archive.append([contract_record(1, space_id="sp2", n_genes=3)])
    _expect(len(archive.read(space="sp2")) == 1 and "sp2" in archive.spaces, "a space registered after an append")


def keeps_sources(archive: Archive) -> None:
    _expect(dict(archive.sources) == {}, f"a new archive has sources {dict(archive.sources)}")
    archive.append([contract_record(i) for i in range(3)])
    archive.register_source("/data/a.h5", SOURCE)
    archive.register_task("other", {"name": "other"})  # later registrations keep the sources
    _expect(dict(archive.sources) == {"/data/a.h5": SOURCE}, f"sources {dict(archive.sources)} after a registration")


_CHECKS = (appends_and_reads_back, filters, finds_by_hash, refuses_bad_batches_whole, refuses_conflicting_registrations,
           registers_after_appending, keeps_sources)


def _check_reopen(make: Callable[[tuple[str, ...]], Archive], reopen: Callable[[], Archive]) -> list[str]:
    """Records, registrations and sources written by one archive are what ``reopen()`` reads."""
    archive = make(COLUMNS)
    records = [contract_record(i) for i in range(5)]
    archive.register_space("sp1", SPACE, n_genes=6)
    archive.register_task("digits", TASK)
    archive.append(records)
    archive.register_source("/data/a.h5", SOURCE)
    archive.close()
    problems = []
    reader = reopen()
    try:
        table = reader.table()
        if len(table) != len(records):
            problems.append(f"reopen: {len(table)} records read back; allowed: the 5 written")
        else:
            for i, record in enumerate(records):
                _expect_same(record, table.record(i), f"reopen: record {i}")
        if dict(reader.sources) != {"/data/a.h5": SOURCE} or "sp1" not in reader.spaces or "digits" not in reader.tasks:
            problems.append(f"reopen: sources {dict(reader.sources)}, spaces {list(reader.spaces)}, tasks "
                            f"{list(reader.tasks)}; allowed: what was registered")
    except AssertionError as err:
        problems.append(str(err))
    finally:
        reader.close()
    return problems
