"""The contract kits of nasco.evo.testing: every built-in evaluator passes check_evaluator, and each
way a user's evaluator can break the contract is named."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest

from nasco.evo.search.config import config_from_dict
from nasco.evo.search.evaluators import EvalResult, Evaluator
from nasco.evo.search.plan import plan_campaign
from nasco.evo.testing import ContractError, check_evaluator, check_executor, check_space_kind

GENES = {"x": list(range(8)), "y": ["a", "b", "c"]}


def toy(candidate):
    return {"error": candidate.genes["x"] / 10 + {"a": 0.0, "b": 0.01, "c": 0.02}[candidate.genes["y"]],
            "cost": float(candidate.genes["x"] + 1)}


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch):
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))


def plan(tmp_path, evaluator: dict, **sections):
    base = {"campaign": {"name": "kit", "out": str(tmp_path / "kit")}, "space": {"kind": "genes", "genes": GENES},
            "objectives": {"names": ["error", "metric:cost"]}, "evaluator": evaluator, **sections}
    return plan_campaign(config_from_dict(base))


def test_table_evaluator_keeps_the_contract(tmp_path):
    path = tmp_path / "t.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "y", "error", "cost"])
        for x, y in itertools.product(*GENES.values()):
            writer.writerow([x, y, x / 10, x + 1])
    p = plan(tmp_path, {"kind": "table", "file": str(path), "entry": "", "metrics": ["error"], "cheap": ["cost"]})
    results = check_evaluator(p.evaluator, p.layout)
    assert len(results) == 4 and all(r.status == "ok" for r in results)


def test_python_evaluator_keeps_the_contract(tmp_path):
    p = plan(tmp_path, {"kind": "python", "entry": "test_contract_kits:toy", "metrics": ["error", "cost"]})
    check_evaluator(p.evaluator, p.layout, fidelity=3)


def test_train_evaluator_keeps_the_contract(tmp_path):
    import torch

    torch.set_num_threads(1)
    c = config_from_dict({"campaign": {"name": "kit", "out": str(tmp_path / "kit")},
                          "task": {"train_subset": 200}, "training": {"batch_size": 64}})
    p = plan_campaign(c)
    genomes = p.layout.canonicalize(p.layout.sample(np.random.default_rng(1), 2))
    results = check_evaluator(p.evaluator, p.layout, genomes, fidelity=1)
    assert all(0 <= r.metrics["error"] <= 1 for r in results)


class Broken(Evaluator):
    """An evaluator that breaks the contract in the way ``fault`` names."""

    metrics = ("error",)

    def __init__(self, fault: str) -> None:
        self.fault, self.calls = fault, 0
        if fault == "unpicklable":
            self.hook = lambda: None

    def task_name(self) -> str:
        return "a-task-name-far-longer-than-32-bytes" if self.fault == "task" else "broken"

    def evaluate(self, genomes, fidelity, seeds, *, test=False):
        self.calls += 1
        n = len(genomes) - (self.fault == "count")
        metrics = {"error": 0.1 + 0.01 * self.calls * (self.fault == "noisy")}
        if self.fault == "undeclared":
            metrics["loss"] = 1.0
        return [EvalResult(dict(metrics)) for _ in range(n)]


@pytest.mark.parametrize(("fault", "said"), [
    ("count", "returned 3 results for 4 genomes"), ("undeclared", "undeclared ['loss']"),
    ("noisy", "evaluating the same genomes and seeds again changed genome 0's error"),
    ("task", "task_name() = 'a-task-name-far-longer"), ("unpicklable", "pickling failed")])
def test_each_broken_contract_is_named(tmp_path, fault, said):
    p = plan(tmp_path, {"kind": "python", "entry": "test_contract_kits:toy", "metrics": ["error", "cost"]})
    with pytest.raises(ContractError, match="breaks the contract") as err:
        check_evaluator(Broken(fault), p.layout)
    assert said in str(err.value)
    check_evaluator(Broken("noisy"), p.layout, deterministic=False)  # noisy by design: declared, accepted


def builtin_space_tables() -> dict[str, dict]:
    from nasco.evo.space.default import default_space
    from nasco.evo.space.sequence import default_sequence_space

    return {"mobilenet": default_space().to_dict(), "sequence": default_sequence_space(32, 200, 4).to_dict(),
            "genes": {"kind": "genes", "genes": GENES}}


@pytest.mark.parametrize("name", ["mobilenet", "sequence", "genes"])
def test_every_builtin_space_kind_keeps_the_contract(name):
    from nasco.evo.space.kinds import SPACE_KINDS, space_kind

    assert sorted(SPACE_KINDS.builtins) == sorted(builtin_space_tables())  # a new built-in kind joins this test
    layout = check_space_kind(space_kind(name), builtin_space_tables()[name])
    assert layout.n_genes >= 2


def shift_genes(genomes):
    """A canonicalize that is not idempotent: it moves every gene on by one."""
    genomes = np.asarray(genomes, np.int64)
    return (genomes + 1) % np.array([len(v) for v in GENES.values()])


def test_a_broken_space_kind_is_named():
    from nasco.evo.space.genes import GenesKind

    class NotCanonical(GenesKind):
        name = "broken"

        def compile(self, space):
            layout = super().compile(space)
            layout.canonicalize = shift_genes
            return layout

    with pytest.raises(ContractError, match="space kind 'broken' breaks the contract") as err:
        check_space_kind(NotCanonical(), {"kind": "genes", "genes": GENES})
    assert "sample gave genomes that are not canonical" in str(err.value)
    assert "canonicalize is not idempotent" in str(err.value)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_keeps_the_contract(workers):
    from nasco.evo.search.executors import LocalExecutor

    check_executor(lambda evaluator: LocalExecutor(evaluator, workers=workers))


def test_ray_executor_keeps_the_contract():
    pytest.importorskip("ray")
    from nasco.evo.search.executors import RayExecutor

    check_executor(lambda evaluator: RayExecutor(evaluator, num_cpus=1, workers=2))


def test_a_broken_executor_is_named():
    from nasco.evo.search.executors import Executor, run_jobs

    class ForgetsTheLast(Executor):
        def run(self, jobs, stop):
            for job in jobs[:-1]:  # drops one job
                yield job, run_jobs(self.evaluator, [job])[0]

    class LetsErrorsOut(Executor):
        def run(self, jobs, stop):
            for job in jobs:  # the evaluator's exception escapes
                yield job, self.evaluator.evaluate(job.genome[None], job.fidelity, [job.seed])[0]

    with pytest.raises(ContractError, match="executor ForgetsTheLast breaks the contract") as err:
        check_executor(ForgetsTheLast)
    assert "11 results for 12 jobs (missing [11]" in str(err.value)
    with pytest.raises(ContractError, match="executor LetsErrorsOut breaks the contract") as err:
        check_executor(LetsErrorsOut)
    assert "run raised ValueError: the probe fails genome (0, 0) on purpose" in str(err.value)
