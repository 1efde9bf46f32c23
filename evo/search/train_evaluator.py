"""The ``train`` evaluator: nasco's own candidate trainer (QAT, gradual pruning, optional KD).

Workers load the task and space themselves from a plain description (:class:`WorkerSpec`),
cache them per process, set torch's threads to their CPU share, and never touch the archive.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasco.evo.search.evaluators import TEST_METRIC, EvalJob, EvalResult, Evaluator
from nasco.evo.search.task import task_spec
from nasco.evo.train.trainer import TrainConfig, TrainResult, evaluate, train_candidate


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, as plain data: task options, the space as a dict, training settings."""

    task: dict
    space: dict
    train: dict
    teacher: str = ""
    threads: int = 1  # torch threads while training (results depend on it: part of the recipe)


@dataclass
class JobResult:
    job: EvalJob
    result: TrainResult
    test_error: float = float("nan")


_CACHE: dict[str, tuple] = {}


def load_worker_context(spec: WorkerSpec) -> tuple:
    """(layout, task, teacher) of a spec, loaded once per process."""
    key = json.dumps([spec.task, spec.space, spec.teacher], sort_keys=True)
    if key not in _CACHE:
        from nasco.evo.search.task import load_task_spec
        from nasco.evo.space.kinds import compile_any
        from nasco.evo.space.toml_io import space_from_dict
        from nasco.evo.train.candidate_io import load_candidate

        teacher = load_candidate(spec.teacher)[2] if spec.teacher else None
        _CACHE[key] = (compile_any(space_from_dict(spec.space)), load_task_spec(spec.task), teacher)
    return _CACHE[key]


def run_job(spec: WorkerSpec, job: EvalJob, context: tuple | None = None, start: Any = None) -> JobResult:
    """Train one job (in any process), from ``start`` (a network of the genome, see
    :func:`~nasco.evo.train.trainer.train_candidate`) when given; never raises for a failing candidate."""
    import torch

    layout, task, teacher = context or load_worker_context(spec)
    train = {**spec.train, "epochs": job.fidelity}
    if job.test:  # a tested (final) training keeps the genome's exact shapes
        train.pop("channel_multiple", None)
        train.pop("depthwise_kernel", None)
    config = TrainConfig(**train)
    previous = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        result, model = train_candidate(layout, job.genome, task, config, seed=job.seed, teacher=teacher,
                                        start=start)
        test_error = float("nan")
        if job.test and model is not None:
            test_error = evaluate(model, task, "test", batch_size=config.eval_batch_size,
                                  device=next(model.parameters()).device)
    finally:
        torch.set_num_threads(previous)
    return JobResult(job, result, test_error)


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
    for name in ("channel_multiple", "depthwise_kernel"):  # the same logits, float sums in another order: named
        if getattr(c.training, name):  # only when set (the task ids of earlier archives unchanged)
            train[name] = description[name] = getattr(c.training, name)
    return WorkerSpec(spec_task, layout.space.to_dict(), train, c.training.teacher, threads), description



class TrainEvaluator(Evaluator):
    """Trains each genome with the campaign's recipe; ``error`` is the validation error under compression."""

    metrics = ("error",)
    trains = True

    def __init__(self, spec: WorkerSpec, task_name: str, description: dict) -> None:
        self.spec, self._task_name, self._description = spec, task_name, description

    def task_name(self) -> str:
        return self._task_name

    def describe(self) -> dict:
        return self._description

    def evaluate(self, genomes: np.ndarray, fidelity: int, seeds: np.ndarray, *, test: bool = False
                 ) -> list[EvalResult]:
        return [self.result(run_job(self.spec, EvalJob(g, int(s), fidelity, test)))
                for g, s in zip(genomes, seeds, strict=True)]

    def reference_weights(self, genome: np.ndarray, epochs: int, seed: int) -> tuple[float, list[np.ndarray]] | None:
        """(validation error, conv units' then the classifier's weights) of ``genome`` trained here for
        ``epochs`` with the campaign's recipe (``search.preprocess``'s reference network).

        Raises:
            NascoError: the reference network failed to train (its reason named).
        """
        from nasco.evo.errors import NascoError

        layout, task, _ = load_worker_context(self.spec)
        config = TrainConfig(**{**self.spec.train, "epochs": epochs})
        result, model = train_candidate(layout, genome, task, config, seed=seed)
        if model is None:
            raise NascoError(f"search.preprocess: the reference network failed to train ({result.reason})")
        weights = [u.conv.weight.detach().cpu().numpy() for u in model.conv_units()]
        weights.append(model.classifier.weight.detach().cpu().numpy())
        return result.val_error, weights

    @staticmethod
    def result(done: JobResult) -> EvalResult:
        r = done.result
        metrics = {"error": r.val_error, TEST_METRIC: done.test_error}
        return EvalResult(metrics, r.status, r.reason, tuple(r.val_error_curve), r.wall_time_s, r.device)
