"""Executors run any evaluator over a batch of jobs and yield results as they finish.

``local`` evaluates in ``workers`` worker processes of this machine at once (one per
``num_cpus`` CPUs by default; each trains with the recipe's thread count, so every record is the
one a serial run gives), or in this process with ``workers = 1``, for a ``batched`` evaluator
(whole batches, such as a table look-up) and for one that cannot be sent to another process (a
lambda or a closure). ``ray`` sends each genome to a Ray task (a local instance
by default, or a cluster by address) that asks for ``num_cpus`` and ``num_gpus`` (fractions let
several small candidates share one GPU); a task whose worker dies is retried by Ray
(``max_retries``). Workers never touch the archive: only the driver writes it (DESIGN.md §1).
New executors join the registry with :func:`register_executor`.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import EvalResult, Evaluator, evaluate_safely


@dataclass(frozen=True)
class EvalJob:
    """One genome to evaluate: canonical genome (G,), its seed, the fidelity, and whether to test it."""

    genome: np.ndarray
    seed: int
    fidelity: int
    test: bool = False


def run_jobs(evaluator: Evaluator, jobs: list[EvalJob]) -> list[EvalResult]:
    """Evaluate jobs of one fidelity and test flag as one batch (in any process); never raises."""
    genomes = np.array([j.genome for j in jobs], dtype=np.int64)
    seeds = np.array([j.seed for j in jobs], dtype=np.int64)
    return evaluate_safely(evaluator, genomes, jobs[0].fidelity, seeds, jobs[0].test)


class Executor(ABC):
    """Runs :class:`EvalJob` s with an evaluator; yields ``(job, result)`` in completion order."""

    def __init__(self, evaluator: Evaluator) -> None:
        self.evaluator = evaluator

    @abstractmethod
    def run(self, jobs: list[EvalJob], stop: Callable[[], bool]) -> Iterator[tuple[EvalJob, EvalResult]]:
        """Evaluate ``jobs``; once ``stop()`` is true no new job starts, in-flight ones still finish."""

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Release workers."""


def _evaluate_one(evaluator: Evaluator, job: EvalJob) -> EvalResult:
    return run_jobs(evaluator, [job])[0]


