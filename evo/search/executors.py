"""Executors run any evaluator over a batch of jobs and yield results as they finish.

``local`` evaluates in ``workers`` worker processes of this machine at once (one per
``num_cpus`` CPUs by default; each trains with the recipe's thread count, so every record is the
one a serial run gives), or in this process with ``workers = 1``, for a ``batched`` evaluator
(whole batches, such as a table look-up) and for one that cannot be sent to another process (a
lambda or a closure). ``ray`` sends each genome to a Ray task (a local instance
by default, or a cluster by address) that asks for ``num_cpus`` and ``num_gpus`` (fractions let
several small candidates share one GPU); a task whose worker dies is retried by Ray
(``max_retries``). Workers never touch the archive: only the driver writes it (docs/ARCHITECTURE.md §1).

``timeout_s`` bounds one candidate's evaluation: past it the candidate becomes a failed record
("timed out"), its worker process is killed and replaced, and the campaign goes on (the other
candidates in flight in that pool start again: each record is the same whenever it is made).
With a timeout, the local executor evaluates in a worker process even with ``workers = 1``; an
evaluator that cannot be sent to another process is interrupted in this process by an alarm
signal instead (Python code only: a call stuck in C code cannot be interrupted there).
New executors join the registry with :func:`register_executor`, an installed entry point (group
``nasco.executors``) or an import path in ``[executor] kind``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.registry import Registry
from nasco.evo.search.evaluators import EvalJob, EvalResult, Evaluator, evaluate_safely


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


def timed_out(seconds: float) -> EvalResult:
    """The failed result of a candidate whose evaluation ran past ``executor.timeout_s``."""
    return EvalResult.failed(f"timed out: the evaluation ran past executor.timeout_s = {seconds:g} s (its worker "
                             "was stopped)", seconds)


class _Alarm(BaseException):
    """Raised in this process by the timeout's alarm (a BaseException: the evaluator's own error
    handling, and :func:`evaluate_safely`'s, must not swallow it)."""


def _evaluate_with_alarm(evaluator: Evaluator, job: EvalJob, seconds: float) -> EvalResult:
    """One job in this process, interrupted by SIGALRM after ``seconds`` (main thread only)."""
    def on_alarm(signum, frame):
        raise _Alarm

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return run_jobs(evaluator, [job])[0]
    except _Alarm:
        return timed_out(seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_STARTS = None  # in a worker process: the queue that tells the driver when and where each job starts


def _evaluate_one(evaluator: Evaluator, job: EvalJob, token: int = -1) -> EvalResult:
    if _STARTS is not None and token >= 0:
        _STARTS.put((token, time.monotonic()))
    return run_jobs(evaluator, [job])[0]


def _init_worker(starts) -> None:
    """Workers leave Ctrl-C (SIGINT to the terminal's whole process group) to the campaign, which
    lets the candidates in flight finish and be recorded; they report job starts on ``starts``."""
    global _STARTS
    _STARTS = starts
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _script_hint() -> str:
    """Why workers die at once when a Python script starts the campaign without a main guard: spawned
    workers import the script, which starts a campaign of its own."""
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if not script or Path(script).name in ("nasco", "__main__.py"):
        return ""
    return (f" (workers are spawned and import {Path(script).name}: a script that starts a campaign needs it "
            "under `if __name__ == \"__main__\":`)")


def _pool(workers: int, starts) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(starts,))


