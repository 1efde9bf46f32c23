"""The archive contract, shared by the HDF5 archive and the in-memory one.

Every archive guarantees (tested by one contract suite over both):

- records are appended in batches; a batch is validated as a whole first — one bad record
  and nothing of the batch is written — and then committed at once;
- spaces and tasks are registered before records refer to them; re-registering an id with
  a different definition is an error;
- the value columns are fixed when the archive is created; a record must give exactly them;
- readers see committed records only, in append order; ``find`` looks a genome hash up in
  O(1) average through an index built on open and kept current on append/refresh.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping

import numpy as np

from nasco.archive.errors import ArchiveError
from nasco.archive.record import ROW_DTYPE, Record, to_row, validate
from nasco.archive.table import RecordTable


class Batch:
    """A validated batch packed into arrays, ready to be written after ``heap_sizes``."""

    def __init__(self, records: list[Record], archive: Archive) -> None:
        checked = [validate(r, spaces=archive.spaces, tasks=archive.tasks, columns=archive.columns) for r in records]
        genome_at, curve_at, text_at = archive.heap_sizes
        rows = []
        for record, (genome, _, curve, reason) in zip(records, checked, strict=True):
            rows.append(to_row(record, (genome_at, curve_at, text_at), (len(genome), len(curve), len(reason))))
            genome_at, curve_at, text_at = genome_at + len(genome), curve_at + len(curve), text_at + len(reason)
        self.rows = np.array(rows, dtype=ROW_DTYPE)
        n_columns = len(archive.columns)
        self.values = np.array([c[1] for c in checked], dtype=np.float64).reshape(len(records), n_columns)
        self.genomes = np.concatenate([c[0] for c in checked]) if checked else np.zeros(0, np.int16)
        self.curves = np.concatenate([c[2] for c in checked]) if checked else np.zeros(0, np.float32)
        self.text = np.frombuffer(b"".join(c[3] for c in checked), dtype=np.uint8)


def canonical_json(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def derived_task_id(name: str, description: dict) -> str:
    """The task id of ``name`` under another description (another training recipe on the same
    data): ``name~HASH`` (8 hex digits of the description), at most 32 bytes, stable."""
    digest = hashlib.sha256(canonical_json(description).encode()).hexdigest()[:8]
    return f"{name.encode()[:23].decode('utf-8', 'ignore')}~{digest}"


class Archive(ABC):
    """Base of archives: registration, validation, the genome-hash index, filters."""

    def __init__(self) -> None:
        self._index: dict[bytes, list[int]] = {}

    # Subclasses set these attributes; the properties below read them.
    _columns: tuple[str, ...]
    _spaces: dict[str, dict]
    _tasks: dict[str, dict]
    _sources: dict[str, dict]
    _table: RecordTable

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the value columns (objectives and costs)."""
        return self._columns

    @property
    def spaces(self) -> Mapping[str, dict]:
        """space id → ``{"n_genes": G, "space": {...}}``."""
        return self._spaces

    @property
    def tasks(self) -> Mapping[str, dict]:
        """task id → the task's description."""
        return self._tasks

    @property
    def sources(self) -> Mapping[str, dict]:
        """Archives whose records were copied in (a warm start): resolved path → ``{"sha256", "records"}``."""
        return getattr(self, "_sources", {})

    @property
    def heap_sizes(self) -> tuple[int, int, int]:
        """Committed lengths of the genome, curve and text heaps."""
        t = self._table
        return len(t.genomes), len(t.curves), len(t.text)

    def table(self) -> RecordTable:
        """Every committed record."""
        return self._table

    @abstractmethod
    def _store_meta(self, spaces: dict[str, dict], tasks: dict[str, dict], sources: dict[str, dict]) -> None:
        """Persist the registered spaces, tasks and sources."""

    @abstractmethod
    def _write_batch(self, batch: Batch) -> None:
        """Append and commit a validated batch."""

    def __len__(self) -> int:
        return len(self.table())

    def register_space(self, space_id: str, space: dict, n_genes: int) -> None:
        """Declare a search space (its JSON-ready dict and genome length) before its records."""
        entry = {"n_genes": int(n_genes), "space": space}
        self._register("space", space_id, entry, dict(self.spaces), 16)
        self._store_meta({**self.spaces, space_id: entry}, dict(self.tasks), dict(self.sources))

    def register_task(self, task_id: str, task: dict) -> None:
        """Declare a task (a JSON-ready description) before its records."""
        self._register("task", task_id, task, dict(self.tasks), 32)
        self._store_meta(dict(self.spaces), {**self.tasks, task_id: task}, dict(self.sources))

    def register_source(self, path: str, entry: dict) -> None:
        """Record that the records of the archive at ``path`` were copied in (``entry``: JSON-ready, e.g.
        its SHA-256 and how many records were taken), so that a resumed campaign can check it is unchanged."""
        self._store_meta(dict(self.spaces), dict(self.tasks), {**self.sources, path: entry})

    @staticmethod
    def _register(kind: str, key: str, entry: dict, known: dict, limit: int) -> None:
        if not isinstance(key, str) or not key or len(key.encode()) > limit:
            raise ArchiveError(f"{kind} id {key!r} is not allowed; allowed: a non-empty string of ≤ {limit} bytes")
        if key in known and canonical_json(known[key]) != canonical_json(entry):
            raise ArchiveError(f"{kind} id {key!r} is already registered with a different definition")

    def append(self, records: Iterable[Record]) -> int:
        """Validate and commit one batch; returns the number of committed records."""
        records = list(records)
        if records:
            batch = Batch(records, self)
            start = len(self)
            self._write_batch(batch)
            self._index_rows(batch.rows["genome_hash"], start)
        return len(self)

    def _index_rows(self, hashes: np.ndarray, start: int) -> None:
        index = self._index
        for i, key in enumerate(hashes.tolist(), start):
            index.setdefault(key, []).append(i)

    def read(self, **filters) -> RecordTable:
        """Committed records matching ``filters`` (see :meth:`RecordTable.filter`)."""
        return self.table().filter(**filters)

    def find(self, genome_hash: str, *, task: str | None = None, fidelity: int | None = None) -> RecordTable:
        """Records of one genome hash (O(1) average), optionally of one task and fidelity."""
        rows = np.array(self._index.get(genome_hash.encode(), []), dtype=np.int64)
        return self.table().select(rows).filter(task=task, fidelity=fidelity)

    @abstractmethod
    def close(self) -> None:
        """Release the archive (files, locks)."""

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