def _ignore_ctrl_c() -> None:
    """Workers leave Ctrl-C (SIGINT to the terminal's whole process group) to the campaign, which
    lets the candidates in flight finish and be recorded."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_ctrl_c)


class LocalExecutor(Executor):
    """This machine: ``workers`` processes at once (spawned on first use, kept for the campaign), or
    this process (``workers`` 1, batched evaluators, evaluators that cannot be pickled). A worker
    that dies fails the candidates in flight, named; a new pool takes the rest."""

    def __init__(self, evaluator: Evaluator, *, workers: int = 1) -> None:
        super().__init__(evaluator)
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None
        if self.workers > 1 and not evaluator.batched:
            try:
                pickle.dumps(evaluator)
            except (pickle.PicklingError, AttributeError, TypeError):
                self.workers = 1  # a lambda or closure: evaluated here, one at a time

    def run(self, jobs: list[EvalJob], stop: Callable[[], bool]) -> Iterator[tuple[EvalJob, EvalResult]]:
        if self.evaluator.batched and jobs and not stop():
            for mode in dict.fromkeys((j.fidelity, j.test) for j in jobs):
                group = [j for j in jobs if (j.fidelity, j.test) == mode]
                yield from zip(group, run_jobs(self.evaluator, group), strict=True)
            return
        if self.workers == 1 or len(jobs) == 1:
            for job in jobs:
                if stop():
                    return
                yield job, run_jobs(self.evaluator, [job])[0]
            return
        yield from self._run_in_workers(jobs, stop)

    def _run_in_workers(self, jobs: list[EvalJob], stop: Callable[[], bool]
                        ) -> Iterator[tuple[EvalJob, EvalResult]]:
        pending = list(jobs)
        in_flight: dict[Future, tuple[EvalJob, ProcessPoolExecutor]] = {}
        rebuilds = 0  # pools started in a row without a finished job: a pool that cannot work ends the batch
        while pending or in_flight:
            if self._pool is None and pending and not stop() and rebuilds < 3:
                rebuilds += 1
                self._pool = _pool(self.workers)
            while self._pool is not None and pending and len(in_flight) < self.workers and not stop():
                try:
                    future = self._pool.submit(_evaluate_one, self.evaluator, pending[0])
                except BrokenProcessPool:  # a worker died: the jobs in flight fail below, a new pool takes this one
                    self._discard_pool()
                    break
                in_flight[future] = (pending.pop(0), self._pool)
            if not in_flight:
                if self._pool is None and pending and not stop() and rebuilds < 3:
                    continue
                for job in pending if self._pool is None and not stop() else []:
                    yield job, EvalResult.failed("worker processes could not be started")
                return
            done = next(as_completed(in_flight))
            job, pool = in_flight.pop(done)
            try:
                result = done.result()
                rebuilds = 0
            except BrokenProcessPool as err:  # a worker died (killed, out of memory): the jobs in flight fail
                if pool is self._pool:
                    self._discard_pool()
                result = EvalResult.failed(f"worker process died: {err}")
            yield job, result

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _ray_evaluate(evaluator: Evaluator, job: EvalJob) -> EvalResult:
    return run_jobs(evaluator, [job])[0]


class RayExecutor(Executor):
    """Ray tasks with ``num_cpus``/``num_gpus`` each; results as they complete; retries on worker death."""

    def __init__(self, evaluator: Evaluator, *, address: str = "", num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, workers: int = 0) -> None:
        super().__init__(evaluator)
        try:
            import ray
        except ImportError:
            raise NascoError("executor.kind = 'ray' needs Ray: pip install 'nasco[ray]'") from None
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            options = {"address": address} if address else {"num_cpus": workers or None}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self._remote = ray.remote(_ray_evaluate).options(num_cpus=num_cpus, num_gpus=num_gpus,
                                                         max_retries=max_retries, retry_exceptions=False)

    def run(self, jobs: list[EvalJob], stop: Callable[[], bool]) -> Iterator[tuple[EvalJob, EvalResult]]:
        ray = self._ray
        evaluator_ref = ray.put(self.evaluator)
        pending = list(jobs)
        capacity = max(1, int(ray.available_resources().get("CPU", 1)))
        in_flight: dict = {}
        while pending or in_flight:
            while pending and len(in_flight) < 2 * capacity and not stop():
                job = pending.pop(0)
                in_flight[self._remote.remote(evaluator_ref, job)] = job
            if not in_flight:
                return
            done, _ = ray.wait(list(in_flight), num_returns=1)
            yield in_flight.pop(done[0]), ray.get(done[0])

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


def local_workers(workers: int, num_cpus: float) -> int:
    """Candidates the local executor trains at once: ``workers``, or (0) one per ``num_cpus`` CPUs."""
    if workers:
        return workers
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, int(cpus // max(num_cpus, 1.0)))


ExecutorFactory = Callable[[Evaluator, Any], Executor]
_EXECUTORS: dict[str, ExecutorFactory] = {
    "local": lambda evaluator, s: LocalExecutor(evaluator, workers=local_workers(s.workers, s.num_cpus)),
    "ray": lambda evaluator, s: RayExecutor(evaluator, address=s.address, num_cpus=s.num_cpus, num_gpus=s.num_gpus,
                                            max_retries=s.max_retries, workers=s.workers),
}


def register_executor(kind: str, factory: ExecutorFactory) -> None:
    """Make ``[executor] kind = "<kind>"`` build executors with ``factory(evaluator, executor_section)``."""
    _EXECUTORS[kind] = factory


def executor_kinds() -> list[str]:
    return sorted(_EXECUTORS)


def make_executor(evaluator: Evaluator, section: Any) -> Executor:
    if section.kind not in _EXECUTORS:
        raise NascoError(f"executor.kind = {section.kind!r} is not allowed; allowed: {', '.join(executor_kinds())}")
    return _EXECUTORS[section.kind](evaluator, section)
