"""From archive records to surrogate training data: features and (log) errors of one task.

Surrogates learn ``log(error + ERROR_OFFSET)``: validation errors are skewed (most near the
best, a long tail of broken configurations), and a monotone transform changes neither Kendall
τ nor Pareto dominance, so screening uses the predictions as they are; :func:`from_target`
turns them back into errors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasco.archive import RecordTable
from nasco.evo.errors import NascoError
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.features import genome_features
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.toml_io import space_from_dict

ERROR_OFFSET = 0.01


def to_target(errors: np.ndarray) -> np.ndarray:
    """Errors in [0, 1] → the surrogate's target ``log(error + ERROR_OFFSET)``."""
    return np.log(np.asarray(errors, dtype=np.float64) + ERROR_OFFSET)


def from_target(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_target`."""
    return np.exp(values) - ERROR_OFFSET


def search_fidelity(table: RecordTable, task: str) -> int | None:
    """The fidelity (epochs) with most successful records of ``task`` — a campaign's search fidelity
    (its retrained front has a few records at another) — or None without records."""
    rows = table.filter(task=task, status="ok")
    return Counter(rows.rows["fidelity"].tolist()).most_common(1)[0][0] if len(rows) else None


def task_records(table: RecordTable, spaces: dict, task: str, *, fidelity: int | None = None,
                 space_id: str | None = None) -> tuple[SpaceLayout, np.ndarray, np.ndarray]:
    """(layout, genomes (N, G), validation errors (N,)) of the task's successful records at one
    fidelity: ``fidelity``, by default :func:`search_fidelity` (errors after different training
    budgets are not comparable, so they are never fitted together).

    Records of several spaces: ``space_id`` chooses; by default the space with most records.

    Raises:
        NascoError: no successful record of the task (the message lists the tasks there are).
    """
    fidelity = fidelity if fidelity is not None else search_fidelity(table, task)
    rows = table.filter(task=task, status="ok", fidelity=fidelity)
    if not len(rows):
        tasks = sorted(set(table.column("task_id").tolist()))
        raise NascoError(f"task {task!r}: no successful records" + (f" at fidelity {fidelity}" if fidelity else "")
                         + f"; tasks in the archive: {tasks}")
    if space_id is None:
        space_id = Counter(rows.column("space_id").tolist()).most_common(1)[0][0]
    rows = rows.filter(space=space_id)
    layout = compile_any(space_from_dict(spaces[space_id]["space"]))
    return layout, rows.genome_matrix(), rows.column("error")


def task_features(table: RecordTable, spaces: dict, task: str, *, fidelity: int | None = None,
                  encoding: str = "ordinal") -> tuple[SpaceLayout, np.ndarray, np.ndarray]:
    """(layout, features X, targets y = :func:`to_target` of the errors) of a task's successful records."""
    layout, genomes, errors = task_records(table, spaces, task, fidelity=fidelity)
    features = genome_features(layout, genomes, encoding) if layout.network else layout.features(genomes)
    return layout, features, to_target(errors)


@dataclass
class TaskSurrogate:
    """A predictor fitted on one task's archived records, with its cross-validation scores.

    Attributes:
        model: the chosen predictor; ``X``/``y``: features and targets it was fitted on.
        scores: ``{"plain": [...]}``, plus ``"transfer"`` when source tasks were given (best first).
        fidelity: the records' training epochs.
    """

    model: Any
    scores: dict[str, list]
    X: np.ndarray
    y: np.ndarray
    fidelity: int | None


def fit_task_surrogate(table: RecordTable, spaces: dict, task: str, *, families: list[str], folds: int = 5,
                       seed: int = 0, fidelity: int | None = None, transfer_from: Sequence[str] = ()
                       ) -> TaskSurrogate:
    """Select and fit a predictor of ``task``'s validation error (records at ``fidelity``, by default
    the search's); with ``transfer_from``, source tasks of the same space serve as a feature where
    cross-validation says they help.

    Raises:
        NascoError: no records, or a source task in another space.
    """
    from nasco.surrogate import fit_with_transfer, select_predictor

    target_fidelity = fidelity if fidelity is not None else search_fidelity(table, task)
    layout, X, y = task_features(table, spaces, task, fidelity=target_fidelity)
    if not transfer_from:
        model, scores = select_predictor(X, y, families=families, folds=folds, seed=seed)
        return TaskSurrogate(model, {"plain": scores}, X, y, target_fidelity)
    # each source task at the requested fidelity, or at its own search fidelity
    sources = [task_features(table, spaces, t, fidelity=fidelity) for t in transfer_from]
    if any(s[0].space.space_id != layout.space.space_id for s in sources):
        raise NascoError("--transfer-from: source tasks must use the target task's search space")
    X_src, y_src = np.concatenate([s[1] for s in sources]), np.concatenate([s[2] for s in sources])
    model, scores = fit_with_transfer(X, y, X_src, y_src, families=families, folds=folds, seed=seed)
    return TaskSurrogate(model, scores, X, y, target_fidelity)
