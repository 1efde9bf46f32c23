"""Archive operations: merge with deduplication and provenance, CSV / JSON Lines export, summary."""

from __future__ import annotations

import csv
import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from nasco.archive.atomic import atomic_output
from nasco.archive.base import canonical_json, derived_task_id
from nasco.archive.errors import ArchiveError
from nasco.archive.hdf5 import SCHEMA_VERSION, ArchiveWriteError, HDF5Archive, lock_path
from nasco.archive.record import STATUSES
from nasco.archive.table import RecordTable

META_FIELDS = ("genome_hash", "space_id", "task_id", "campaign_id", "generation", "fidelity", "status", "seed",
               "wall_time_s", "device", "created", "origin", "origin_index")


def merge_archives(out: str | Path, inputs: Sequence[str | Path]) -> tuple[int, int]:
    """Merge ``inputs`` into the new archive ``out``; returns (records kept, duplicates dropped).

    Records are deduplicated by (genome hash, task, fidelity), keeping the first in input
    order; each kept record's ``origin``/``origin_index`` name the file and row it came from
    (or keep the provenance it already had). Every input is checked before ``out`` is made.

    Raises:
        ArchiveError: ``out`` exists, no inputs, or a space id defined differently in two inputs.

    Value columns are the union of the inputs' (NaN where an input lacks one). A task id that
    two inputs define differently (the same data trained with another recipe) keeps its name for
    the first and becomes :func:`~nasco.archive.base.derived_task_id` for the others.
    """
    out = Path(out)
    if out.exists():
        raise ArchiveError(f"{out}: already exists; merge writes a new archive")
    if not inputs:
        raise ArchiveError("merge: no input archives given")
    readers = [HDF5Archive(p) for p in inputs]
    try:
        columns = tuple(dict.fromkeys(c for reader in readers for c in reader.columns))  # union, first-seen order
        spaces: dict[str, dict] = {}
        tasks: dict[str, dict] = {}
        renamed: list[dict[str, str]] = []  # per input: task id → the id its records get in ``out``
        for reader in readers:
            for key, entry in reader.spaces.items():
                if key in spaces and canonical_json(spaces[key]) != canonical_json(entry):
                    raise ArchiveError(f"{reader.path}: space id {key!r} is defined differently in another "
                                       "input; these archives cannot be merged")
                spaces[key] = entry
            mapping = {}
            for key, entry in reader.tasks.items():
                if key in tasks and canonical_json(tasks[key]) != canonical_json(entry):
                    mapping[key] = derived_task_id(key, entry)  # another recipe on the same data
                tasks[mapping.get(key, key)] = entry
            renamed.append(mapping)
        kept = dropped = 0
        seen: set[tuple[bytes, bytes, int]] = set()
        partial = out.with_name(f".{out.name}.merging")  # renamed to out once complete: no half archive stays
        _remove_archive(partial)
        merged = None
        try:
            merged = HDF5Archive(partial, "a", columns=columns)
            for key, entry in spaces.items():
                merged.register_space(key, entry["space"], entry["n_genes"])
            for key, entry in tasks.items():
                merged.register_task(key, entry)
            for reader, mapping in zip(readers, renamed, strict=True):
                table = reader.table()
                batch = []
                for i, row in enumerate(table.rows):
                    task = mapping.get(row["task_id"].decode(), row["task_id"].decode())
                    key3 = (row["genome_hash"], task.encode(), int(row["fidelity"]))
                    if key3 in seen:
                        dropped += 1
                        continue
                    seen.add(key3)
                    record = table.record(i)
                    record.task_id = task
                    record.values = {c: record.values.get(c, math.nan) for c in columns}
                    if not record.origin:
                        record.origin, record.origin_index = Path(reader.path).name[:64], i
                    batch.append(record)
                merged.append(batch)
                kept += len(batch)
            merged.close()
            os.replace(partial, out)
        except (ArchiveWriteError, OSError) as err:
            if merged is not None:
                merged.close()
            reason = str(err).split(": ", 1)[-1].split("; ")[0] if isinstance(err, ArchiveWriteError) \
                else err.strerror or str(err)
            raise ArchiveWriteError(f"{out}: merging failed ({reason}); nothing was written there",
                                    hdf5_failed=getattr(err, "hdf5_failed", False)) from None
        except BaseException:
            if merged is not None:
                merged.close()
            raise
        finally:
            _remove_archive(partial)
        return kept, dropped
    finally:
        for reader in readers:
            reader.close()


