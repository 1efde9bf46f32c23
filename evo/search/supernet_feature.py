"""The supernet's inherited error as a surrogate feature (``supernet.surrogate_feature``).

A ``train`` campaign keeps training every candidate it evaluates, but its surrogate also sees, for
each genome, the validation error the genome reaches with weights inherited from the campaign's
weight-sharing supernet (:func:`nasco.evo.train.supernet.inherit`: extract, fine-tune a few steps,
recalibrate, validate — NSGANetV2 and APQ rank with such errors; here the surrogate learns how far to
trust them). The supernet is trained (or resumed) when the campaign starts and its file is missing.

Each genome is inherited once: the errors are kept in the run folder's ``inherited.json`` (with the
supernet's recipe id, and the seconds they took, which count in the campaign's compute), so a resumed
campaign reads them instead of computing them again. Inheritance runs in the driver process, with the
recipe's device and ``executor.num_cpus`` threads.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from nasco.evo.search.config import CampaignConfig
from nasco.evo.search.progress import CampaignMonitor
from nasco.evo.search.run_folder import INHERITED_FILE, write_atomic

INHERITANCE_SEED = 7  # the seed of every genome's fine-tuning batches: its inherited error is one number


class InheritedErrors:
    """Inherited validation errors of genomes, computed once each (see the module docstring)."""

    def __init__(self, evaluator: Any, layout: Any, path: Path, monitor: CampaignMonitor) -> None:
        self.evaluator, self.layout, self.path, self.monitor = evaluator, layout, path, monitor
        recipe = evaluator.supernet_spec.recipe
        saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        self.errors: dict[str, float] = saved.get("errors", {}) if saved.get("supernet") == recipe else {}
        self.seconds = float(saved.get("seconds", 0.0)) if self.errors else 0.0

    @staticmethod
    def create(config: CampaignConfig, plan: Any, folder: Path, monitor: CampaignMonitor) -> InheritedErrors:
        """Train (or resume) the campaign's supernet when needed and read the errors already inherited."""
        from nasco.evo.search.supernet_evaluator import supernet_evaluator, supernet_path

        evaluator = supernet_evaluator(config, plan.layout, plan.task)
        monitor.log(f"surrogate feature: the error each genome inherits from the supernet {supernet_path(config)}")
        return InheritedErrors(evaluator, plan.layout, folder / INHERITED_FILE, monitor)

    def __call__(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N,): the inherited validation error (0..1) of each genome (N, G) of the layout."""
        hashes = [self.layout.hash(g) for g in genomes]
        todo = {h: i for i, h in enumerate(hashes) if h not in self.errors}
        if todo:
            started = time.perf_counter()
            rows = np.array([genomes[i] for i in todo.values()])
            done = self.evaluator.evaluate(rows, 0, np.full(len(rows), INHERITANCE_SEED))
            self.errors.update({h: float(r.metrics["error"]) for h, r in zip(todo, done, strict=True)})
            spent = time.perf_counter() - started
            self.seconds += spent
            write_atomic(self.path, json.dumps({"supernet": self.evaluator.supernet_spec.recipe,
                                                "seconds": self.seconds, "errors": self.errors}))
            self.monitor.log(f"surrogate feature: {len(todo)} genomes inherited in {spent:.1f} s "
                             f"({len(self.errors)} in all, {self.seconds:.0f} s)")
        return np.array([self.errors[h] for h in hashes], dtype=np.float64)
