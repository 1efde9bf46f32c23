"""The HDF5 archive (schema v1, see SCHEMA.md): one writer with crash recovery, SWMR readers."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import json
import logging
import os
import shutil
import stat
import time
from pathlib import Path

import h5py
import numpy as np

from nasco.archive.base import Archive, Batch
from nasco.archive.errors import ArchiveError
from nasco.archive.record import ROW_DTYPE, genome_key
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


# A SWMR reader retries a read whose metadata checksum fails (the writer may be mid-write);
# HDF5's default of 100 tries with growing sleeps makes a damaged file hang an open for minutes.
# A few tries cover a live writer's torn reads; a damaged file then fails in milliseconds.
METADATA_READ_ATTEMPTS = 10


class ArchiveDamagedError(ArchiveError):
    """An archive file exists but HDF5 cannot read it (truncated, overwritten, corrupted)."""


class ArchiveWriteError(ArchiveError):
    """Appending failed (a full disk, a file-size limit, an I/O error); committed records are safe.

    ``hdf5_failed``: False when nasco refused the write before HDF5 began it (too little free
    space); True when HDF5 failed mid-write, after which the HDF5 library may crash when the
    process exits: end the process with ``os._exit`` (as the CLI does).
    """

    def __init__(self, message: str, *, hdf5_failed: bool = False) -> None:
        super().__init__(message)
        self.hdf5_failed = hdf5_failed


MIN_FREE_BYTES = 4 * 2**20  # HDF5 may allocate a new chunk and metadata per append: keep this much free


def _check_readable(path: Path) -> None:
    if not path.is_file():
        raise ArchiveError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise ArchiveError(f"{path}: not an HDF5 file")
    for _ in range(5):  # a live writer may extend the file just after recording its new end: look again
        end, writing = _superblock_end(path)
        actual = path.stat().st_size
        if end is None or actual >= end or not writing:
            break
        time.sleep(0.05)
    if end is not None and actual < end:
        if writing:
            raise ArchiveDamagedError(f"{path}: a write was interrupted (a full disk?) and left the file at "
                                      f"{actual:,} of {end:,} bytes; nasco resume (or opening it for writing) "
                                      "repairs it and keeps the committed records")
        raise ArchiveDamagedError(f"{path}: the file is truncated: {actual:,} bytes, but HDF5 wrote {end:,} "
                                  "(an incomplete copy or download?)")


def _superblock_end(path: Path) -> tuple[int | None, bool]:
    """(the end-of-file address HDF5 recorded, whether the file is marked open for writing) from the
    superblock at offset 0 (None when it cannot tell). A file shorter than that end was cut short,
    or a write failed before HDF5 filled the space it had allocated."""
    with open(path, "rb") as f:
        head = f.read(64)
    version = head[8] if len(head) > 8 else -1
    if version in (2, 3):  # what libver="latest" writes: signature, version, sizes, flags, base, ext, EOF
        size, start, writing = head[9], 12 + 2 * head[9], bool(head[11] & 0x01)
    elif version in (0, 1):
        size, start, writing = head[13], 24 + (4 if version == 1 else 0) + 2 * head[13], bool(head[20] & 0x01)
    else:
        return None, False
    if size != 8 or len(head) < start + 8:
        return None, False
    return int.from_bytes(head[start:start + 8], "little"), writing


@functools.lru_cache(maxsize=1)
def _hdf5_library():
    """The HDF5 shared library h5py runs on (ctypes), for the one setting h5py does not expose."""
    import ctypes

    maps = Path("/proc/self/maps")
    paths = [line.split()[-1] for line in maps.read_text().splitlines() if "libhdf5" in line
             and "hl" not in line.rsplit("/", 1)[-1]] if maps.exists() else []
    for path in dict.fromkeys(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _open_swmr(path: Path) -> h5py.File:
    """``h5py.File(path, "r", libver="latest", swmr=True, locking=False)`` with few metadata retries."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fapl.set_file_locking(False, True)
    lib = _hdf5_library()
    if lib is not None:
        lib.H5Pset_metadata_read_attempts(fapl.id, METADATA_READ_ATTEMPTS)
    fid = h5py.h5f.open(os.fsencode(path), h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


def _open_swmr_read(path: Path) -> h5py.File:
    _check_readable(path)
    try:
        f = _open_swmr(path)
    except OSError as err:
        raise ArchiveError(f"{path}: cannot be opened as a nasco archive ({err})") from None
    try:
        fmt, version = f.attrs.get("format"), int(f.attrs.get("schema_version", -1))
        if fmt == FORMAT:  # read the metadata every reader needs
            _ = f["committed"][0], f["records"].shape
    except Exception as err:  # HDF5 reports damage as RuntimeError, OSError, KeyError, TypeError …
        f.close()
        raise ArchiveDamagedError(f"{path}: the file is damaged; HDF5 cannot read it ({err})") from None
    if fmt != FORMAT:
        f.close()
        raise ArchiveError(f"{path}: an HDF5 file, but not a nasco archive (no format={FORMAT!r} attribute)")
    if version > SCHEMA_VERSION:
        f.close()
        raise ArchiveError(f"{path}: schema version {version} is newer than this nasco reads ({SCHEMA_VERSION}); "
                           "upgrade nasco")
    if version != SCHEMA_VERSION:
        f.close()
        raise ArchiveError(f"{path}: schema version {version} is not allowed; allowed: {SCHEMA_VERSION}")
    return f


def committed_count(f: h5py.File) -> int:
    """The ``committed`` dataset's count, checked against what never changes under a live writer: an
    integer (1,) dataset, ≥ 0 and ≥ the count of the last clean close (the ``committed`` attribute;
    records are only ever added). A count that breaks this is damage, never a reason to drop rows.

    Raises:
        ArchiveDamagedError: naming the count and the evidence it contradicts.
    """
    ds = f["committed"]
    path = f.filename
    if ds.shape != (1,) or ds.dtype.kind not in "iu":
        raise ArchiveDamagedError(f"{path}: the committed count is damaged (dataset 'committed' is {ds.dtype} "
                                  f"{ds.shape}, allowed: int64 (1,)); nothing was changed: restore the file from a "
                                  "copy")
    n = int(ds[0])
    closed = f.attrs.get("committed", 0)
    closed = int(closed) if np.ndim(closed) == 0 and np.asarray(closed).dtype.kind in "iu" else 0
    if n < 0 or n < closed:
        raise ArchiveDamagedError(f"{path}: the committed count is damaged: it says {n} records, but the file was "
                                  f"closed cleanly with {closed} and holds {f['records'].shape[0]} rows; nothing "
                                  "was changed (no record is dropped on a damaged count): restore the file from a "
                                  "copy, or set the dataset 'committed' to the right count with h5py")
    return n


def check_uncommitted(f: h5py.File) -> int:
    """Rows past the committed count (what a writer that died mid-batch left), checked: they can only be
    the one batch it did not commit (``pending`` holds its size, written before its rows). More rows than
    that, or fewer rows than committed, mean the count is damaged: refuse rather than drop records.

    Raises:
        ArchiveDamagedError: naming the count, the rows and the last batch's size.
    """
    rows, committed = f["records"].shape[0], committed_count(f)
    pending = int(f["pending"][0]) if "pending" in f else None  # absent in files of older nasco versions
    extra = rows - committed
    if extra < 0 or (pending is not None and extra > max(pending, 0)):
        raise ArchiveDamagedError(
            f"{f.filename}: the committed count is damaged: it says {committed} records, but the file holds {rows} "
            "rows" + (f" and the last batch had {pending}" if pending is not None else "") + "; nothing was changed "
            "(no record is dropped on a damaged count): restore the file from a copy, or set the dataset "
            f"'committed' to the right count (probably {rows}) with h5py")
    return extra


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
    n = committed_count(f)
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


def _create_file(path: Path, columns: tuple[str, ...], spaces: dict, tasks: dict, table: RecordTable | None,
                 sources: dict | None = None) -> None:
    with h5py.File(path, "w", libver="latest", locking=False) as f:
        f.attrs.update({"format": FORMAT, "schema_version": SCHEMA_VERSION, "columns_json": json.dumps(columns),
                        "spaces_json": json.dumps(spaces), "tasks_json": json.dumps(tasks), "created": time.time()})
        if sources:
            f.attrs["sources_json"] = json.dumps(sources)
        n = len(table) if table is not None else 0
        f.attrs["committed"] = n
        f.create_dataset("committed", data=np.array([n], dtype=np.int64))
        f.create_dataset("pending", data=np.array([0], dtype=np.int64))
        f.create_dataset("records", data=table.rows if table is not None else np.zeros(0, ROW_DTYPE),
                         maxshape=(None,), chunks=(ROW_CHUNK,))
        f.create_dataset("values", data=table.values if table is not None else np.zeros((0, len(columns))),
                         maxshape=(None, len(columns)), chunks=(ROW_CHUNK, len(columns)))
        for name, dtype in HEAPS:
            data = getattr(table, name) if table is not None else np.zeros(0, dtype)
            f.create_dataset(name, data=data.astype(dtype), maxshape=(None,), chunks=(HEAP_CHUNK,))


def lock_path(archive_path: str | Path) -> Path:
    """``FILE.lock`` beside the archive's real file: a path through a symbolic link (a run folder whose
    ``archive.h5`` links to another campaign's archive) locks the file it points to, not the link."""
    return Path(f"{os.path.realpath(archive_path)}.lock")


class WriterLock:
    """The one-writer lock of an archive: an advisory ``flock`` on ``FILE.lock`` beside the real file
    (:func:`lock_path`), which holds the writer's pid so that a refused process can name it. Also a
    context manager.

    Raises:
        ArchiveError: another live process holds the lock (its pid in the message).
    """

    def __init__(self, archive_path: str | Path) -> None:
        self.archive_path = Path(archive_path)
        self.path = lock_path(archive_path)
        self._handle = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            real = "" if self.path == Path(f"{self.archive_path}.lock") else \
                f" (the file it links to, {self.path.with_suffix('')})"
            raise ArchiveError(f"{self.archive_path}: another process (pid {pid}) is writing this archive{real}; stop "
                               "it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class HDF5Archive(Archive):
    """An archive file. ``mode="r"``: a SWMR reader (follows a growing file with :meth:`refresh`);
    ``mode="a"``: the one writer (creates the file, with ``columns``, when missing). ``columns``
    the file lacks are added (the file is rewritten once, old records NaN there); the writer's
    columns are then the file's (:attr:`columns`), which every appended record gives.

    Raises:
        ArchiveError: not HDF5, not a nasco archive, a newer schema, a read-only file opened
            for writing, another live writer.
    """

    def __init__(self, path: str | Path, mode: str = "r", *, columns: tuple[str, ...] | list[str] | None = None
                 ) -> None:
        super().__init__()
        if mode not in ("r", "a"):
            raise ArchiveError(f"mode: {mode!r} is not allowed; allowed: 'r' (read) or 'a' (append)")
        self.path = Path(path)
        self.mode = mode
        self.recovered: str | None = None
        self._broken = False
        self._file: h5py.File | None = None
        self._lock = None
        self._table = RecordTable.empty(tuple(columns or ()))  # no record yet (error messages count them)
        if mode == "a":
            self._open_writer(columns)
        else:
            self._open_reader()
        self._table = RecordTable.empty(self._columns)
        self.refresh()

    # ----------------------------------------------------------------- opening
    def _open_reader(self) -> None:
        self._file = _open_swmr_read(self.path)
        self._inode = os.fstat(self._file.id.get_vfd_handle()).st_ino  # to notice a replaced file
        self._load_meta()

    def _load_meta(self) -> None:
        attrs = self._file.attrs
        self._columns = tuple(json.loads(attrs["columns_json"]))
        self._spaces = json.loads(attrs["spaces_json"])
        self._tasks = json.loads(attrs["tasks_json"])
        self._sources = json.loads(attrs.get("sources_json", "{}"))  # files before warm starts lack it

    def _open_writer(self, columns) -> None:
        if self.path.exists():
            self._restore_length()
            _check_readable(self.path)
            if not self.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
                raise ArchiveError(f"{self.path}: the file is read-only; open it with mode 'r' to read")
        self._acquire_lock()
        try:
            if not self.path.exists():
                if not columns or len(set(columns)) != len(columns):
                    raise ArchiveError(f"columns: {columns!r} is not allowed for a new archive; allowed: distinct "
                                       "names, at least one")
                self._check_space(0)
                with self._writing():
                    _create_file(self.path, tuple(columns), {}, {}, None)
            with _open_swmr_read(self.path) as f:  # validates format and schema before any write
                file_columns = tuple(json.loads(f.attrs["columns_json"]))
            added = [c for c in dict.fromkeys(columns or ()) if c not in file_columns]
            with self._writing():
                if added:
                    self._rewrite(extra_columns=tuple(added))
                self._reopen()
        except BaseException:
            self._release_lock()
            raise

    def _restore_length(self) -> None:
        """A writer that failed mid-write (a full disk) can leave the file shorter than the space HDF5
        had allocated, which HDF5 refuses to open: pad it with zeros (a sparse hole: no disk space) to
        that length; the uncommitted rows there are dropped by the recovery that follows."""
        end, writing = _superblock_end(self.path)
        actual = self.path.stat().st_size
        if end is None or not writing or actual >= end:
            return
        with WriterLock(self.path):
            os.truncate(self.path, end)
            try:  # a truncated *copy* looks the same, but its committed rows then read as zeros
                with _open_swmr_read(self.path) as f:
                    columns = tuple(json.loads(f.attrs["columns_json"]))
                    _, table = _read_committed(f, 0, columns, (0, 0, 0))
                intact = all(genome_key(table.rows["space_id"][i].decode(), table.genome(i))
                             == table.rows["genome_hash"][i].decode() for i in range(len(table)))
            except (ArchiveError, OSError, RuntimeError, KeyError, TypeError, ValueError):
                intact = False
            if not intact:
                os.truncate(self.path, actual)
                raise ArchiveDamagedError(f"{self.path}: the file is truncated: {actual:,} bytes, but HDF5 wrote "
                                          f"{end:,}, and committed records lie in the missing part") from None
        log.warning("%s: padded from %d to %d bytes after an interrupted write", self.path, actual, end)

    def _acquire_lock(self) -> None:
        self._lock = WriterLock(self.path)
        self._lock.acquire()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
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
        try:
            extra = check_uncommitted(self._file)
        except ArchiveDamagedError:
            self._file.close()
            self._file = None
            raise
        if extra > 0:  # a batch written but never committed (the writer died before committing)
            self._file.close()
            self._recover()
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
            self._load_meta()
        self._file.swmr_mode = True  # readers can open the file from now on, before the first append

    def _recover(self) -> None:
        """Copy the committed records into a fresh file that atomically replaces this one."""
        n, written = self._rewrite()
        self.recovered = (f"{self.path}: recovered after an interrupted write: kept {n} committed records, "
                          f"dropped {max(written - n, 0)} uncommitted rows")
        log.warning(self.recovered)

    def _rewrite(self, extra_columns: tuple[str, ...] = ()) -> tuple[int, int]:
        """Copy the committed records, with ``extra_columns`` appended to ``values`` (NaN: not measured),
        into a fresh file that atomically replaces this one; (committed, rows written)."""
        with _open_swmr_read(self.path) as f:
            columns = tuple(json.loads(f.attrs["columns_json"]))
            spaces, tasks = json.loads(f.attrs["spaces_json"]), json.loads(f.attrs["tasks_json"])
            sources = json.loads(f.attrs.get("sources_json", "{}"))
            written = f["records"].shape[0]
            check_uncommitted(f)
            n, table = _read_committed(f, 0, columns, (0, 0, 0))
        if extra_columns:
            values = np.hstack([table.values, np.full((n, len(extra_columns)), np.nan)])
            columns = (*columns, *extra_columns)
            table = RecordTable(table.rows, values, columns, table.genomes, table.curves, table.text)
        tmp = self.path.with_name(self.path.name + ".recovering")
        try:
            _create_file(tmp, columns, spaces, tasks, table, sources)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        if extra_columns:
            log.info("%s: added value columns %s", self.path, list(extra_columns))
        return n, written

    # ----------------------------------------------------------------- contract
    def _store_meta(self, spaces: dict[str, dict], tasks: dict[str, dict], sources: dict[str, dict]) -> None:
        self._require_writer()
        spaces_json, tasks_json, sources_json = json.dumps(spaces), json.dumps(tasks), json.dumps(sources)
        self._check_space(len(spaces_json) + len(tasks_json) + len(sources_json))
        with self._writing():
            self._file.close()  # attributes cannot change under SWMR: reopen without it for a moment
            self._file = h5py.File(self.path, "a", libver="latest", locking=False)
            self._file.attrs["spaces_json"] = spaces_json
            self._file.attrs["tasks_json"] = tasks_json
            if sources:
                self._file.attrs["sources_json"] = sources_json
            self._file.flush()
            self._file.swmr_mode = True
        self._spaces, self._tasks, self._sources = spaces, tasks, sources

    def _write_batch(self, batch: Batch) -> None:
        self._require_writer()
        f = self._file
        n, k = len(self._table), len(batch.rows)
        parts = (("records", batch.rows, n), ("values", batch.values, n),
                 *((h, getattr(batch, h), s) for (h, _), s in zip(HEAPS, self.heap_sizes, strict=True)))
        self._check_space(sum(data.nbytes for _, data, _ in parts))
        with self._writing():
            if "pending" in f:  # the batch's size, on disk before its rows: recovery drops no more than it
                f["pending"][0] = k
                f.flush()
            for name, data, start in parts:
                if len(data):
                    ds = f[name]
                    ds.resize(start + len(data), axis=0)
                    ds[start:start + len(data)] = data
            f.flush()
            f["committed"][0] = n + k
            f.flush()
        self._table = _concat(self._table, RecordTable(batch.rows, batch.values, self._columns, batch.genomes,
                                                       batch.curves, batch.text))

    def _check_space(self, nbytes: int) -> None:
        """Refuse a write the file system cannot take: HDF5 fails mid-write on a full disk and cannot be
        closed cleanly afterwards, so a write needs ``nbytes`` plus :data:`MIN_FREE_BYTES` free."""
        free = shutil.disk_usage(self.path.parent).free
        if free < nbytes + MIN_FREE_BYTES:
            raise ArchiveWriteError(f"{self.path}: the disk is (nearly) full: {free / 2**20:.1f} MiB free, an append "
                                    f"needs {(nbytes + MIN_FREE_BYTES) / 2**20:.1f} MiB; the {len(self._table)} "
                                    "committed records are safe: free space, then resume")

    @contextlib.contextmanager
    def _writing(self):
        """HDF5 write failures (a full disk, a file-size limit, I/O errors) as one clear ArchiveWriteError."""
        try:
            yield
        except (OSError, RuntimeError) as err:
            self._broken = True
            with contextlib.suppress(OSError):  # keep the committed records readable now (a sparse pad)
                end, _ = _superblock_end(self.path)
                if end is not None and self.path.stat().st_size < end:
                    os.truncate(self.path, end)
            text = str(err)
            reason = next((why for code, why in ((errno.ENOSPC, "no space left on device"),
                                                 (errno.EFBIG, "file too large"), (errno.EDQUOT, "disk quota exceeded"))
                           if getattr(err, "errno", None) == code or f"errno = {code}," in text),
                          text.splitlines()[0][:200])
            raise ArchiveWriteError(f"{self.path}: writing failed ({reason}); the {len(self._table)} records "
                                    "committed before are safe: fix the cause, then resume", hdf5_failed=True) from None


    def refresh(self) -> int:
        """Read records committed since the last look (readers of a growing file); returns the count.

        A reader whose file was replaced (the writer's crash recovery writes a fresh copy) reopens
        the new file and reads it from the start."""
        if self.mode == "r" and self._replaced():
            self._file.close()
            self._open_reader()
            self._table, self._index = RecordTable.empty(self._columns), {}
        try:
            n, new = _read_committed(self._file, len(self._table), self._columns, self.heap_sizes)
        except (OSError, RuntimeError, KeyError, TypeError) as err:  # how HDF5 reports unreadable data
            raise ArchiveDamagedError(f"{self.path}: the file is damaged; its records cannot be read ({err})") from None
        if n > len(self._table):
            start = len(self._table)
            self._table = _concat(self._table, new)
            self._index_rows(new.rows["genome_hash"], start)
        return n

    def _replaced(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:  # mid-replace: keep reading the old file until the new one is in place
            return False

    def _require_writer(self) -> None:
        if self.mode != "a" or self._file is None:
            raise ArchiveError(f"{self.path}: opened for reading; open with mode 'a' to write")

    def close(self) -> None:
        if self._file is None:
            return
        file, self._file = self._file, None
        if self._broken:  # HDF5 is in an error state: closing may fail again; the committed rows are on disk
            with contextlib.suppress(OSError, RuntimeError):
                file.close()
            self._release_lock()
            return
        file.close()
        if self.mode == "a":
            if shutil.disk_usage(self.path.parent).free >= MIN_FREE_BYTES:
                with h5py.File(self.path, "a", libver="latest", locking=False) as f:
                    f.attrs["committed"] = len(self._table)  # the final count, for plain h5py readers
            self._release_lock()
