"""A campaign's run folder: config, checkpoint (JSON + NumPy, no pickle), front table, folder checks.

Layout: ``config.toml`` (the resolved configuration), ``archive.h5``, ``log.txt``,
``checkpoint.json`` + ``checkpoint.npz`` (written atomically after every generation),
``bounds.json`` (gene bounds from the sensitivity pre-processing), ``surrogate.jsonl`` (per
generation: the surrogate's predicted and the true errors of the screened candidates),
``front.csv``, ``inherited.json`` (the errors genomes inherit from the supernet, with
``supernet.surrogate_feature``), and ``supernet.pt`` (the weight-sharing supernet of ``evaluator.kind =
"supernet"`` or of that feature, which may be trained before the campaign starts and is kept when a campaign is
started afresh).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from nasco.archive import ArchiveDamagedError, HDF5Archive, WriterLock
from nasco.archive.atomic import write_atomic
from nasco.archive.ops import spreadsheet_safe
from nasco.evo.search.config import CampaignConfig, ConfigError, config_from_dict, dump_config, load_config

CONFIG_FILE, ARCHIVE_FILE, LOG_FILE = "config.toml", "archive.h5", "log.txt"
CHECKPOINT_JSON, CHECKPOINT_NPZ = "checkpoint.json", "checkpoint.npz"
BOUNDS_FILE, FRONT_FILE, SURROGATE_LOG = "bounds.json", "front.csv", "surrogate.jsonl"
INHERITED_FILE = "inherited.json"
LOCK_FILE = f"{ARCHIVE_FILE}.lock"
SUPERNET_FILE = "supernet.pt"
RUN_FILES = (CONFIG_FILE, ARCHIVE_FILE, LOCK_FILE, LOG_FILE, CHECKPOINT_JSON, CHECKPOINT_NPZ,
             BOUNDS_FILE, FRONT_FILE, SURROGATE_LOG, INHERITED_FILE)


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out += _differences(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.append(f"{prefix}{key}: {b.get(key)!r} → {a.get(key)!r}")
    return out


def prepare_run_folder(folder: Path, config: CampaignConfig | None, *, resume: bool, force: bool) -> CampaignConfig:
    """Create or check the run folder; returns the configuration the campaign runs with.

    A folder holding the same campaign (same config apart from ``[executor]``, which is taken from
    ``config``) is continued; with ``resume`` the folder must hold a campaign. A folder holding a
    different campaign is refused, naming every difference, unless ``force`` (its files are
    replaced): continuing a campaign under other settings would silently mix two searches in one
    archive and break resume's guarantee of the same records. Nothing in a folder is touched
    while a campaign is writing there: the archive's writer lock is taken first.

    Raises:
        ConfigError: a different campaign without force, or resume of a folder without one.
        ArchiveError: a live campaign writes in the folder (its pid is named).
    """
    if (folder / CONFIG_FILE).exists() or (folder / ARCHIVE_FILE).exists():
        lock = WriterLock(folder / ARCHIVE_FILE)
        made = not lock.path.exists()
        with lock:
            try:
                return _prepare(folder, config, resume=resume, force=force)
            except ConfigError:
                if made:  # refused: leave the folder as it was (no stray lock file)
                    lock.path.unlink(missing_ok=True)
                raise
    return _prepare(folder, config, resume=resume, force=force)


def _prepare(folder: Path, config: CampaignConfig | None, *, resume: bool, force: bool) -> CampaignConfig:
    stored_path = folder / CONFIG_FILE
    if force and folder.exists():
        remove_run_files(folder)
    if not stored_path.is_file():
        if config is None or (resume and not force):
            raise ConfigError(f"{folder}: no campaign to resume here (no {CONFIG_FILE}); start one with nasco run")
        allowed = (LOCK_FILE, SUPERNET_FILE, f"{SUPERNET_FILE}.tmp")
        strays = sorted(p.name for p in folder.iterdir() if p.name not in allowed) if folder.exists() else []
        if strays:
            raise ConfigError(f"{folder}: the folder is not empty and holds no campaign ({', '.join(strays[:5])} …); "
                              "choose another --out or empty it")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(stored_path, dump_config(config))
        return config
    stored = load_config(stored_path)
    _check_unedited(folder, stored)
    if config is None:
        return stored
    changed = _differences({**config.to_dict(), "executor": {}}, {**stored.to_dict(), "executor": {}})
    if changed:
        how = ("continue it unchanged with: nasco resume " + str(folder)) if resume else "use --resume to continue it"
        raise ConfigError(f"{folder} holds a campaign with another config ({'; '.join(changed)}; stored → given); "
                          f"only [executor] may change when continuing; {how}, --force to replace it, or "
                          "another --out")
    merged = config_from_dict({**stored.to_dict(), "executor": config.to_dict()["executor"]})
    write_atomic(stored_path, dump_config(merged))
    return merged


def _check_unedited(folder: Path, stored: CampaignConfig) -> None:
    """Refuse a run folder whose ``config.toml`` was edited after the campaign started: the checkpoint
    records the configuration its generations ran with (all but ``[executor]``)."""
    checkpoint = load_checkpoint(folder)
    recorded = checkpoint[0].get("config") if checkpoint else None
    if not isinstance(recorded, dict):  # no generation finished yet, or a checkpoint of an older nasco
        return
    try:
        ran = config_from_dict({**recorded, "executor": {}}).to_dict()
    except ConfigError as err:
        raise ConfigError(f"{folder / CHECKPOINT_JSON}: the configuration it records is not valid ({err})") from None
    def comparable(d: dict) -> dict:  # the folder may have moved: campaign.out is where it was
        return {**d, "executor": {}, "campaign": {k: v for k, v in d["campaign"].items() if k != "out"}}

    changed = _differences(comparable(stored.to_dict()), comparable(ran))
    if changed:
        raise ConfigError(f"{folder / CONFIG_FILE} was edited after the campaign started ({'; '.join(changed)}; "
                          "checkpoint → config.toml); only [executor] may change when continuing: undo the edit, "
                          f"or start a new campaign with it (nasco run {folder / CONFIG_FILE} --out NEW_FOLDER)")


def remove_run_files(folder: Path) -> None:
    """Delete a campaign's files from its folder (the lock file stays: its holder may be waiting)."""
    for name in RUN_FILES:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists() and name != LOCK_FILE:
            path.unlink()


