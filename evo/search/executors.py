"""Executors train a batch of candidates and yield their results as they finish.

``local`` trains in this process, one candidate at a time. ``ray`` sends each candidate to a
Ray task (a local instance by default, or a cluster by address) that asks for ``num_cpus``
and ``num_gpus`` (fractions let several small candidates share one GPU); a task whose worker
dies is retried by Ray (``max_retries``). Workers load the task and space themselves from a
plain description (:class:`WorkerSpec`), cache them per process, set torch's threads to their
CPU share, and never touch the archive: only the driver writes it (DESIGN.md §1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from nasco.evo.train.trainer import TrainConfig, TrainResult, evaluate, train_candidate


@dataclass(frozen=True)
class TrainJob:
    """One candidate to train: canonical genome (G,), training seed, epochs, and whether to test it."""

    genome: np.ndarray
    seed: int
    epochs: int
    test: bool = False


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
    job: TrainJob
    result: TrainResult
    test_error: float = float("nan")


_CACHE: dict[str, tuple] = {}


def load_worker_context(spec: WorkerSpec) -> tuple:
    """(layout, task, teacher) of a spec, loaded once per process."""
    import json

    key = json.dumps([spec.task, spec.space, spec.teacher], sort_keys=True)
    if key not in _CACHE:
        from nasco.evo.search.task import load_task_spec
        from nasco.evo.space.layout import compile_space
        from nasco.evo.space.toml_io import space_from_dict
        from nasco.evo.train.candidate_io import load_candidate

        teacher = load_candidate(spec.teacher)[2] if spec.teacher else None
        _CACHE[key] = (compile_space(space_from_dict(spec.space)), load_task_spec(spec.task), teacher)
    return _CACHE[key]


def run_job(spec: WorkerSpec, job: TrainJob, context: tuple | None = None) -> JobResult:
    """Train one job (in any process); never raises for a failing candidate."""
    import torch

    layout, task, teacher = context or load_worker_context(spec)
    config = TrainConfig(**{**spec.train, "epochs": job.epochs})
    previous = torch.get_num_threads()
    torch.set_num_threads(spec.threads)
    try:
        result, model = train_candidate(layout, job.genome, task, config, seed=job.seed, teacher=teacher)
        test_error = float("nan")
        if job.test and model is not None:
            test_error = evaluate(model, task, "test", batch_size=config.eval_batch_size,
                                  device=next(model.parameters()).device)
    finally:
        torch.set_num_threads(previous)
    return JobResult(job, result, test_error)


class Executor(ABC):
    """Runs :class:`TrainJob` s; yields :class:`JobResult` s in completion order."""

    @abstractmethod
    def run(self, jobs: list[TrainJob], stop: Callable[[], bool]) -> Iterator[JobResult]:
        """Train ``jobs``; once ``stop()`` is true no new job starts, in-flight ones still finish."""

    @abstractmethod
    def close(self) -> None:
        """Release workers."""


class LocalExecutor(Executor):
    """In this process, one candidate at a time."""

    def __init__(self, spec: WorkerSpec, context: tuple) -> None:
        self.spec, self.context = spec, context

    def run(self, jobs: list[TrainJob], stop: Callable[[], bool]) -> Iterator[JobResult]:
        for job in jobs:
            if stop():
                return
            yield run_job(self.spec, job, self.context)

    def close(self) -> None:
        self.context = None


def _ray_train(spec: WorkerSpec, job: TrainJob) -> JobResult:
    return run_job(spec, job)


class RayExecutor(Executor):
    """Ray tasks with ``num_cpus``/``num_gpus`` each; results as they complete; retries on worker death."""

    def __init__(self, spec: WorkerSpec, *, address: str = "", num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, workers: int = 0) -> None:
        try:
            import ray
        except ImportError:
            from nasco.evo.errors import NascoError

            raise NascoError("executor.kind = 'ray' needs Ray: pip install 'nasco[ray]'") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            options = {"address": address} if address else {"num_cpus": workers or None}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self.spec = spec
        self._remote = ray.remote(_ray_train).options(num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
                                                      retry_exceptions=False)

    def run(self, jobs: list[TrainJob], stop: Callable[[], bool]) -> Iterator[JobResult]:
        ray = self._ray
        spec_ref = ray.put(self.spec)
        pending = list(jobs)
        capacity = max(1, int(ray.available_resources().get("CPU", 1)))
        in_flight: list = []
        while pending or in_flight:
            while pending and len(in_flight) < 2 * capacity and not stop():
                in_flight.append(self._remote.remote(spec_ref, pending.pop(0)))
            if not in_flight:
                return
            done, in_flight = ray.wait(in_flight, num_returns=1)
            yield ray.get(done[0])

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
