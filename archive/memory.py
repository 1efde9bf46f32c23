"""An in-memory archive with the same contract as the HDF5 one (for tests of other packages)."""

from __future__ import annotations

import numpy as np

from nasco.archive.base import Archive, Batch
from nasco.archive.errors import ArchiveError
from nasco.archive.table import RecordTable


class MemoryArchive(Archive):
    """Records held in NumPy arrays; nothing persists.

    Args:
        columns: names of the value columns (objectives and costs).
    """

    def __init__(self, columns: tuple[str, ...] | list[str]) -> None:
        super().__init__()
        if not columns or len(set(columns)) != len(columns):
            raise ArchiveError(f"columns: {list(columns)} is not allowed; allowed: distinct names, at least one")
        self._columns = tuple(columns)
        self._spaces: dict[str, dict] = {}
        self._tasks: dict[str, dict] = {}
        self._sources: dict[str, dict] = {}
        self._table = RecordTable.empty(self._columns)

    def _store_meta(self, spaces: dict[str, dict], tasks: dict[str, dict], sources: dict[str, dict]) -> None:
        self._spaces, self._tasks, self._sources = spaces, tasks, sources

    def _write_batch(self, batch: Batch) -> None:
        t = self._table
        self._table = RecordTable(
            np.concatenate([t.rows, batch.rows]), np.concatenate([t.values, batch.values]), t.columns,
            np.concatenate([t.genomes, batch.genomes]), np.concatenate([t.curves, batch.curves]),
            np.concatenate([t.text, batch.text]))


    def close(self) -> None:
        """Nothing to release."""
