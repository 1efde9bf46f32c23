"""The HDF5 archive of evaluated candidates (docs/ARCHITECTURE.md §5; file layout in SCHEMA.md).

``HDF5Archive(path, "a", columns=...)`` is the one writer; ``HDF5Archive(path)`` a reader that
follows a growing file; :class:`MemoryArchive` has the same contract without a file.
"""

from nasco.archive.base import Archive
from nasco.archive.errors import ArchiveError
from nasco.archive.hdf5 import (
    SCHEMA_VERSION,
    ArchiveDamagedError,
    ArchiveWriteError,
    HDF5Archive,
    WriterLock,
    lock_path,
)
from nasco.archive.memory import MemoryArchive
from nasco.archive.record import Record, genome_key
from nasco.archive.table import RecordTable

__all__ = ["SCHEMA_VERSION", "Archive", "ArchiveDamagedError", "ArchiveError", "ArchiveWriteError", "HDF5Archive",
           "MemoryArchive", "Record", "RecordTable", "WriterLock", "genome_key", "lock_path"]
