"""The supernet's inherited error as a surrogate feature (``supernet.surrogate_feature``).

A ``train`` campaign keeps training every candidate it evaluates, but its surrogate also sees, for
each genome, the validation error the genome reaches with weights inherited from the campaign's
weight-sharing supernet (:func:`nasco.evo.train.supernet.inherit`: extract, fine-tune a few steps,
recalibrate, validate — NSGANetV2 and APQ rank with such errors; here the surrogate learns how far to
trust them). The supernet is trained (or resumed) when the campaign starts and its file is missing.

Each genome is inherited once: the errors are kept in the run folder's ``inherited.json`` (with the
supernet's recipe id, and the seconds they took, which count in the campaign's compute), so a resumed
campaign reads them instead of computing them again. Inheritance runs on the campaign's executor (``local``
workers or Ray, each loading the supernet once) between generations, while no candidate trains, with the
recipe's device and ``executor.num_cpus`` threads per genome.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasco.archive.atomic import write_atomic
from nasco.evo.errors import NascoError
from nasco.evo.search.config import CampaignConfig
from nasco.evo.search.executors import EvalJob, Executor, make_executor
from nasco.evo.search.progress import CampaignMonitor
from nasco.evo.search.run_folder import INHERITED_FILE

INHERITANCE_SEED = 7  # the seed of every genome's fine-tuning batches: its inherited error is one number


class InheritedErrors:
    """Inherited validation errors of genomes, computed once each (see the module docstring)."""

    def __init__(self, executor: Executor, layout: Any, path: Path, monitor: CampaignMonitor) -> None:
        self.executor, self.layout, self.path, self.monitor = executor, layout, path, monitor
        saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        self.errors: dict[str, float] = saved.get("errors", {}) if saved.get("supernet") == self.recipe else {}
        self.seconds = float(saved.get("seconds", 0.0)) if self.errors else 0.0

    @staticmethod
    def create(config: CampaignConfig, plan: Any, folder: Path, monitor: CampaignMonitor) -> InheritedErrors:
        """Train (or resume) the campaign's supernet when needed and read the errors already inherited."""
        from nasco.evo.search.supernet_evaluator import supernet_evaluator, supernet_path

        evaluator = supernet_evaluator(config, plan.layout, plan.task)
        monitor.log(f"surrogate feature: the error each genome inherits from the supernet {supernet_path(config)}")
        return InheritedErrors(make_executor(evaluator, config.executor), plan.layout, folder / INHERITED_FILE,
                               monitor)

    @property
    def recipe(self) -> str:
        """The recipe id of the supernet the errors come from."""
        return self.executor.evaluator.supernet_spec.recipe

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N,): the inherited validation error (0..1) of each genome (N, G) of the layout.

        Raises:
            NascoError: a genome's inheritance failed (its reason named).
        """
        hashes = [self.layout.hash(g) for g in genomes]
        todo = {h: g for h, g in zip(hashes, genomes, strict=True) if h not in self.errors}
        if todo:
            started = time.perf_counter()
            jobs = [EvalJob(g, INHERITANCE_SEED, 0) for g in todo.values()]
            work = 0.0
            for job, result in self.executor.run(jobs, lambda: False):
                genome_hash = self.layout.hash(job.genome)
                if result.status != "ok":
                    raise NascoError(f"surrogate feature: inheriting genome {genome_hash} from the supernet failed: "
                                     f"{result.reason}")
                self.errors[genome_hash] = float(result.metrics["error"])
                work += result.wall_time_s
            self.seconds += work
            write_atomic(self.path, json.dumps({"supernet": self.recipe, "seconds": self.seconds,
                                                "errors": self.errors}))
            self.monitor.log(f"surrogate feature: {len(todo)} genomes inherited in {time.perf_counter() - started:.1f}"
                             f" s ({work:.1f} s of work; {len(self.errors)} in all, {self.seconds:.0f} s)")
        return np.array([self.errors[h] for h in hashes], dtype=np.float64)

    def close(self) -> None:
        """Release the executor's workers."""
        self.executor.close()