def _remove_archive(path: Path) -> None:
    path.unlink(missing_ok=True)
    lock_path(path).unlink(missing_ok=True)


def _row_dict(table: RecordTable, i: int) -> dict:
    row = table.rows[i]
    data = {}
    for name in META_FIELDS:
        value = row[name]
        if name == "status":
            value = STATUSES[value]
        elif isinstance(value, bytes):
            value = value.decode("utf-8")
        else:
            value = value.item()
        data[name] = value
    for name, value in zip(table.columns, table.values[i].tolist(), strict=True):
        data[name] = None if math.isnan(value) else value
    data["reason"] = table.reason(i)
    return data


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a string starting with ``= + - @``, tab or CR
    (which Excel, LibreOffice and Sheets would run as a formula) gets a leading ``'`` (OWASP's
    rule against CSV injection); numbers and other strings are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_table(table: RecordTable, out: str | Path | TextIO, fmt: str) -> int:
    """Write ``table`` as ``csv`` (genome and curve as space-separated numbers; text cells made
    :func:`spreadsheet_safe`) or ``jsonl`` (one JSON object per record, genome and curve as lists)
    to a file path or an open text stream; returns the record count."""
    if fmt not in ("csv", "jsonl"):
        raise ArchiveError(f"format: {fmt!r} is not allowed; allowed: csv, jsonl")
    if not isinstance(out, str | Path):
        _write_table(table, out, fmt)
        return len(table)
    with atomic_output(out) as fh:
        _write_table(table, fh, fmt)
    return len(table)


def _write_table(table: RecordTable, fh: TextIO, fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(fh)
        header = (*META_FIELDS, *table.columns, "reason", "genome", "curve")
        writer.writerow([spreadsheet_safe(name) for name in header])
        for i in range(len(table)):
            data = _row_dict(table, i)
            writer.writerow([*("" if v is None else spreadsheet_safe(v) for v in data.values()),
                             " ".join(map(str, table.genome(i).tolist())),
                             " ".join(repr(float(v)) for v in table.curve(i))])
        return
    for i in range(len(table)):
        data = _row_dict(table, i)
        data["genome"] = table.genome(i).tolist()
        data["curve"] = [float(v) for v in table.curve(i)]
        fh.write(json.dumps(data, ensure_ascii=False) + "\n")


def summarize(archive: HDF5Archive) -> dict:
    """Counts and metadata of an archive (what ``nasco archive info`` prints)."""
    table = archive.table()
    size = archive.path.stat().st_size
    statuses = Counter(STATUSES[s] for s in table.rows["status"].tolist())
    return {
        "path": str(archive.path),
        "schema_version": SCHEMA_VERSION,
        "records": len(table),
        "file_bytes": size,
        "bytes_per_record": size / len(table) if len(table) else float("nan"),
        "columns": list(archive.columns),
        "spaces": {k: v["n_genes"] for k, v in archive.spaces.items()},
        "tasks": sorted(archive.tasks),
        "sources": {path: dict(entry) for path, entry in archive.sources.items()},
        "by_status": dict(sorted(statuses.items())),
        "by_fidelity": {int(k): int(v) for k, v in zip(*np.unique(table.rows["fidelity"], return_counts=True),
                                                       strict=True)},
        "by_generation": {int(k): int(v) for k, v in zip(*np.unique(table.rows["generation"], return_counts=True),
                                                         strict=True)},
        "by_task": dict(Counter(table.column("task_id").tolist())),
    }