class LocalExecutor(Executor):
    """This machine: ``workers`` processes at once (spawned on first use, kept for the campaign), or
    this process (``workers`` 1 without a timeout, batched evaluators, evaluators that cannot be
    pickled). A worker that dies breaks its pool: the candidates in flight in it run again, each
    alone in a new pool, so only one that dies alone fails (named); a new pool takes the rest.
    ``timeout_s`` (0: none) bounds each candidate (see the module docstring)."""

    def __init__(self, evaluator: Evaluator, *, workers: int = 1, timeout_s: float = 0.0) -> None:
        super().__init__(evaluator)
        self.workers = max(1, int(workers))
        self.timeout_s = float(timeout_s)
        self._pool: ProcessPoolExecutor | None = None
        self._starts = None
        self.picklable = True
        if not evaluator.batched:
            try:
                pickle.dumps(evaluator)
            except (pickle.PicklingError, AttributeError, TypeError):
                self.picklable = False
                self.workers = 1  # a lambda or closure: evaluated here, one at a time

    def run(self, jobs: list[EvalJob], stop: Callable[[], bool]) -> Iterator[tuple[EvalJob, EvalResult]]:
        if self.evaluator.batched and jobs and not stop():
            for mode in dict.fromkeys((j.fidelity, j.test) for j in jobs):
                group = [j for j in jobs if (j.fidelity, j.test) == mode]
                yield from zip(group, run_jobs(self.evaluator, group), strict=True)
            return
        in_workers = self.picklable and ((self.workers > 1 and len(jobs) > 1) or self.timeout_s > 0)
        if not in_workers:
            alarm = self.timeout_s > 0 and main_thread()
            for job in jobs:
                if stop():
                    return
                yield job, (_evaluate_with_alarm(self.evaluator, job, self.timeout_s) if alarm
                            else run_jobs(self.evaluator, [job])[0])
            return
        yield from self._run_in_workers(jobs, stop)

    def _run_in_workers(self, jobs: list[EvalJob], stop: Callable[[], bool]
                        ) -> Iterator[tuple[EvalJob, EvalResult]]:
        pending = list(jobs)
        in_flight: dict[Future, tuple[EvalJob, ProcessPoolExecutor, int]] = {}
        started: dict[int, float] = {}  # job token → when a worker began it
        suspects: set[int] = set()  # id() of jobs in flight when a worker died: each runs again, alone
        tokens = iter(range(2**62))
        rebuilds = 0  # pools started in a row without a finished job: a pool that cannot work ends the batch
        while pending or in_flight:
            if self._pool is None and pending and not stop() and rebuilds < 3:
                rebuilds += 1
                # job starts are reported only when they are timed (the queue holds semaphores)
                self._starts = multiprocessing.get_context("spawn").SimpleQueue() if self.timeout_s > 0 else None
                self._pool = _pool(self.workers, self._starts)
            while self._pool is not None and pending and len(in_flight) < self.workers and not stop():
                if in_flight and (id(pending[0]) in suspects or any(id(j) in suspects for j, _, _ in
                                                                      in_flight.values())):
                    break  # a suspect runs with no other job in flight
                token = next(tokens)
                try:
                    future = self._pool.submit(_evaluate_one, self.evaluator, pending[0], token)
                except BrokenProcessPool:  # a worker died: the jobs in flight fail below, a new pool takes this one
                    self._discard_pool()
                    break
                in_flight[future] = (pending.pop(0), self._pool, token)
            if not in_flight:
                if self._pool is None and pending and not stop() and rebuilds < 3:
                    continue
                for job in pending if self._pool is None and not stop() else []:
                    yield job, EvalResult.failed("worker processes could not be started")
                return
            done, _ = wait(in_flight, timeout=self._poll_s(), return_when=FIRST_COMPLETED)
            if not done:
                late = self._late(in_flight, started)
                if late is not None:  # kill the pool; the late job fails, the others start again
                    job, pool, _ = in_flight.pop(late)
                    self._kill_pool()
                    finished, again = self._others_of(pool, in_flight)
                    pending[:0] = again
                    rebuilds = 0
                    yield job, timed_out(self.timeout_s)
                    yield from finished
                continue
            future = next(iter(done))
            job, pool, _ = in_flight.pop(future)
            try:
                result = future.result()
                rebuilds = 0
            except BrokenProcessPool as err:  # a worker died (killed, out of memory)
                if pool is self._pool:
                    self._discard_pool()
                finished, again = self._others_of(pool, in_flight)
                yield from finished
                if again:  # which job killed the worker is unknown: each runs again, alone
                    pending[:0] = [job, *again]
                    suspects.update(id(j) for j in (job, *again))
                    continue
                result = EvalResult.failed(f"worker process died: {err}{_script_hint()}")
            suspects.discard(id(job))
            yield job, result

    @staticmethod
    def _others_of(pool: ProcessPoolExecutor, in_flight: dict
                   ) -> tuple[list[tuple[EvalJob, EvalResult]], list[EvalJob]]:
        """Takes the other jobs of a pool that is gone (broken or killed) out of ``in_flight``: those
        that finished before it went (with their results) and those to run again."""
        finished, again = [], []
        for future in [f for f, (_, p, _) in in_flight.items() if p is pool]:
            other = in_flight.pop(future)[0]
            if future.done() and future.exception() is None:
                finished.append((other, future.result()))
            else:
                again.append(other)
        return finished, again

    def _poll_s(self) -> float | None:
        return min(1.0, self.timeout_s / 4) if self.timeout_s > 0 else None

    def _late(self, in_flight: dict, started: dict[int, float]) -> Future | None:
        """The in-flight future that has run longer than the timeout (counted from its start in a worker,
        not from its submission: a new pool's workers first import the evaluator), or None."""
        while self._starts is not None and not self._starts.empty():
            token, when = self._starts.get()
            started[token] = when
        now = time.monotonic()
        for future, (_, pool, token) in in_flight.items():
            if pool is self._pool and token in started and now - started[token] > self.timeout_s:
                return future
        return None

    def _kill_pool(self) -> None:
        """Stop every worker of the pool at once (a stuck evaluation ignores anything gentler)."""
        pool = self._pool
        if pool is None:
            return
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError, AttributeError):
                process.kill()
        self._discard_pool()

    def _discard_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def main_thread() -> bool:
    """Whether this is the main thread (the only one that may install signal handlers)."""
    return threading.current_thread() is threading.main_thread()


