"""The evaluator extension point (docs/ARCHITECTURE.md §2): how a genome is scored is the evaluator's business.

An :class:`Evaluator` takes a batch of canonical genomes with their fidelity and seeds and
returns one :class:`EvalResult` per genome: metrics by name, status ok/failed with a reason, an
optional curve and the wall time. Executors (local, Ray) run any evaluator through
:func:`evaluate_safely`, which turns an exception, a wrong shape, a missing metric or a NaN into
failed results naming the problem, so nothing already archived is lost. Built-ins: ``train``
(nasco's QAT trainer), ``supernet`` (weights inherited from a weight-sharing supernet), ``table``
(look-up in a user file) and ``python`` (a user callable).
"""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.registry import Registry, load_entry
from nasco.evo.space.base import SpaceLayout

TEST_METRIC = "test_error"  # what a final-fidelity evaluation may add (error on held-out test data)
# Metrics whose meaning nasco knows, with the values allowed: an error rate is a share of examples.
METRIC_RANGES = {"error": (0.0, 1.0), TEST_METRIC: (0.0, 1.0)}


@dataclass
class EvalResult:
    """The outcome of one genome: ``metrics`` by name (the declared ones when ``status == "ok"``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    reason: str = ""
    curve: tuple[float, ...] = ()
    wall_time_s: float = 0.0
    device: str = ""

    @staticmethod
    def failed(reason: str, wall_time_s: float = 0.0) -> EvalResult:
        return EvalResult({}, "failed", reason[:2000], (), wall_time_s)


@dataclass(frozen=True)
class EvalJob:
    """One genome to evaluate: canonical genome (G,), its seed, the fidelity (for nasco's trainer: epochs),
    and whether to test it."""

    genome: np.ndarray
    seed: int
    fidelity: int
    test: bool = False


@dataclass(frozen=True)
class Candidate:
    """What a ``python`` evaluator's function receives for one genome.

    Attributes:
        genome: canonical genome int64 (G,); ``genes``: ``{gene name: chosen value}``.
        fidelity: the budget (``training.epochs``; ``training.final_epochs`` for the final front).
        seed: a seed for this genome (from the campaign seed and the genome hash).
        test: True for the final front (report ``test_error`` too when you can).
        hash: the archive key of the genome; ``layout``: the compiled space.
    """

    genome: np.ndarray
    genes: dict[str, Any]
    fidelity: int
    seed: int
    test: bool
    hash: str
    layout: SpaceLayout


class Evaluator(ABC):
    """Scores genomes. Subclasses set ``metrics`` (returned for every ok genome; ``"error"`` first
    when the campaign minimises it) and may declare ``cheap`` values known for any genome."""

    metrics: tuple[str, ...] = ("error",)
    cheap: tuple[str, ...] = ()
    batched: bool = False  # True: executors may pass whole batches (look-ups), else one genome per call
    trains: bool = False  # True: each evaluation trains a network (progress and budgets say "trained")
    layout: SpaceLayout | None = None

    def bind(self, layout: SpaceLayout) -> None:
        """Called once by the campaign, in the driver, before any evaluation: check what can be checked."""
        self.layout = layout

    def task_name(self) -> str:
        """The archive's task id for records of this evaluator (≤ 32 bytes)."""
        return type(self).__name__[:32]

    def describe(self) -> dict:
        """A JSON-ready description registered with the task in the archive."""
        return {"evaluator": type(self).__name__}

    def cheap_values(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, len(cheap)): the declared cheap values of genomes (N, G)."""
        return np.zeros((len(genomes), 0))

    @abstractmethod
    def evaluate(self, genomes: np.ndarray, fidelity: int, seeds: np.ndarray, *, test: bool = False
                 ) -> list[EvalResult]:
        """One result per genome of ``genomes`` (N, G), evaluated at ``fidelity`` with ``seeds`` (N,)."""

    def reference_weights(self, genome: np.ndarray, epochs: int, seed: int) -> tuple[float, list[np.ndarray]] | None:
        """An optional hook for ``search.preprocess``: (validation error, weight arrays of every weight layer in
        order) of ``genome`` (G,) trained for ``epochs`` with ``seed``; None (the default) when this evaluator
        trains no network, and the campaign refuses the pre-processing."""
        return None

    def surrogate_feature(self, config: Any, plan: Any, folder: Any, monitor: Any) -> Any:
        """An optional hook for ``supernet.surrogate_feature``: a callable genomes (N, G) → float64 (N,) the
        surrogate sees as one more feature (with ``close()``), or None (the default: no such feature)."""
        return None

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Release resources (the driver calls it at the end of a campaign)."""


class PythonEvaluator(Evaluator):
    """A plain function as an evaluator (the ``python`` kind, and functions given to ``run_campaign``):
    calls ``function(candidate) -> dict | float`` once per genome with a :class:`Candidate`
    (``.genes`` by name, ``.genome``, ``.fidelity``, ``.seed`` …); a bare number means ``{"error": number}``."""

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


def evaluate_safely(evaluator: Evaluator, genomes: np.ndarray, fidelity: int, seeds: np.ndarray,
                    test: bool = False) -> list[EvalResult]:
    """``evaluator.evaluate`` that never raises: a bad outcome becomes failed results naming why."""
    name = type(evaluator).__name__
    started = time.perf_counter()
    try:
        results = evaluator.evaluate(genomes, fidelity, seeds, test=test)
    except SystemExit as err:  # sys.exit() in user code ends this candidate, not the campaign
        where = traceback.extract_tb(err.__traceback__)[-1]
        reason = (f"evaluator {name} called sys.exit({err.code!r}) ({where.filename}:{where.lineno}); allowed: return "
                  "metrics or raise an exception")
        return [EvalResult.failed(reason, time.perf_counter() - started) for _ in range(len(genomes))]
    except Exception as err:
        where = traceback.extract_tb(err.__traceback__)[-1]
        reason = f"evaluator {name} raised {type(err).__name__}: {err} ({where.filename}:{where.lineno})"
        return [EvalResult.failed(reason, time.perf_counter() - started) for _ in range(len(genomes))]
    if not isinstance(results, list | tuple) or len(results) != len(genomes):
        got = f"{len(results)} results" if isinstance(results, list | tuple) else type(results).__name__
        reason = f"evaluator {name} returned {got} for {len(genomes)} genomes; allowed: one EvalResult per genome"
        return [EvalResult.failed(reason, time.perf_counter() - started) for _ in range(len(genomes))]
    return [check_result(evaluator, r) for r in results]


def check_result(evaluator: Evaluator, result: Any) -> EvalResult:
    """``result`` if it is a valid :class:`EvalResult` with the declared metrics, else a failed one."""
    name = type(evaluator).__name__
    if not isinstance(result, EvalResult):
        return EvalResult.failed(f"evaluator {name} returned {type(result).__name__}; allowed: EvalResult")
    if result.status not in ("ok", "failed"):
        return EvalResult.failed(f"evaluator {name} returned status {result.status!r}; allowed: ok, failed")
    if result.status != "ok":
        return result
    if not isinstance(result.metrics, dict) or not all(isinstance(k, str) for k in result.metrics):
        keys = list(result.metrics)[:8] if isinstance(result.metrics, dict) else type(result.metrics).__name__
        return EvalResult.failed(f"evaluator {name} returned metrics with keys {keys!r}; allowed: a dict of metric "
                                 "names (strings) to numbers", result.wall_time_s)
    allowed = {*evaluator.metrics, TEST_METRIC}
    missing = [m for m in evaluator.metrics if m not in result.metrics]
    extra = [m for m in result.metrics if m not in allowed]
    if missing or extra:
        return EvalResult.failed(f"evaluator {name} returned metrics {sorted(result.metrics)}; declared: "
                                 f"{list(evaluator.metrics)}" + (f" (missing {missing})" if missing else "")
                                 + (f" (undeclared {extra})" if extra else ""), result.wall_time_s)
    metrics = {}
    for key, value in result.metrics.items():
        try:
            number = float(value) if not isinstance(value, bool | np.bool_) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            return EvalResult.failed(f"evaluator {name} returned {key} = {value!r}; allowed: a number",
                                     result.wall_time_s)
        if key != TEST_METRIC and not math.isfinite(number):
            return EvalResult.failed(f"evaluator {name} returned {key} = {number}; allowed: a finite number",
                                     result.wall_time_s)
        low, high = METRIC_RANGES.get(key, (-math.inf, math.inf))
        if not low <= number <= high and not (key == TEST_METRIC and math.isnan(number)):
            return EvalResult.failed(f"evaluator {name} returned {key} = {number}; allowed: {low:g}..{high:g} "
                                     f"({key} is a share of misclassified examples)", result.wall_time_s)
        metrics[key] = number
    result.metrics = metrics
    return result


# ----------------------------------------------------------------------------- registry
EvaluatorFactory = Callable[..., Evaluator]


@dataclass(frozen=True)
class EvaluatorTraits:
    """What an evaluator kind needs and gives, declared on its factory (:func:`evaluator_kind`) so that a
    campaign checks them before building it (a factory may train for minutes, as the supernet's does).

    Attributes:
        needs_task: the factory takes the campaign's loaded task (``[task]`` data); else it gets None.
        needs_network: it evaluates networks: refused on a space kind without one.
        surrogate_feature: its evaluator gives the ``supernet.surrogate_feature`` hook.
    """

    needs_task: bool = False
    needs_network: bool = False
    surrogate_feature: bool = False


def evaluator_kind(**traits: bool) -> Callable[[EvaluatorFactory], EvaluatorFactory]:
    """Declare an evaluator factory's :class:`EvaluatorTraits` (``@evaluator_kind(needs_task=True)``); a
    factory without the decorator needs nothing and gives no hook."""
    declared = EvaluatorTraits(**traits)

    def mark(factory: EvaluatorFactory) -> EvaluatorFactory:
        factory.traits = declared
        return factory

    return mark


def evaluator_traits(kind: str) -> EvaluatorTraits:
    """The traits the factory of ``kind`` declares (loads the factory)."""
    traits = getattr(EVALUATORS.get(kind), "traits", EvaluatorTraits())
    if not isinstance(traits, EvaluatorTraits):
        raise NascoError(f"evaluator.kind = {kind!r}: its factory's traits are {type(traits).__name__}; allowed: "
                         "EvaluatorTraits (declare them with nasco.evo.search.evaluators.evaluator_kind)")
    return traits

# Built-ins by import path, so that validating a config does not import torch (the trainer's).
BUILTIN_EVALUATORS = {
    "train": "nasco.evo.search.builtin_evaluators:train_evaluator",
    "supernet": "nasco.evo.search.supernet_evaluator:supernet_evaluator",
    "table": "nasco.evo.search.table_evaluator:table_evaluator",
    "python": "nasco.evo.search.python_evaluator:python_evaluator",
}
EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator.kind", "nasco.evaluators", BUILTIN_EVALUATORS)


def register_evaluator(kind: str, factory: EvaluatorFactory) -> None:
    """Make ``[evaluator] kind = "<kind>"`` build evaluators with ``factory(config, layout, task)``."""
    EVALUATORS.register(kind, factory)


def evaluator_kinds() -> list[str]:
    return EVALUATORS.names()


def make_evaluator(config: Any, layout: SpaceLayout, task: Any) -> Evaluator:
    """The evaluator ``config.evaluator.kind`` names (registered, installed or an import path), bound to
    ``layout``."""
    kind = config.evaluator.kind
    evaluator = EVALUATORS.get(kind)(config, layout, task)
    if not isinstance(evaluator, Evaluator):
        raise NascoError(f"evaluator.kind = {kind!r}: its factory returned {type(evaluator).__name__}; allowed: an "
                         "Evaluator (nasco.evo.search.evaluators.Evaluator)")
    evaluator.bind(layout)
    return evaluator


def kind_options(config: Any, options_class: type) -> Any:
    """A plugin kind's ``[evaluator] options`` as its own dataclass ``options_class`` (defaults for keys
    not given; the dataclass's ``__post_init__`` may check values).

    Raises:
        NascoError: an unknown key (naming the allowed ones) or a value the dataclass refuses.
    """
    given = dict(config.evaluator.options)
    allowed = [f.name for f in dataclasses.fields(options_class)]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise NascoError(f"evaluator.options: unknown key(s) {unknown} for kind {config.evaluator.kind!r}; allowed: "
                         f"{', '.join(allowed)}")
    try:
        return options_class(**given)
    except (TypeError, ValueError) as err:
        raise NascoError(f"evaluator.options of kind {config.evaluator.kind!r}: {err}") from None
