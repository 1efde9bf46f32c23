"""Contract kits for what users write (like scikit-learn's ``check_estimator``): run one on your own
kind in a test, and it says every way it breaks the contract the campaign relies on.

>>> from nasco.evo.testing import check_evaluator
>>> check_evaluator(MyEvaluator(), layout)   # raises ContractError listing what is wrong

The suite runs the same checks over every built-in evaluator (tests/test_contract_kits.py).
"""

from __future__ import annotations

import json
import math
import pickle

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import TEST_METRIC, EvalResult, Evaluator, check_result
from nasco.evo.space.base import SpaceLayout


class ContractError(NascoError, AssertionError):
    """A kind breaks its contract: the message lists every problem found, one per line."""


def check_evaluator(evaluator: Evaluator, layout: SpaceLayout, genomes: np.ndarray | None = None, *,
                    fidelity: int = 1, seed: int = 0, deterministic: bool = True) -> list[EvalResult]:
    """Check that ``evaluator`` keeps the :class:`~nasco.evo.search.evaluators.Evaluator` contract on
    ``layout``.

    Checked: ``bind`` accepts the layout (called here unless the evaluator is bound to it already);
    ``metrics`` are distinct names and ``cheap`` names are distinct from them; ``task_name()`` is
    text of 1–32 UTF-8 bytes; ``describe()`` is a JSON-ready dict; ``cheap_values`` gives finite
    float (N, len(cheap)); ``evaluate`` gives one valid, ``ok`` result per genome with every declared
    metric; the evaluator survives pickling (worker processes receive it pickled); with
    ``deterministic``, the same genomes and seeds give the same metrics again, one at a time as in
    one batch, and from a pickled copy.

    Args:
        genomes: canonical genomes (N, G) to evaluate; default: four sampled from ``layout`` with ``seed``.
        fidelity: the fidelity passed to ``evaluate`` (for nasco's trainer: epochs; keep it small).
        deterministic: also check repeatability (set False for an evaluator that is noisy by design).

    Returns:
        The results of the first evaluation, one per genome.

    Raises:
        ContractError: listing every problem found.
    """
    problems: list[str] = []
    name = type(evaluator).__name__
    if evaluator.layout is not layout:  # bind is called once (a campaign's plan may have bound it already)
        evaluator.bind(layout)
    metrics, cheap = tuple(evaluator.metrics), tuple(evaluator.cheap)
    if not metrics or not all(isinstance(m, str) and m for m in metrics) or len(set(metrics)) != len(metrics):
        problems.append(f"metrics = {metrics!r}; allowed: a non-empty tuple of distinct names")
    if TEST_METRIC in metrics:
        problems.append(f"metrics include {TEST_METRIC!r}; allowed: it is added by a test evaluation, not declared")
    if not all(isinstance(m, str) and m for m in cheap) or len(set(cheap)) != len(cheap) or set(cheap) & set(metrics):
        problems.append(f"cheap = {cheap!r}; allowed: distinct names, none of them a metric")
    task = evaluator.task_name()
    if not isinstance(task, str) or not 1 <= len(task.encode()) <= 32:
        problems.append(f"task_name() = {task!r}; allowed: text of 1 to 32 UTF-8 bytes (the archive's task id)")
    try:
        description = evaluator.describe()
        if not isinstance(description, dict):
            problems.append(f"describe() returned {type(description).__name__}; allowed: a dict")
        json.dumps(description)
    except (TypeError, ValueError) as err:
        problems.append(f"describe() is not JSON-ready: {err}")
    if genomes is None:
        genomes = layout.canonicalize(layout.sample(np.random.default_rng(seed), 4))
    genomes = np.asarray(genomes, dtype=np.int64)
    seeds = np.arange(seed, seed + len(genomes), dtype=np.int64)
    problems += _check_cheap(evaluator, genomes, cheap)
    results = evaluator.evaluate(genomes, fidelity, seeds)
    problems += _check_results(evaluator, results, len(genomes), "evaluate")
    try:
        clone = pickle.loads(pickle.dumps(evaluator))
    except Exception as err:
        problems.append(f"pickling failed ({type(err).__name__}: {err}); worker processes receive evaluators "
                        "pickled: keep open files, locks and lambdas out of the evaluator's attributes")
        clone = None
    if deterministic and not problems:
        again = evaluator.evaluate(genomes, fidelity, seeds)
        problems += _compare(results, again, "evaluating the same genomes and seeds again")
        singles = [r for g, s in zip(genomes, seeds, strict=True) for r in evaluator.evaluate(g[None], fidelity,
                                                                                            np.array([s]))]
        problems += _compare(results, singles, "evaluating the genomes one at a time")
        if clone is not None:  # as a worker process receives it: bound, then pickled
            problems += _compare(results, clone.evaluate(genomes, fidelity, seeds), "a pickled copy")
    if problems:
        raise ContractError(f"evaluator {name} breaks the contract:\n- " + "\n- ".join(problems))
    return list(results)


def _check_cheap(evaluator: Evaluator, genomes: np.ndarray, cheap: tuple[str, ...]) -> list[str]:
    try:
        values = np.asarray(evaluator.cheap_values(genomes))
    except Exception as err:
        return [f"cheap_values raised {type(err).__name__}: {err}"]
    if values.shape != (len(genomes), len(cheap)):
        return [f"cheap_values gave shape {values.shape}; allowed: ({len(genomes)}, {len(cheap)})"]
    if not np.issubdtype(values.dtype, np.number) or not np.all(np.isfinite(values)):
        return ["cheap_values gave values that are not finite numbers"]
    return []


def _check_results(evaluator: Evaluator, results, n: int, what: str) -> list[str]:
    if not isinstance(results, list | tuple) or len(results) != n:
        got = f"{len(results)} results" if isinstance(results, list | tuple) else type(results).__name__
        return [f"{what} returned {got} for {n} genomes; allowed: one EvalResult per genome"]
    problems = []
    for i, result in enumerate(results):
        checked = check_result(evaluator, result)
        if checked.status != "ok":
            problems.append(f"{what}: genome {i}: {checked.reason or 'status ' + checked.status}")
    return problems


def _compare(first, second, what: str) -> list[str]:
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        for metric, value in a.metrics.items():
            other = b.metrics.get(metric, math.nan)
            if not (value == other or (math.isnan(value) and math.isnan(other))):
                return [f"{what} changed genome {i}'s {metric} from {value!r} to {other!r}; allowed: the same "
                        "(a result is a function of the genome, the fidelity and the seed — or pass "
                        "deterministic=False)"]
    return []
