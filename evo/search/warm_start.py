"""Warm start: copy the records of earlier campaigns' archives (the same space) into a new campaign's archive.

Copied records of the campaign's own task and fidelity are known before generation 0: never evaluated
again, the surrogate's first training data, and (``search.initial = "archive"``) the initial
population's best. Records of other tasks feed the surrogate's transfer source (see
:meth:`CampaignContext._transfer_source`). Each source's SHA-256 is registered in the archive
(:attr:`~nasco.archive.base.Archive.sources`): a resumed campaign refuses a source that changed or
went missing, so that its records stay the ones it started from.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np

from nasco.archive import HDF5Archive
from nasco.archive.base import canonical_json, derived_task_id
from nasco.archive.errors import ArchiveError
from nasco.evo.search.config import ConfigError
from nasco.evo.search.progress import CampaignMonitor


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
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
        digest = file_sha256(path)
        if kept:
            if kept["sha256"] != digest:
                raise ConfigError(f"campaign.warm_start: {given} changed since this campaign copied its records "
                                  f"(SHA-256 {kept['sha256'][:16]}… then, {digest[:16]}… now): restore that file to "
                                  "resume, or start a new campaign (another --out)")
            continue
        copied = _copy_records(archive, path, given, tasks, space_id, campaign)
        archive.register_source(str(path), {"sha256": digest, "records": copied})
        monitor.log(f"warm start: {copied} records copied from {given}")


def _copy_records(archive: HDF5Archive, path: Path, given: str, tasks: list[str], space_id: str,
                  campaign: str) -> int:
    """Append ``path``'s records of the space (and tasks) that ``archive`` lacks; how many were copied."""
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
        renamed = {}
        for task in sorted({t.decode() for t in table.rows["task_id"]}):
            entry = source.tasks[task]
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
