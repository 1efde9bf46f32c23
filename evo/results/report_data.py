"""The numbers behind the HTML report: front, hypervolume history, surrogate parity, per-layer maps.

Everything here is plain data (lists, dicts, NumPy); :mod:`nasco.evo.results.report` turns it into
plotly figures and HTML.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pymoo.indicators.hv import HV

from nasco.archive import HDF5Archive
from nasco.evo.results.front import Front, campaign_final_epochs, front_rows, select_front
from nasco.evo.search.objectives import objective
from nasco.evo.search.run_folder import CHECKPOINT_JSON, CONFIG_FILE, SURROGATE_LOG


@dataclass
class ReportData:
    title: str
    front: Front
    rows: list[dict]
    layer_tables: list[tuple[tuple[str, ...], list[tuple[str, ...]]]]  # per member: SpaceLayout.genome_table
    hv_by_generation: list[tuple[int, float]]
    hv_by_trained: list[tuple[int, float]]
    parity: list[dict]
    slot_names: list[str]
    bits_map: np.ndarray  # (layers, front members) weight bits, NaN where the layer is absent
    prune_map: np.ndarray
    config_text: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    search: Front | None = None  # the search-fidelity records, drawn behind a final front


def _hv_space(front: Front) -> np.ndarray:
    """Objectives with costs in log10 (the space the campaign measures hypervolume in)."""
    G = front.F.astype(np.float64)
    costs = [i for i, n in enumerate(front.objectives) if objective(n).log]
    G[:, costs] = np.log10(np.maximum(G[:, costs], 1.0))
    return G


def _hypervolume(G: np.ndarray, reference: np.ndarray) -> float:
    inside = G[np.all(G < reference, axis=1)]
    return float(HV(ref_point=reference)(inside)) if len(inside) else 0.0


def hv_history(front: Front, reference: np.ndarray | None) -> tuple[list, list, np.ndarray]:
    """Hypervolume after each generation and after each trained candidate (in arrival order)."""
    G = _hv_space(front)
    if reference is None:
        span = np.maximum(np.ptp(G, axis=0), 1e-3)
        reference = G.max(axis=0) + 0.1 * span
    generation = front.records.rows["generation"]
    by_generation = [(int(g), _hypervolume(G[generation <= g], reference)) for g in np.unique(generation)]
    order = np.argsort(front.records.rows["created"], kind="stable")
    steps = np.unique(np.linspace(1, len(order), num=min(len(order), 200)).astype(int))
    by_trained = [(int(n), _hypervolume(G[order[:n]], reference)) for n in steps]
    return by_generation, by_trained, reference


def load_report_data(source: str | Path, *, task: str | None = None, objectives: list[str] | None = None,
                     fidelity: int | None = None, stage: str = "final") -> ReportData:
    """Read a run folder (config, checkpoint, surrogate log and archive) or a bare archive."""
    source = Path(source)
    folder = source if source.is_dir() else None
    archive_path = source / "archive.h5" if folder else source
    config_text, title, reference, campaign_objectives = "", archive_path.stem, None, None
    if folder is not None and (folder / CONFIG_FILE).is_file():
        config_text = (folder / CONFIG_FILE).read_text(encoding="utf-8")
        config = tomllib.loads(config_text)
        title = config.get("campaign", {}).get("name", title)
        campaign_objectives = config.get("objectives", {}).get("names")
        objectives = objectives or campaign_objectives
    with HDF5Archive(archive_path) as archive:
        table, spaces = archive.table(), dict(archive.spaces)
    front = select_front(table, spaces, task=task, objectives=objectives, fidelity=fidelity, stage=stage,
                         final_fidelity=campaign_final_epochs(folder) if folder is not None else None)
    # the search's progress is measured on the search records, whichever front the report shows
    search = front if front.stage == "search" else select_front(table, spaces, task=front.task,
                                                                 objectives=front.objectives, stage="search")
    if folder is not None and (folder / CHECKPOINT_JSON).is_file() and front.objectives == campaign_objectives:
        saved = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))["hv_reference"]
        reference = None if saved is None else np.array(saved)
    by_generation, by_trained, reference = hv_history(search, reference)
    rows = front_rows(front)
    idx = [r["index"] for r in rows]
    if front.layout.network:
        slot_names, bits, prune, layer_tables = _layer_maps(front, idx)
    else:  # a genes space: each member's gene values; the map shows each gene's choice position in [0, 1]
        layout = front.layout
        slot_names = list(layout.gene_names)
        genomes = front.records.select(idx).genome_matrix() if idx else np.zeros((0, layout.n_genes), int)
        bits = (genomes / np.maximum(layout.upper_bounds - 1, 1)).T.astype(np.float64)
        prune = np.zeros((0, len(idx)))
        layer_tables = [layout.genome_table(g) for g in genomes]
    used = ~np.all(np.isnan(bits), axis=1)
    parity = []
    if folder is not None and (folder / SURROGATE_LOG).is_file():
        by_generation_log = {}
        for line in (folder / SURROGATE_LOG).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            by_generation_log[entry["generation"]] = entry  # a resumed generation logs again: keep the last
        parity = [by_generation_log[g] for g in sorted(by_generation_log)]
    every = table.filter(task=front.task)  # search and retraining, failures included
    walls, created = every.rows["wall_time_s"], every.rows["created"]
    timings = {"records": len(walls), "training_s_total": float(walls.sum()),
               "training_s_mean": float(walls.mean()) if len(walls) else 0.0,
               "campaign_span_s": float(created.max() - created.min()) if len(created) else 0.0}
    return ReportData(title=str(title), front=front, rows=rows, layer_tables=layer_tables,
                      hv_by_generation=by_generation, hv_by_trained=by_trained, parity=parity,
                      slot_names=[n for n, u in zip(slot_names, used, strict=True) if u], bits_map=bits[used],
                      prune_map=prune[used] if len(prune) else prune, config_text=config_text, timings=timings,
                      search=search)


def _layer_maps(front: Front, idx: list[int]) -> tuple[list[str], np.ndarray, np.ndarray, list[tuple]]:
    """(weight-layer names, weight bits (L, K), prune ratio (L, K), layer table rows per member) of a network front."""
    layout = front.layout
    slot_names = list(layout.layer_names)
    position = {name: i for i, name in enumerate(slot_names)}
    bits = np.full((len(slot_names), len(idx)), np.nan)
    prune = np.full((len(slot_names), len(idx)), np.nan)
    layer_tables = []
    for col, i in enumerate(idx):
        table = layout.decode(front.records.genome(i))
        layer_tables.append(table.display())
        for r in table.rows():
            if r["name"] in position:  # weight layers (not norms or attention matmuls)
                bits[position[r["name"]], col] = r["w_bits"]
                prune[position[r["name"]], col] = 1 - r["kept_c_out"] / r["c_out"]
    return slot_names, bits, prune, layer_tables
