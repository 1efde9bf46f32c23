"""The archive contract kit (nasco.archive.testing) over both archives, HDF5 and in-memory, and over archives
that break it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasco.archive import HDF5Archive, MemoryArchive
from nasco.archive.testing import COLUMNS, ArchiveContractError, check_archive, contract_record


def test_the_memory_archive_keeps_the_contract():
    check_archive(MemoryArchive)


def test_the_hdf5_archive_keeps_the_contract_and_a_reader_sees_what_it_wrote(tmp_path):
    counter = itertools.count()
    paths = []

    def make(columns):
        paths.append(tmp_path / f"a{next(counter)}.h5")
        return HDF5Archive(paths[-1], "a", columns=columns)

    check_archive(make, reopen=lambda: HDF5Archive(paths[-1]))
    with HDF5Archive(paths[-1], "a", columns=(*COLUMNS, "latency_ms")) as writer:  # rewritten with a new column
        assert dict(writer.sources) == {"/data/a.h5": {"sha256": "ab" * 32, "records": 3}} and len(writer) == 5


class Forgetful(MemoryArchive):
    """Drops every record past the first 30 and accepts a bad status."""

    def append(self, records):
        records = list(records)
        for r in records:
            if r.status == "maybe":
                return len(self)
        keep = records[: max(0, 30 - len(self))]
        return super().append(keep) if keep else len(self)


def test_the_kit_names_every_broken_promise():
    with pytest.raises(ArchiveContractError) as err:
        check_archive(Forgetful)
    said = str(err.value)
    assert said.startswith("Forgetful breaks the archive contract:")
    assert "appends_and_reads_back: AssertionError: append returned [1, 17, 30]" in said
    assert "refuses_bad_batches_whole: AssertionError: a batch that should say \"record.status: 'maybe' is not " \
           "allowed\": accepted" in said
    assert len(said.splitlines()) == 3  # the other five checks pass


def test_kit_records_are_deterministic():
    a, b = contract_record(7, fidelity=9), contract_record(7, fidelity=9)
    assert np.array_equal(a.genome, b.genome) and a.values == b.values and a.fidelity == 9
