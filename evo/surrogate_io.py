"""From archive records to surrogate training data: features and errors of one task."""

from __future__ import annotations

from collections import Counter

import numpy as np

from nasco.archive import RecordTable
from nasco.evo.errors import NascoError
from nasco.evo.features import genome_features
from nasco.evo.layout import GenomeLayout, compile_space
from nasco.evo.space_io import space_from_dict


def task_records(table: RecordTable, spaces: dict, task: str, *, fidelity: int | None = None,
                 space_id: str | None = None) -> tuple[GenomeLayout, np.ndarray, np.ndarray]:
    """(layout, genomes (N, G), validation errors (N,)) of the task's successful records.

    Records of several spaces: ``space_id`` chooses; by default the space with most records.

    Raises:
        NascoError: no successful record of the task (the message lists the tasks there are).
    """
    rows = table.filter(task=task, status="ok", fidelity=fidelity)
    if not len(rows):
        tasks = sorted(set(table.column("task_id").tolist()))
        raise NascoError(f"task {task!r}: no successful records" + (f" at fidelity {fidelity}" if fidelity else "")
                         + f"; tasks in the archive: {tasks}")
    if space_id is None:
        space_id = Counter(rows.column("space_id").tolist()).most_common(1)[0][0]
    rows = rows.filter(space=space_id)
    layout = compile_space(space_from_dict(spaces[space_id]["space"]))
    return layout, rows.genome_matrix(), rows.column("error")


def task_features(table: RecordTable, spaces: dict, task: str, *, fidelity: int | None = None,
                  encoding: str = "ordinal") -> tuple[GenomeLayout, np.ndarray, np.ndarray]:
    """(layout, features X, errors y) of a task's successful records."""
    layout, genomes, errors = task_records(table, spaces, task, fidelity=fidelity)
    return layout, genome_features(layout, genomes, encoding), errors
