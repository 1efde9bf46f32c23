"""Factories of the built-in ``train`` and ``supernet`` evaluators (the registry names them by import path)."""

from __future__ import annotations

import math
from typing import Any

from nasco.evo.search.task import task_spec
from nasco.evo.search.train_evaluator import TrainEvaluator, WorkerSpec
from nasco.evo.train.trainer import TrainConfig


def train_worker_spec(config: Any, layout: Any) -> tuple[WorkerSpec, dict]:
    """(what a worker needs to train candidates with the campaign's recipe, the task's description)."""
    c = config
    spec_task = task_spec(c.task, c.campaign.seed)
    recipe = {"batch_size": c.training.batch_size, "lr": c.training.lr}
    threads = max(1, math.floor(c.executor.num_cpus))
    train = {**recipe, "device": c.training.device}
    TrainConfig(**train)  # validates the device here, not in a worker
    # A task is its data and its training recipe: records under one task id are comparable, and
    # `nasco export` retrains a record exactly from this description, its fidelity and its seed.
    description = {**{k: v for k, v in spec_task.items() if k not in ("root", "download")},
                   "train": recipe, "threads": threads, "teacher": c.training.teacher}
    return WorkerSpec(spec_task, layout.space.to_dict(), train, c.training.teacher, threads), description


def train_evaluator(config: Any, layout: Any, task: Any) -> TrainEvaluator:
    """nasco's trainer with the campaign's recipe; the task id is the data's, its description the recipe."""
    spec, description = train_worker_spec(config, layout)
    if config.training.teacher:
        check_teacher(config.training.teacher, task)
    return TrainEvaluator(spec, task.name, description)


def check_teacher(folder: str, task: Any) -> None:
    """Load the teacher once before the first candidate: a teacher that cannot be loaded, or that sees
    other inputs or predicts other classes than the task, would fail every candidate.

    Raises:
        NascoError: naming the folder and what is wrong.
    """
    from nasco.evo.errors import NascoError
    from nasco.evo.train.candidate_io import load_candidate

    try:
        layout, _, _ = load_candidate(folder)
    except NascoError as err:
        raise NascoError(f"training.teacher: {err}") from None
    space = layout.space
    mine = (list(getattr(space, "input_shape", ())), int(space.num_classes))
    wanted = (list(getattr(task, "input_shape", ())) if hasattr(space, "input_shape") else [], int(task.num_classes))
    if mine != wanted:
        raise NascoError(f"training.teacher: {folder} is a network of inputs {mine[0]} and {mine[1]} classes; the "
                         f"task has inputs {wanted[0]} and {wanted[1]} classes")
