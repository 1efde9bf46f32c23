"""The HDF5 archive (schema v1, see SCHEMA.md): one writer with crash recovery, SWMR readers."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import stat
import time
from pathlib import Path

import h5py
import numpy as np

from nasco.archive.base import Archive, Batch
from nasco.archive.errors import ArchiveError
from nasco.archive.record import ROW_DTYPE
from nasco.archive.table import RecordTable

FORMAT = "nasco-archive"
SCHEMA_VERSION = 1
HEAPS = (("genomes", np.int16), ("curves", np.float32), ("text", np.uint8))
# Uncompressed chunks: under SWMR every append rewrites the last partial chunk, and a
# compressed chunk that changes size moves to new file space, leaking the old (tens of kB per
# commit); uncompressed chunks are rewritten in place.
ROW_CHUNK = 256
# HDF5's own file locks would stop the writer from reopening a file that SWMR readers hold;
# one writer at a time is enforced by nasco's lock on FILE.lock instead.
HEAP_CHUNK = 8192
log = logging.getLogger("nasco.archive")


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise ArchiveError(f"{path}: not an HDF5 file")


def _open_swmr_read(path: Path) -> h5py.File:
    _check_readable(path)
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True, locking=False)
    except OSError as err:
        raise ArchiveError(f"{path}: cannot be opened as a nasco archive ({err})") from None
    if f.attrs.get("format") != FORMAT:
        f.close()
        raise ArchiveError(f"{path}: an HDF5 file, but not a nasco archive (no format={FORMAT!r} attribute)")
    version = int(f.attrs.get("schema_version", -1))
    if version > SCHEMA_VERSION:
        f.close()
        raise ArchiveError(f"{path}: schema version {version} is newer than this nasco reads ({SCHEMA_VERSION}); "
                           "upgrade nasco")
    if version != SCHEMA_VERSION:
        f.close()
        raise ArchiveError(f"{path}: schema version {version} is not allowed; allowed: {SCHEMA_VERSION}")
    return f


def _read_committed(f: h5py.File, start: int, columns: tuple[str, ...], heap_start: tuple[int, int, int]
                    ) -> tuple[int, RecordTable]:
    """Rows ``start..committed`` and the heap parts they use.

    The committed count is read *before* the other datasets are refreshed, so their visible
    extents cover it (the writer commits only after flushing the data); a row whose data is
    not visible yet is left for the next refresh rather than read short.
    """
    names = ("records", "values", *(h for h, _ in HEAPS))
    if f.swmr_mode:
        f["committed"].refresh()
    n = int(f["committed"][0])
    if f.swmr_mode:
        for name in names:
            f[name].refresh()
    n = max(start, min(n, f["records"].shape[0], f["values"].shape[0]))
    rows = f["records"][start:n]
    fields = (("genome_offset", "genome_length"), ("curve_offset", "curve_length"), ("reason_offset", "reason_length"))
    visible = np.ones(len(rows), dtype=bool)
    for (name, _), (offset, length) in zip(HEAPS, fields, strict=True):
        visible &= rows[offset] + rows[length] <= f[name].shape[0]
    if not visible.all():
        rows = rows[: int(np.argmin(visible))]
    n = start + len(rows)
    heaps = []
    for (name, dtype), (offset, length), begin in zip(HEAPS, fields, heap_start, strict=True):
        end = int((rows[offset] + rows[length]).max()) if len(rows) else begin
        heaps.append(f[name][begin:max(end, begin)].astype(dtype, copy=False))
    return n, RecordTable(rows, f["values"][start:n], columns, *heaps)


def _concat(a: RecordTable, b: RecordTable) -> RecordTable:
    if not len(a):
        return b
    return RecordTable(np.concatenate([a.rows, b.rows]), np.concatenate([a.values, b.values]), a.columns,
                       np.concatenate([a.genomes, b.genomes]), np.concatenate([a.curves, b.curves]),
                       np.concatenate([a.text, b.text]))


def _create_file(path: Path, columns: tuple[str, ...], spaces: dict, tasks: dict, table: RecordTable | None) -> None:
    with h5py.File(path, "w", libver="latest", locking=False) as f:
        f.attrs.update({"format": FORMAT, "schema_version": SCHEMA_VERSION, "columns_json": json.dumps(columns),
                        "spaces_json": json.dumps(spaces), "tasks_json": json.dumps(tasks), "created": time.time()})
        n = len(table) if table is not None else 0
        f.attrs["committed"] = n
        f.create_dataset("committed", data=np.array([n], dtype=np.int64))
        f.create_dataset("records", data=table.rows if table is not None else np.zeros(0, ROW_DTYPE),
                         maxshape=(None,), chunks=(ROW_CHUNK,))
        f.create_dataset("values", data=table.values if table is not None else np.zeros((0, len(columns))),
                         maxshape=(None, len(columns)), chunks=(ROW_CHUNK, len(columns)))
        for name, dtype in HEAPS:
            data = getattr(table, name) if table is not None else np.zeros(0, dtype)
            f.create_dataset(name, data=data.astype(dtype), maxshape=(None,), chunks=(HEAP_CHUNK,))


class HDF5Archive(Archive):
    """An archive file. ``mode="r"``: a SWMR reader (follows a growing file with :meth:`refresh`);
    ``mode="a"``: the one writer (creates the file, with ``columns``, when missing).

    Raises:
        ArchiveError: not HDF5, not a nasco archive, a newer schema, a read-only file opened
            for writing, columns that differ from the file's, another live writer.
    """

    def __init__(self, path: str | Path, mode: str = "r", *, columns: tuple[str, ...] | list[str] | None = None
                 ) -> None:
        super().__init__()
        if mode not in ("r", "a"):
            raise ArchiveError(f"mode: {mode!r} is not allowed; allowed: 'r' (read) or 'a' (append)")
        self.path = Path(path)
        self.mode = mode
        self.recovered: str | None = None
        self._file: h5py.File | None = None
        self._lock = None
        if mode == "a":
            self._open_writer(columns)
        else:
            self._file = _open_swmr_read(self.path)
            self._load_meta()
        self._table = RecordTable.empty(self._columns)
        self.refresh()

    # ----------------------------------------------------------------- opening
    def _load_meta(self) -> None:
        attrs = self._file.attrs
        self._columns = tuple(json.loads(attrs["columns_json"]))
        self._spaces = json.loads(attrs["spaces_json"])
        self._tasks = json.loads(attrs["tasks_json"])

    def _open_writer(self, columns) -> None:
        if self.path.exists():
            _check_readable(self.path)
            if not self.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
                raise ArchiveError(f"{self.path}: the file is read-only; open it with mode 'r' to read")
        self._acquire_lock()
        try:
            if not self.path.exists():
                if not columns or len(set(columns)) != len(columns):
                    raise ArchiveError(f"columns: {columns!r} is not allowed for a new archive; allowed: distinct "
                                       "names, at least one")
                _create_file(self.path, tuple(columns), {}, {}, None)
            with _open_swmr_read(self.path) as f:  # validates format and schema before any write
                file_columns = tuple(json.loads(f.attrs["columns_json"]))
            if columns is not None and tuple(columns) != file_columns:
                raise ArchiveError(f"columns: {list(columns)} do not match the archive's columns {list(file_columns)}")
            self._reopen()
        except BaseException:
            self._release_lock()
            raise

    def _acquire_lock(self) -> None:
        self._lock = open(f"{self.path}.lock", "a")  # noqa: SIM115 - held until close
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ArchiveError(f"{self.path}: another process is writing this archive") from None

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _reopen(self) -> None:
        """Open for appending (not yet SWMR); recover first when a writer died mid-session."""
        try:
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
        except OSError as err:
            if "already open for write" not in str(err):
                raise ArchiveError(f"{self.path}: cannot be opened for writing ({err})") from None
            self._recover()
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
        self._load_meta()
        extra = self._file["records"].shape[0] - int(self._file["committed"][0])
        if extra > 0:  # a batch written but never committed (the writer died before committing)
            self._file.close()
            self._recover()
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
            self._load_meta()

    def _recover(self) -> None:
        """Copy the committed records into a fresh file that atomically replaces this one."""
        with _open_swmr_read(self.path) as f:
            columns = tuple(json.loads(f.attrs["columns_json"]))
            spaces, tasks = json.loads(f.attrs["spaces_json"]), json.loads(f.attrs["tasks_json"])
            written = f["records"].shape[0]
            n, table = _read_committed(f, 0, columns, (0, 0, 0))
        tmp = self.path.with_name(self.path.name + ".recovering")
        _create_file(tmp, columns, spaces, tasks, table)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.recovered = (f"{self.path}: recovered after an interrupted write: kept {n} committed records, "
                          f"dropped {max(written - n, 0)} uncommitted rows")
        log.warning(self.recovered)

    # ----------------------------------------------------------------- contract
    def _store_meta(self, spaces: dict[str, dict], tasks: dict[str, dict]) -> None:
        self._require_writer()
        if self._file.swmr_mode:  # attributes cannot change under SWMR: reopen without it
            self._file.close()
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
        self._file.attrs["spaces_json"] = json.dumps(spaces)
        self._file.attrs["tasks_json"] = json.dumps(tasks)
        self._file.flush()
        self._spaces, self._tasks = spaces, tasks

    def _write_batch(self, batch: Batch) -> None:
        self._require_writer()
        f = self._file
        if not f.swmr_mode:
            f.swmr_mode = True
        n, k = len(self._table), len(batch.rows)
        for name, data, start in (("records", batch.rows, n), ("values", batch.values, n),
                                  *((h, getattr(batch, h), s) for (h, _), s in zip(HEAPS, self.heap_sizes,
                                                                                    strict=True))):
            if len(data):
                ds = f[name]
                ds.resize(start + len(data), axis=0)
                ds[start:start + len(data)] = data
        f.flush()
        f["committed"][0] = n + k
        f.flush()
        self._table = _concat(self._table, RecordTable(batch.rows, batch.values, self._columns, batch.genomes,
                                                       batch.curves, batch.text))


    def refresh(self) -> int:
        """Read records committed since the last look (readers of a growing file); returns the count."""
        n, new = _read_committed(self._file, len(self._table), self._columns, self.heap_sizes)
        if n > len(self._table):
            start = len(self._table)
            self._table = _concat(self._table, new)
            self._index_rows(new.rows["genome_hash"], start)
        return n

    def _require_writer(self) -> None:
        if self.mode != "a" or self._file is None:
            raise ArchiveError(f"{self.path}: opened for reading; open with mode 'a' to write")

    def close(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None
        if self.mode == "a":
            with h5py.File(self.path, "a", libver="latest", locking=False) as f:
                f.attrs["committed"] = len(self._table)  # the final count, for plain h5py readers
            self._release_lock()
