"""The ``python`` evaluator: a user callable scores each genome.

Configured by ``[evaluator] entry = "package.module:callable"`` (with ``metrics`` listing what it
returns), or given to :func:`nasco.evo.search.api.run_campaign` directly. The callable receives a
:class:`~nasco.evo.search.evaluators.Candidate` (``.genes`` by name, ``.genome``, ``.fidelity``,
``.seed`` …) and returns a dict of metrics (a bare number means ``{"error": number}``). An object
that already is an :class:`~nasco.evo.search.evaluators.Evaluator` is used as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import Candidate, EvalResult, Evaluator
from nasco.evo.space.entry import load_entry


class PythonEvaluator(Evaluator):
    """Calls ``function(candidate) -> dict | float`` once per genome."""

    def __init__(self, function: Callable[[Candidate], Any] | str, metrics: tuple[str, ...] = ("error",)) -> None:
        self.entry = function if isinstance(function, str) else ""
        self.function = load_entry(function, "evaluator.entry") if isinstance(function, str) else function
        if not callable(self.function):
            raise NascoError(f"evaluator: {self.entry or self.function!r} is not callable; allowed: a function "
                             "taking a Candidate and returning a dict of metrics")
        if not metrics or len(set(metrics)) != len(metrics):
            raise NascoError(f"evaluator.metrics: {list(metrics)} is not allowed; allowed: distinct metric names")
        self.metrics = tuple(metrics)

    def __getstate__(self) -> dict:  # an entry is re-imported in workers; a plain callable travels as is
        state = dict(self.__dict__)
        if self.entry:
            state.pop("function")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.entry:
            self.function = load_entry(self.entry, "evaluator.entry")

    def task_name(self) -> str:
        return f"python:{self.entry or getattr(self.function, '__qualname__', 'callable')}"[:32]

    def describe(self) -> dict:
        return {"evaluator": "python", "entry": self.entry or getattr(self.function, "__qualname__", "callable"),
                "metrics": list(self.metrics)}

    def evaluate(self, genomes: np.ndarray, fidelity: int, seeds: np.ndarray, *, test: bool = False
                 ) -> list[EvalResult]:
        layout = self.layout
        results = []
        for genome, seed in zip(genomes, seeds, strict=True):
            candidate = Candidate(genome, layout.gene_values(genome), fidelity, int(seed), test, layout.hash(genome),
                                  layout)
            started = time.perf_counter()
            out = self.function(candidate)
            wall = time.perf_counter() - started
            if isinstance(out, EvalResult):
                out.wall_time_s = out.wall_time_s or wall
                results.append(out)
            elif isinstance(out, dict):
                results.append(EvalResult(dict(out), wall_time_s=wall))
            elif isinstance(out, int | float) and not isinstance(out, bool) and self.metrics == ("error",):
                results.append(EvalResult({"error": float(out)}, wall_time_s=wall))
            else:
                results.append(EvalResult.failed(f"evaluator {self.task_name()} returned {type(out).__name__} "
                                                 f"{out!r:.80}; allowed: a dict of metrics {list(self.metrics)}",
                                                 wall))
        return results


def python_evaluator(config: Any, layout: Any, task: Any) -> PythonEvaluator:
    e = config.evaluator
    if not e.entry:
        raise NascoError("evaluator.kind = 'python' needs evaluator.entry = 'package.module:callable' "
                         "(or pass evaluator= to run_campaign)")
    return PythonEvaluator(e.entry, tuple(e.metrics) or ("error",))
