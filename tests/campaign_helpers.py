"""Shared pieces of the campaign tests: the tiny campaign's config and archive readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasco.archive import HDF5Archive
from nasco.evo.campaign_config import config_from_dict, dump_config

TINY = {
    "campaign": {"name": "tiny", "seed": 3},
    "task": {"train_subset": 400},
    "search": {"population": 8, "offspring": 4, "generations": 3, "screen_factor": 5, "surrogate_min_records": 10,
               "surrogate_families": ["gp", "trees"]},
    "training": {"epochs": 1, "final_epochs": 2, "final_max": 2, "device": "cpu"},
}


def tiny_config(out: Path, **sections):
    data = {k: dict(v) for k, v in TINY.items()}
    data["campaign"]["out"] = str(out)
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return config_from_dict(data)


def write_config(path: Path, config) -> Path:
    path.write_text(dump_config(config), encoding="utf-8")
    return path


def archive_rows(folder: Path) -> dict[tuple[str, int], tuple]:
    """(genome hash, fidelity) → (genome, status, error, costs…) of every record; asserts no duplicates."""
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    out = {}
    for i in range(len(table)):
        key = (table.rows["genome_hash"][i].decode(), int(table.rows["fidelity"][i]))
        assert key not in out, f"candidate {key} trained twice"
        values = tuple(np.nan_to_num(table.values[i], nan=-1.0).tolist())
        out[key] = (tuple(table.genome(i).tolist()), int(table.rows["status"][i]), values)
    return out
