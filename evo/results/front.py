"""Pareto fronts of archived records: selection, per-candidate summaries, the knee point, table rows.

Objectives are minimised as stored (error in [0, 1], costs as counts); the front is the set of
successful records of one task and fidelity that no other such record dominates
(:func:`nasco.kernels.pareto.non_dominated`, fast enough for 10⁵ records).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasco.archive import RecordTable, lock_path
from nasco.evo.errors import NascoError
from nasco.evo.search.objectives import BUILTIN, objective
from nasco.evo.space.features import FIELD_CODES
from nasco.evo.space.genome import gene_field
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.layout import GenomeLayout
from nasco.evo.space.toml_io import space_from_dict
from nasco.kernels.encode import encode_genomes
from nasco.kernels.pareto import non_dominated


class _ObjectiveAttribute(dict):
    """``UNITS[name]`` / ``SCALE[name]`` of any objective name, from the registry."""

    def __init__(self, attribute: str) -> None:
        super().__init__()
        self.attribute = attribute

    def __missing__(self, name: str):
        return getattr(objective(name), self.attribute)


UNITS = _ObjectiveAttribute("unit")
SCALE = _ObjectiveAttribute("scale")


def objective_column(name: str) -> str:
    """The archive column of an objective name (``size`` → ``size_bits``, ``metric:flops`` → ``flops``)."""
    return objective(name).column


def parse_objectives(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    allowed = f"≥ 2 distinct of {', '.join(BUILTIN)} or metric:NAME"
    if len(names) < 2 or len(set(names)) != len(names):
        raise NascoError(f"--objectives: {text!r} is not allowed; allowed: {allowed}")
    for name in names:
        objective(name)
    return names


@dataclass
class Front:
    """The candidates of one task and fidelity and their front.

    Attributes:
        records: successful records of the task at the fidelity (N).
        F: objectives (N, M) as stored; ``objectives`` their names.
        on_front: boolean (N,); ``layout``: the space of the records.
    """

    records: RecordTable
    F: np.ndarray
    objectives: list[str]
    on_front: np.ndarray
    layout: GenomeLayout
    task: str
    fidelity: int
    stage: str = "search"  # "final": the front a campaign retrained at full fidelity, with test errors

    @property
    def indices(self) -> np.ndarray:
        """Row indices of the front, sorted by the first objective."""
        idx = np.flatnonzero(self.on_front)
        return idx[np.lexsort(self.F[idx].T[::-1])]

    def knee(self) -> int:
        """Row index of the knee: objectives normalised to [0, 1] over the front, smallest sum
        (the point farthest below the hyperplane through the extremes; Das 1999)."""
        idx = self.indices
        G = self.F[idx].astype(np.float64)
        costs = [i for i, n in enumerate(self.objectives) if n != "error"]
        G[:, costs] = np.log10(np.maximum(G[:, costs], 1.0))  # costs span decades
        span = np.where(np.ptp(G, axis=0) > 0, np.ptp(G, axis=0), 1.0)
        return int(idx[np.argmin(((G - G.min(axis=0)) / span).sum(axis=1))])


def select_front(table: RecordTable, spaces: dict, *, task: str | None = None, objectives: list[str] | None = None,
                 fidelity: int | None = None, stage: str = "final", final_fidelity: int | None = None) -> Front:
    """The front of ``task`` (default: the only task) at ``fidelity``.

    Without ``fidelity``, ``stage="final"`` takes the front a campaign retrained at full fidelity:
    ``final_fidelity`` (the campaign's ``training.final_epochs``, when known) if it has records,
    else the highest fidelity whose records carry a test error; a campaign that retrained nothing
    falls back to the search. ``stage="search"`` takes the most common fidelity (the search's).

    Raises:
        NascoError: no successful records, several tasks and none chosen, or a bad ``stage``.
    """
    if stage not in ("final", "search"):
        raise NascoError(f"stage: {stage!r} is not allowed; allowed: final, search")
    objectives = objectives or ["error", "bitops"]
    ok = table.filter(status="ok")
    tasks = sorted(set(ok.column("task_id").tolist()))
    if not tasks:
        raise NascoError(f"the archive has no successful records yet ({len(table)} records in all)")
    if task is None:
        if len(tasks) != 1:
            raise NascoError(f"the archive holds {len(tasks)} tasks with successful records; choose one with "
                             f"--task: {tasks}")
        task = tasks[0]
    rows = ok.filter(task=task)
    if not len(rows):
        raise NascoError(f"task {task!r}: no successful records; tasks in the archive: {tasks}")
    fidelities = Counter(rows.rows["fidelity"].tolist())
    if fidelity is None:
        fidelity = fidelities.most_common(1)[0][0]
        if stage == "final":
            tested = rows.rows["fidelity"][np.isfinite(rows.column("test_error"))] if "test_error" in rows.columns \
                else np.zeros(0, int)
            if final_fidelity in fidelities:
                fidelity = final_fidelity
            elif len(tested):
                fidelity = int(tested.max())
            else:
                stage = "search"
    else:
        stage = "final" if "test_error" in rows.columns and np.isfinite(
            rows.filter(fidelity=fidelity).column("test_error")).any() else "search"
    rows = rows.filter(fidelity=fidelity)
    if not len(rows):
        raise NascoError(f"task {task!r}: no successful records at fidelity {fidelity}; fidelities: "
                         f"{sorted(fidelities)}")
    space_id = Counter(rows.column("space_id").tolist()).most_common(1)[0][0]
    rows = rows.filter(space=space_id)
    absent = [n for n in objectives if objective_column(n) not in rows.columns]
    if absent:
        raise NascoError(f"objectives {absent} are not in this archive; its value columns: {list(rows.columns)} "
                         "(use metric:NAME for any of them)")
    F = np.column_stack([rows.column(objective_column(n)) for n in objectives])
    measured = ~np.isnan(F).any(axis=1)
    if not measured.any():
        missing = [n for n, col in zip(objectives, F.T, strict=True) if np.isnan(col).all()]
        raise NascoError(f"objectives {missing} are not measured in the records of {task!r} (latency needs a "
                         "campaign with objectives.latency_lut)")
    rows, F = rows.select(np.flatnonzero(measured)), F[measured]
    layout = compile_any(space_from_dict(spaces[space_id]["space"]))
    return Front(rows, F, objectives, non_dominated(F), layout, task, int(fidelity), stage)


def summaries(layout: GenomeLayout, genomes: np.ndarray) -> dict[str, np.ndarray]:
    """Per genome: mean weight bits, mean activation bits, mean prune ratio (active layers/groups) and depth."""
    varying = np.flatnonzero(layout.upper_bounds > 1)
    field = np.array([FIELD_CODES.get(gene_field(n), 0) for n in layout.gene_names], dtype=np.int64)
    encoded = encode_genomes(layout.tables, genomes, varying, field)[:, len(varying):]
    depth_genes = [g for g, n in enumerate(layout.gene_names) if n.endswith(".depth")]
    values = np.array([[layout.gene_choices[g][c] for g, c in zip(depth_genes, genome[depth_genes], strict=True)]
                       for genome in genomes]).reshape(len(genomes), -1)
    return {"mean_w_bits": encoded[:, 0], "mean_a_bits": encoded[:, 3], "mean_prune": encoded[:, 6],
            "depth": values.sum(axis=1).astype(int)}


def front_rows(front: Front, rows: np.ndarray | None = None) -> list[dict]:
    """Table rows (plain values) of the front or of the given record indices."""
    rows = front.indices if rows is None else rows
    table = front.records
    network = front.layout.network
    info = summaries(front.layout, table.select(rows).genome_matrix()) if len(rows) and network else {}
    values = [c for c in table.columns if c not in ("error", "test_error") and np.isfinite(table.column(c)).any()]
    out = []
    for k, i in enumerate(rows):
        row = {"index": int(i), "genome_hash": table.rows["genome_hash"][i].decode()}
        for n, v in zip(front.objectives, front.F[i], strict=True):
            row[n] = float(v)
        test = float(table.column("test_error")[i]) if "test_error" in table.columns else math.nan
        row["test_error"] = None if math.isnan(test) else test
        if network:
            row.update({"macs": int(table.column("macs")[i]), "size_kib": float(table.column("size_bits")[i]) / 8192,
                        "bitops": int(table.column("bitops")[i]), **{key: float(val[k]) for key, val in info.items()}})
            row["depth"] = int(row["depth"])
        else:
            row.update({c: float(table.column(c)[i]) for c in values if c not in row})
        row.update({"generation": int(table.rows["generation"][i]), "campaign": table.rows["campaign_id"][i].decode()})
        out.append(row)
    return out


def writer_is_live(archive_path: str | Path) -> bool | None:
    """Whether a writer holds the archive's lock right now (Linux ``/proc/locks``; None elsewhere).

    Read-only: it never takes the lock, so it cannot disturb a campaign that is opening the file.
    """
    lock = lock_path(archive_path)
    if not Path("/proc/locks").exists():
        return None
    if not lock.exists():
        return False
    inode = os.stat(lock).st_ino
    with open("/proc/locks") as f:
        return any(line.split()[5].rsplit(":", 1)[-1] == str(inode) for line in f if len(line.split()) > 5)


def _campaign_setting(folder: Path, section: str, key: str):
    """``[section] key`` of the config of the campaign whose run folder is ``folder`` (None: not a run folder)."""
    import tomllib

    try:
        return tomllib.loads((Path(folder) / "config.toml").read_text(encoding="utf-8"))[section][key]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return None


def campaign_final_epochs(folder: Path) -> int | None:
    """``training.final_epochs`` of the campaign whose run folder is ``folder`` (None: not a run folder)."""
    value = _campaign_setting(folder, "training", "final_epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def campaign_task_root(folder: Path) -> str | None:
    """``task.root`` of the campaign whose run folder is ``folder`` (None: not a run folder, or no root)."""
    value = _campaign_setting(folder, "task", "root")
    return value if isinstance(value, str) and value else None


def campaign_objectives(folder: Path) -> list[str] | None:
    """``objectives.names`` of the campaign whose run folder is ``folder`` (None: not a run folder)."""
    names = _campaign_setting(folder, "objectives", "names")
    return names if isinstance(names, list) and all(isinstance(n, str) for n in names) else None


def find_record(table: RecordTable, ident: str, task: str | None) -> int:
    """Row index of ``ident`` (hash, unique prefix or #row), optionally within one task."""
    if ident.startswith("#"):
        try:
            row = int(ident[1:])
        except ValueError:
            raise NascoError(f"ID {ident!r}: #row must be an integer") from None
        if not 0 <= row < len(table):
            raise NascoError(f"ID {ident!r}: the archive has rows #0..#{len(table) - 1}")
        return row
    hashes = np.char.decode(table.rows["genome_hash"], "utf-8")
    rows = np.flatnonzero(np.char.startswith(hashes, ident.lower()))
    if task is not None:
        rows = rows[table.rows["task_id"][rows] == task.encode()]
    if not len(rows):
        raise NascoError(f"ID {ident!r}: no record has this genome hash" + (f" in task {task!r}" if task else ""))
    if len(set(hashes[rows])) > 1:
        raise NascoError(f"ID {ident!r} is ambiguous: {sorted(set(hashes[rows]))[:5]} …; give more of the hash")
    ok = [r for r in rows if table.rows["status"][r] == 0]
    best = ok or list(rows)
    return int(max(best, key=lambda r: table.rows["fidelity"][r]))  # the highest-fidelity successful record


def load_front(path: str | Path, *, task: str | None = None, objectives: list[str] | None = None,
               fidelity: int | None = None, stage: str = "final", sort: str | None = None
               ) -> tuple[Front, list[dict]]:
    """The front of an archive file (in a run folder: the campaign's objectives and final fidelity by
    default) and its table rows sorted by ``sort`` (default: the first objective).

    Raises:
        NascoError / ArchiveError: see :func:`select_front`; a damaged or missing archive.
    """
    from nasco.archive import HDF5Archive

    path = Path(path)
    with HDF5Archive(path) as archive:
        table, spaces = archive.table(), dict(archive.spaces)
    objectives = objectives or campaign_objectives(path.parent) or ["error", "bitops"]
    front = select_front(table, spaces, task=task, objectives=objectives, fidelity=fidelity, stage=stage,
                         final_fidelity=campaign_final_epochs(path.parent))
    rows = front_rows(front)
    key = sort or front.objectives[0]
    if rows and key not in rows[0]:
        raise NascoError(f"--sort: {key!r} is not a column of the front; allowed: {sorted(rows[0])}")
    rows.sort(key=lambda r: r[key])
    return front, rows
