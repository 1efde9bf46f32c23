"""Warm start: copy the records of earlier campaigns' archives (the same space) into a new campaign's archive.

Copied records of the campaign's own task and fidelity are known before generation 0: never evaluated
again, the surrogate's first training data, and (``search.initial`` = ``"auto"``, the default, or
``"archive"``) the initial population's best. Records of other tasks feed the surrogate's transfer source (see
:meth:`CampaignContext._transfer_source`). Each source is registered in the archive
(:attr:`~nasco.archive.base.Archive.sources`) with the SHA-256 of the records it gave (those of the
space and tasks copied from, not the file's bytes: opening or resuming the source campaign rewrites
HDF5 metadata without changing a record): a resumed campaign refuses a source whose records changed
or that went missing, so that its records stay the ones it started from.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from nasco.archive import HDF5Archive, RecordTable
from nasco.archive.base import canonical_json, derived_task_id
from nasco.archive.errors import ArchiveError
from nasco.evo.search.config import ConfigError
from nasco.evo.search.progress import CampaignMonitor


def records_digest(table: RecordTable) -> str:
    """Hex SHA-256 of records' content, independent of their order in the file: per record its genome
    hash, task, fidelity, status, campaign and every value column (NaN as one bit pattern)."""
    rows = table.rows
    order = np.lexsort((rows["campaign_id"], rows["fidelity"], rows["task_id"], rows["genome_hash"]))
    columns = sorted(table.columns)
    values = np.nan_to_num(table.values[:, [table.columns.index(c) for c in columns]], nan=np.inf, posinf=np.inf)
    digest = hashlib.sha256(canonical_json(columns).encode())
    for i in order:
        digest.update(b"%s|%s|%d|%s|%s|" % (rows["genome_hash"][i], rows["task_id"][i], int(rows["fidelity"][i]),
                                            str(rows["status"][i]).encode(), rows["campaign_id"][i]))
        digest.update(values[i].astype("<f8").tobytes())
    return digest.hexdigest()


def warm_start(archive: HDF5Archive, paths: list[str], tasks: list[str], space_id: str, campaign: str,
               monitor: CampaignMonitor) -> None:
    """Copy the records of ``paths`` (archives) in ``space_id`` — of ``tasks`` only, when given — into
    ``archive`` once, registering each source with its SHA-256; on a resume, check each is unchanged.

    Raises:
        ConfigError: a source that is missing, this archive itself, not an archive, without records of the
            space (both spaces named), without records of ``tasks``, or changed since it was copied.
    """
    own = Path(archive.path).resolve()
    for given in paths:
        path = Path(given).expanduser().resolve()
        kept = archive.sources.get(str(path))
        if path == own:
            raise ConfigError(f"campaign.warm_start: {given} is this campaign's own archive; name the archives of "
                              "earlier campaigns")
        if not path.is_file():
            if kept:
                raise ConfigError(f"campaign.warm_start: {given} is missing; this campaign copied {kept['records']} "
                                  f"records from it (SHA-256 {kept['sha256'][:16]}…): restore the file to resume, or "
                                  "start a new campaign (another --out) without it")
            raise ConfigError(f"campaign.warm_start: {given} does not exist")
        table, source_tasks = _source_records(path, given, tasks, space_id, archive)
        digest = records_digest(table)
        if kept:
            if kept["sha256"] != digest:
                raise ConfigError(f"campaign.warm_start: {given}'s records changed since this campaign copied them "
                                  f"(SHA-256 {kept['sha256'][:16]}… then, {digest[:16]}… now): restore that archive "
                                  "to resume, or start a new campaign (another --out)")
            continue
        copied = _copy_records(archive, table, source_tasks, path, campaign)
        archive.register_source(str(path), {"sha256": digest, "records": copied})
        monitor.log(f"warm start: {copied} records copied from {given}")


def _source_records(path: Path, given: str, tasks: list[str], space_id: str,
                    archive: HDF5Archive) -> tuple[RecordTable, dict]:
    """(``path``'s records of the space — of ``tasks`` only, when given —, its tasks by id)."""
    try:
        source = HDF5Archive(path)
    except ArchiveError as err:
        raise ConfigError(f"campaign.warm_start: {err}") from None
    with source:
        if space_id not in source.spaces:
            theirs = ", ".join(f"{key} ({_space_name(entry)})" for key, entry in source.spaces.items()) or "none"
            mine = _space_name(archive.spaces[space_id])
            raise ConfigError(f"campaign.warm_start: {given} holds no records of this campaign's space {space_id} "
                              f"({mine}); its spaces: {theirs}. A warm start needs the same space: the same "
                              "[space] and the same task input shape and classes")
        table = source.table().filter(space=space_id)
        if tasks:
            table = table.select(np.flatnonzero(np.isin(table.rows["task_id"], [t.encode() for t in tasks])))
            if not len(table):
                raise ConfigError(f"campaign.warm_start_tasks: {given} has no records of {tasks} in this space; its "
                                  f"tasks: {sorted(source.tasks)}")
        return table, dict(source.tasks)


def _copy_records(archive: HDF5Archive, table: RecordTable, source_tasks: dict, path: Path, campaign: str) -> int:
    """Append the source's records ``table`` that ``archive`` lacks; how many were copied."""
    renamed = {}
    for task in sorted({t.decode() for t in table.rows["task_id"]}):
        entry = source_tasks[task]
        known = archive.tasks.get(task)
        target = task if known is None or canonical_json(known) == canonical_json(entry) \
            else derived_task_id(task, entry)  # the same data trained with another recipe: another task
        if target not in archive.tasks:
            archive.register_task(target, entry)
        renamed[task] = target
    present = archive.table()
    seen = set(zip(present.rows["genome_hash"].tolist(), present.rows["task_id"].tolist(),
                   present.rows["fidelity"].tolist(), strict=True))
    batch = []
    for i in range(len(table)):
        record = table.record(i)
        record.task_id = renamed[record.task_id]
        key = (record.genome_hash.encode(), record.task_id.encode(), int(record.fidelity))
        if key in seen:  # copied before a crash, or already known
            continue
        seen.add(key)
        if record.campaign_id == campaign:  # never this campaign's own records
            record.campaign_id = f"warm:{campaign}"[:32]
        record.values = {c: record.values.get(c, math.nan) for c in archive.columns}
        if not record.origin:
            record.origin, record.origin_index = path.name[:64], i
        batch.append(record)
    if batch:
        archive.append(batch)
    return len(batch)


def _space_name(entry: dict) -> str:
    space = entry.get("space", {})
    return str(space.get("name") or space.get("kind") or "unnamed")