def _ray_evaluate(evaluator: Evaluator, job: EvalJob) -> EvalResult:
    return run_jobs(evaluator, [job])[0]


class RayExecutor(Executor):
    """Ray tasks with ``num_cpus``/``num_gpus`` each; results as they complete; retries on worker death."""

    def __init__(self, evaluator: Evaluator, *, address: str = "", num_cpus: float = 1.0, num_gpus: float = 0.0,
                 max_retries: int = 2, workers: int = 0, timeout_s: float = 0.0) -> None:
        super().__init__(evaluator)
        self.timeout_s = float(timeout_s)
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
        # With a timeout, no more tasks than can run at once: each one's clock starts at its submission.
        limit = capacity if self.timeout_s > 0 else 2 * capacity
        in_flight: dict = {}
        while pending or in_flight:
            while pending and len(in_flight) < limit and not stop():
                job = pending.pop(0)
                in_flight[self._remote.remote(evaluator_ref, job)] = (job, time.monotonic())
            if not in_flight:
                return
            timeout = min(1.0, self.timeout_s / 4) if self.timeout_s > 0 else None
            done, _ = ray.wait(list(in_flight), num_returns=1, timeout=timeout)
            if done:
                yield in_flight.pop(done[0])[0], ray.get(done[0])
                continue
            now = time.monotonic()
            for ref in [r for r, (_, since) in in_flight.items() if now - since > self.timeout_s]:
                ray.cancel(ref, force=True)  # ends the worker process; Ray starts another for the next task
                yield in_flight.pop(ref)[0], timed_out(self.timeout_s)

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


def _local(evaluator: Evaluator, s: Any) -> LocalExecutor:
    return LocalExecutor(evaluator, workers=local_workers(s.workers, s.num_cpus), timeout_s=s.timeout_s)


def _ray(evaluator: Evaluator, s: Any) -> RayExecutor:
    return RayExecutor(evaluator, address=s.address, num_cpus=s.num_cpus, num_gpus=s.num_gpus,
                       max_retries=s.max_retries, workers=s.workers, timeout_s=s.timeout_s)


EXECUTORS: Registry[ExecutorFactory] = Registry("executor.kind", "nasco.executors", {"local": _local, "ray": _ray})


def register_executor(kind: str, factory: ExecutorFactory) -> None:
    """Make ``[executor] kind = "<kind>"`` build executors with ``factory(evaluator, executor_section)``."""
    EXECUTORS.register(kind, factory)


def executor_kinds() -> list[str]:
    return EXECUTORS.names()


def make_executor(evaluator: Evaluator, section: Any) -> Executor:
    """The executor ``section.kind`` names (registered, installed or an import path), running ``evaluator``."""
    executor = EXECUTORS.get(section.kind)(evaluator, section)
    if not isinstance(executor, Executor):
        raise NascoError(f"executor.kind = {section.kind!r}: its factory returned {type(executor).__name__}; "
                         "allowed: an Executor (nasco.evo.search.executors.Executor)")
    return executor
