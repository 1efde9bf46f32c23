"""A campaign's run folder: config, checkpoint (JSON + NumPy, no pickle), front table, folder checks.

Layout: ``config.toml`` (the resolved configuration), ``archive.h5``, ``log.txt``,
``checkpoint.json`` + ``checkpoint.npz`` (written atomically after every generation),
``bounds.json`` (gene bounds from the sensitivity pre-processing), ``surrogate.jsonl`` (per
generation: the surrogate's predicted and the true errors of the screened candidates) and
``front.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from nasco.evo.campaign_config import CampaignConfig, ConfigError, config_from_dict, dump_config, load_config

CONFIG_FILE, ARCHIVE_FILE, LOG_FILE = "config.toml", "archive.h5", "log.txt"
CHECKPOINT_JSON, CHECKPOINT_NPZ = "checkpoint.json", "checkpoint.npz"
BOUNDS_FILE, FRONT_FILE, SURROGATE_LOG = "bounds.json", "front.csv", "surrogate.jsonl"
RUN_FILES = (CONFIG_FILE, ARCHIVE_FILE, f"{ARCHIVE_FILE}.lock", LOG_FILE, CHECKPOINT_JSON, CHECKPOINT_NPZ,
             BOUNDS_FILE, FRONT_FILE, SURROGATE_LOG)


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

    A folder holding the same campaign (same config apart from ``[executor]``) is continued; one
    holding a different campaign is refused unless ``resume`` (continue it with its own
    config; only ``[executor]`` is taken from ``config``) or ``force`` (its files are replaced).

    Raises:
        ConfigError: a different campaign without resume/force, or resume of a folder without one.
    """
    stored_path = folder / CONFIG_FILE
    if force and folder.exists():
        for name in RUN_FILES:
            path = folder / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    if not stored_path.is_file():
        if config is None or (resume and not force):
            raise ConfigError(f"{folder}: no campaign to resume here (no {CONFIG_FILE}); start one with nasco run")
        if folder.exists() and any(folder.iterdir()):
            strays = sorted(p.name for p in folder.iterdir())[:5]
            raise ConfigError(f"{folder}: the folder is not empty and holds no campaign ({', '.join(strays)} …); "
                              "choose another --out or empty it")
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(stored_path, dump_config(config))
        return config
    stored = load_config(stored_path)
    if config is None:
        return stored
    same = {**config.to_dict(), "executor": None} == {**stored.to_dict(), "executor": None}
    if not same and not resume:
        changed = _differences({**config.to_dict(), "executor": {}}, {**stored.to_dict(), "executor": {}})
        raise ConfigError(f"{folder} holds a different campaign ({'; '.join(changed[:4])}); use --resume to "
                          "continue it, --force to replace it, or another --out")
    merged = config_from_dict({**stored.to_dict(), "executor": config.to_dict()["executor"]})
    write_atomic(stored_path, dump_config(merged))
    return merged


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write a file so that a crash leaves either the old or the new content."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
    scalars = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))
    with np.load(folder / CHECKPOINT_NPZ, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return scalars, arrays


def write_front_csv(path: Path, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) as CSV."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_atomic(path, buffer.getvalue())
