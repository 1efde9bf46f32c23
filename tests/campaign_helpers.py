"""Shared pieces of the campaign tests: the tiny campaign's config and archive readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nasco.archive import HDF5Archive, Record
from nasco.evo import compile_space, default_space, sample_genomes
from nasco.evo.search.campaign import RESULT_COLUMNS
from nasco.evo.search.config import config_from_dict, dump_config
from nasco.evo.space.genome import genome_costs
from nasco.kernels.tables import COST_NAMES

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


def synthetic_archive(path: Path, n: int, *, seed: int = 0, campaign: str = "syn", task: str = "digits") -> Path:
    """An archive of ``n`` random genomes of the 8×8 default space with exact costs and random errors
    (a few failed, a few exact duplicates of objectives) — for the front and report tests."""
    layout, records = synthetic_records(n, seed=seed, campaign=campaign, task=task)
    with HDF5Archive(path, "a", columns=RESULT_COLUMNS) as archive:
        register_synthetic(archive, layout, task)
        archive.append(records)
    return path


def register_synthetic(archive, layout, task: str) -> None:
    archive.register_space(layout.space.space_id, layout.space.to_dict(), layout.n_genes)
    archive.register_task(task, {"name": task})


def synthetic_records(n: int, *, seed: int = 0, campaign: str = "syn", task: str = "digits"):
    """(layout, records) of :func:`synthetic_archive`."""
    layout = compile_space(default_space((1, 8, 8), 10))
    rng = np.random.default_rng(seed)
    genomes = np.unique(sample_genomes(layout, rng, n), axis=0)
    costs = genome_costs(layout, genomes).astype(float)
    errors = np.round(rng.uniform(0.01, 0.6, len(genomes)), 2)  # rounding makes ties
    records = []
    for i, (g, c, e) in enumerate(zip(genomes, costs, errors, strict=True)):
        failed = i % 17 == 5
        records.append(Record(genome=g, space_id=layout.space.space_id, task_id=task, fidelity=2,
                              values={"error": float("nan") if failed else float(e),
                                      **dict(zip(COST_NAMES, c.tolist(), strict=True)), "latency_us": float("nan"),
                                      "test_error": float("nan")},
                              status="failed" if failed else "ok", reason="diverged" if failed else "",
                              generation=i % 5, campaign_id=campaign, seed=i,
                              curve=np.array([0.9, 0.5, e], np.float32), wall_time_s=1.0 + i % 3))
    return layout, records


def logged_hypervolumes(folder: Path) -> dict[int, float]:
    """Generation → the hypervolume the campaign logged for it (``gen N: … HV x``; a resumed generation's
    last line counts)."""
    import re

    found = {}
    for line in (folder / "log.txt").read_text(encoding="utf-8").splitlines():
        match = re.search(r"gen (\d+): .* HV ([0-9.]+) ", line)
        if match:
            found[int(match.group(1))] = float(match.group(2))
    return found