def discard_run_folder(folder: Path) -> None:
    """Remove the files of a campaign that never started (no record, no checkpoint), and the folder
    if nothing else is in it, so that a corrected config can start afresh in the same place."""
    remove_run_files(folder)
    (folder / LOCK_FILE).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def open_campaign_archive(folder: Path, columns: tuple[str, ...]) -> HDF5Archive:
    """The run folder's archive, opened for writing (recovered after a crash).

    Raises:
        ArchiveDamagedError: the file is unreadable; the message says what can be recovered and how.
    """
    try:
        return HDF5Archive(folder / ARCHIVE_FILE, "a", columns=columns)
    except ArchiveDamagedError as err:
        try:
            checkpoint = load_checkpoint(folder)
            done = f"checkpoint at generation {checkpoint[0]['generation']}" if checkpoint else "no checkpoint"
        except ConfigError:
            done = "a damaged checkpoint"
        raise ArchiveDamagedError(
            f"{err}. What can be recovered: the run folder's {CONFIG_FILE} and {done}; no record of the damaged "
            f"archive can be read back. To recover, restore archive.h5 from a copy and run nasco resume {folder}, "
            f"or move the damaged file aside (mv {folder / ARCHIVE_FILE} {folder / 'archive.damaged.h5'}) and rerun "
            f"the campaign from its seed with nasco run {folder / CONFIG_FILE} --out {folder} --force: it trains the "
            "same candidates again and rebuilds the same archive") from None


def save_checkpoint(folder: Path, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
    """Arrays first, then the JSON that names the generation: a checkpoint is complete once its JSON is."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(folder / CHECKPOINT_NPZ, buffer.getvalue())
    write_atomic(folder / CHECKPOINT_JSON, json.dumps(scalars, indent=1))


def load_checkpoint(folder: Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """The last checkpoint, or None when the campaign never finished its first generation."""
    if not (folder / CHECKPOINT_JSON).is_file():
        return None
    try:
        scalars = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))
        with np.load(folder / CHECKPOINT_NPZ, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if not isinstance(scalars, dict) or not isinstance(scalars.get("generation"), int):
            raise ValueError("checkpoint.json names no generation")
    except (OSError, ValueError, UnicodeDecodeError, zipfile.BadZipFile, EOFError) as err:
        # ValueError covers object arrays (which would need pickle) and bad JSON
        raise ConfigError(f"{folder}: the checkpoint is damaged ({str(err)[:200]}); nothing was changed. To go on, "
                          f"delete {CHECKPOINT_JSON} and {CHECKPOINT_NPZ} there: the search restarts from "
                          "generation 0 and reuses every archived record instead of evaluating it again") from None
    return scalars, arrays


def write_front_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) as CSV (:func:`front_csv_text`)."""
    write_atomic(path, front_csv_text(rows))


def front_csv_text(rows: list[dict]) -> str:
    """``rows`` (dicts with the same keys, in the same order) as CSV text: None as an empty cell, text
    cells and header names :func:`~nasco.archive.ops.spreadsheet_safe`."""
    buffer = io.StringIO()
    if rows:
        writer = csv.writer(buffer)
        writer.writerow([spreadsheet_safe(name) for name in rows[0]])  # metric names are user text too
        writer.writerows([["" if v is None else spreadsheet_safe(v) for v in row.values()] for row in rows])
    return buffer.getvalue()
