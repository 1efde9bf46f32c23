"""Contract kits for what users write (like scikit-learn's ``check_estimator``): run one on your own
kind in a test, and it says every way it breaks the contract the campaign relies on.

>>> from nasco.evo.testing import check_evaluator, check_space_kind
>>> check_evaluator(MyEvaluator(), layout)   # raises ContractError listing what is wrong
>>> check_space_kind(MyKind(), {"kind": "mine", ...})  # a space of the kind, as its TOML table
>>> check_executor(lambda evaluator: MyExecutor(evaluator))

The suite runs the same checks over every built-in evaluator, space kind and executor
(tests/test_contract_kits.py).
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import TEST_METRIC, EvalJob, EvalResult, Evaluator, check_result
from nasco.evo.search.executors import Executor, run_jobs
from nasco.evo.space.base import SpaceKind, SpaceLayout


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


def check_space_kind(kind: SpaceKind, data: dict, *, n: int = 64, seed: int = 0) -> SpaceLayout:
    """Check that ``kind`` keeps the :class:`~nasco.evo.space.base.SpaceKind` contract on the space that
    ``data`` (its TOML table) declares.

    Checked: the kind has a name; ``from_dict`` gives a space with a text ``space_id`` whose
    ``to_dict()`` is JSON-ready and reads back to the same id; ``compile`` gives a layout of the kind's
    ``network`` flag with distinct gene names, each with choices; ``sample`` gives int64 (n, G)
    canonical genomes within the bounds; ``canonicalize`` is idempotent on any in-bounds genomes and
    ``hash`` is 16 hex digits, equal for a genome and its canonical form and stable after pickling;
    ``costs`` (N, len(cost_names)) and ``features`` (N, F) are finite and the same genome by genome as
    in one batch; ``gene_values`` names every gene; a network kind's ``exact_costs`` are non-negative
    int64 (N, 5), its genomes decode and it names its layers.

    Returns:
        The compiled layout.

    Raises:
        ContractError: listing every problem found.
    """
    problems: list[str] = []
    if not isinstance(kind.name, str) or not kind.name:
        problems.append(f"name = {kind.name!r}; allowed: a non-empty name (the [space] kind it answers)")
    space = kind.from_dict(dict(data))
    space_id = getattr(space, "space_id", None)
    if not isinstance(space_id, str) or not space_id:
        problems.append(f"space_id = {space_id!r}; allowed: non-empty text (the archive's space id)")
    try:
        written = space.to_dict()
        json.dumps(written)
        again = getattr(kind.from_dict(dict(written)), "space_id", None)
        if again != space_id:
            problems.append(f"from_dict(to_dict()) has space_id {again!r}, not {space_id!r}; allowed: the same space")
    except (TypeError, ValueError, NascoError) as err:
        problems.append(f"to_dict() does not read back: {type(err).__name__}: {err}")
    layout = kind.compile(space)
    if bool(layout.network) != bool(kind.network):
        problems.append(f"layout.network = {layout.network} but kind.network = {kind.network}; allowed: equal")
    names, choices = tuple(layout.gene_names), tuple(layout.gene_choices)
    if not names or len(set(names)) != len(names) or len(choices) != len(names) or not all(len(c) for c in choices):
        problems.append(f"genes: {len(names)} names ({len(set(names))} distinct), {len(choices)} choice lists; "
                        "allowed: ≥ 1 distinct names, each with ≥ 1 choice")
    if problems:
        raise ContractError(f"space kind {kind.name!r} breaks the contract:\n- " + "\n- ".join(problems))
    rng = np.random.default_rng(seed)
    genomes = layout.sample(rng, n)
    bounds = layout.upper_bounds
    if genomes.dtype != np.int64 or genomes.shape != (n, len(names)):
        problems.append(f"sample gave {genomes.dtype} {genomes.shape}; allowed: int64 ({n}, {len(names)})")
    elif np.any(genomes < 0) or np.any(genomes >= bounds):
        problems.append("sample gave genes out of their bounds (0 .. choices − 1)")
    elif not np.array_equal(layout.canonicalize(genomes), genomes):
        problems.append("sample gave genomes that are not canonical")
    raw = rng.integers(0, bounds, size=(n, len(names)), dtype=np.int64)
    canonical = layout.canonicalize(raw)
    if not np.array_equal(layout.canonicalize(canonical), canonical):
        problems.append("canonicalize is not idempotent (canonicalising a canonical genome changed it)")
    hashes = [layout.hash(g) for g in raw]
    if not all(isinstance(h, str) and len(h) == 16 and all(ch in "0123456789abcdef" for ch in h) for h in hashes):
        problems.append(f"hash gave {hashes[0]!r}; allowed: 16 hex digits")
    if hashes != [layout.hash(g) for g in canonical]:
        problems.append("hash differs between a genome and its canonical form")
    try:
        if [pickle.loads(pickle.dumps(layout)).hash(g) for g in canonical] != hashes:
            problems.append("a pickled copy of the layout hashes genomes differently")
    except Exception as err:
        problems.append(f"pickling the layout failed ({type(err).__name__}: {err}); evaluators carry it to workers")
    problems += _check_matrix("costs", layout.costs, canonical, len(layout.cost_names))
    problems += _check_matrix("features", layout.features, canonical, None)
    values = layout.gene_values(canonical[0])
    if list(values) != list(names):
        problems.append(f"gene_values names {list(values)[:6]}; allowed: every gene in order {list(names)[:6]}")
    if layout.network:
        exact = layout.exact_costs(canonical)
        if exact.dtype != np.int64 or exact.shape != (n, 5) or np.any(exact < 0):
            problems.append(f"exact_costs gave {exact.dtype} {exact.shape}; allowed: non-negative int64 ({n}, 5)")
        layout.decode(canonical[0])
        if not layout.layer_names:
            problems.append("layer_names is empty; allowed: every weight layer a network of the space can have")
    if problems:
        raise ContractError(f"space kind {kind.name!r} breaks the contract:\n- " + "\n- ".join(problems))
    return layout


def _check_matrix(what: str, method, genomes: np.ndarray, columns: int | None) -> list[str]:
    """Problems of a per-genome matrix method: shape, finiteness, batch == genome by genome."""
    batch = np.asarray(method(genomes), dtype=np.float64)
    if batch.ndim != 2 or batch.shape[0] != len(genomes) or (columns is not None and batch.shape[1] != columns):
        width = columns if columns is not None else "F"
        return [f"{what} gave shape {batch.shape}; allowed: ({len(genomes)}, {width})"]
    if not np.all(np.isfinite(batch)):
        return [f"{what} gave values that are not finite"]
    single = np.vstack([np.asarray(method(g[None]), dtype=np.float64) for g in genomes[:8]])
    if not np.allclose(single, batch[:8], rtol=1e-9, atol=1e-12):
        return [f"{what} of a genome alone differs from the same genome in a batch"]
    return []


PROBE_GENES = {"a": list(range(6)), "b": list(range(6))}


class ProbeEvaluator(Evaluator):
    """The evaluator :func:`check_executor` runs: error = (a + b + seed mod 7) / 100, and a raised
    ``ValueError`` for the genome (0, 0) (an executor must turn it into a failed result)."""

    metrics = ("error",)

    def task_name(self) -> str:
        return "probe"

    def evaluate(self, genomes, fidelity, seeds, *, test=False):
        if any(not g.any() for g in genomes):
            raise ValueError("the probe fails genome (0, 0) on purpose")
        return [EvalResult({"error": (int(g.sum()) + int(s) % 7) / 100}) for g, s in zip(genomes, seeds, strict=True)]


def check_executor(make: Callable[[Evaluator], Executor], *, n_jobs: int = 12) -> None:
    """Check that the executors ``make(evaluator)`` builds keep the :class:`~nasco.evo.search.executors.
    Executor` contract, with :class:`ProbeEvaluator` on a two-gene space.

    Checked: every job comes back exactly once, with the result the evaluator gives it in this
    process; a genome whose evaluation raises comes back failed, naming the error, and the others ok;
    with ``stop()`` true from the start, not every job runs; ``close`` releases the executor.

    Raises:
        ContractError: listing every problem found.
    """
    from nasco.evo.space.genes import GenesKind

    layout = GenesKind().compile(GenesKind().from_dict({"kind": "genes", "genes": PROBE_GENES}))
    evaluator = ProbeEvaluator()
    evaluator.bind(layout)
    genomes = layout.canonicalize(np.random.default_rng(0).integers(1, 6, size=(n_jobs, 2)))
    genomes[0] = 0
    jobs = [EvalJob(g, 100 + i, fidelity=2) for i, g in enumerate(genomes)]
    expected = {i: run_jobs(evaluator, [job])[0] for i, job in enumerate(jobs)}
    problems: list[str] = []
    executor = make(evaluator)
    try:
        seen: list[int] = []
        try:
            outcomes = list(executor.run(jobs, lambda: False))
        except Exception as err:
            outcomes = []
            problems.append(f"run raised {type(err).__name__}: {err}; allowed: a failed result for the job whose "
                            "evaluation raised (run evaluators through evaluate_safely or run_jobs)")
        for job, result in outcomes:
            index = next((i for i, j in enumerate(jobs) if j is job or (j.seed == job.seed and
                                                                         np.array_equal(j.genome, job.genome))), -1)
            if index < 0:
                problems.append(f"run yielded a job that was not asked (seed {job.seed})")
                continue
            seen.append(index)
            want = expected[index]
            if result.status != want.status or result.metrics != want.metrics:
                problems.append(f"job {index}: {result.status} {result.metrics} {result.reason[:80]!r}; the "
                                f"evaluator gives {want.status} {want.metrics} in this process")
            elif result.status == "failed" and "ValueError" not in result.reason:
                problems.append(f"job {index} failed without naming the error: {result.reason[:120]!r}")
        if sorted(seen) != list(range(len(jobs))):
            missing = sorted(set(range(len(jobs))) - set(seen))
            twice = sorted({i for i in seen if seen.count(i) > 1})
            problems.append(f"run yielded {len(seen)} results for {len(jobs)} jobs (missing {missing[:6]}, "
                            f"repeated {twice[:6]}); allowed: each job once")
        try:
            stopped = list(executor.run(jobs, lambda: True))
        except Exception:  # said above when run raises; here only whether stop() is honoured matters
            stopped = []
        if len(stopped) >= len(jobs):
            problems.append(f"with stop() true from the start, {len(stopped)} of {len(jobs)} jobs ran; allowed: "
                            "no new job starts once stop() is true")
    finally:
        executor.close()
    if problems:
        raise ContractError(f"executor {type(executor).__name__} breaks the contract:\n- " + "\n- ".join(problems))
