"""A plugin written only against the docs (README "Your own evaluation", docs/ARCHITECTURE.md §7), in a
scratch package outside the repository: a network-free evaluator kind with its own options, named by
import path, and a cost source used as an objective — run by ``nasco run`` from a TOML, checked by
the contract kit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import tomli_w

PLUGIN = '''
"""A scratch plugin: the error of a quadratic bowl with label noise of its own options."""
from dataclasses import dataclass

import numpy as np

from nasco.evo.search import EvalResult, Evaluator, kind_options


@dataclass(frozen=True)
class BowlOptions:
    centre: int = 3
    noise: float = 0.0

    def __post_init__(self):
        if not 0 <= self.noise < 0.5:
            raise ValueError(f"noise = {self.noise} is not allowed; allowed: 0 <= noise < 0.5")


class BowlEvaluator(Evaluator):
    metrics = ("error",)

    def __init__(self, options: BowlOptions) -> None:
        self.options = options

    def task_name(self) -> str:
        return f"bowl-c{self.options.centre}"

    def describe(self) -> dict:
        return {"evaluator": "bowl", "centre": self.options.centre, "noise": self.options.noise}

    def evaluate(self, genomes, fidelity, seeds, *, test=False):
        out = []
        for genome, seed in zip(genomes, seeds):
            values = self.layout.gene_values(genome)
            error = ((values["x"] - self.options.centre) ** 2 + (values["y"] - 2) ** 2) / 100
            error += self.options.noise * np.random.default_rng(int(seed)).random()
            out.append(EvalResult({"error": min(error, 1.0)}))
        return out


def bowl(config, layout, task):
    """The factory nasco calls: ``[evaluator] kind = "scratch_plugin:bowl"``."""
    return BowlEvaluator(kind_options(config, BowlOptions))


def wires(genes):
    """A cost source: wires of each genome, {gene: values (N,)} -> {cost: values (N,)}."""
    return {"wires": np.asarray(genes["x"], float) * 10 + np.asarray(genes["y"], float) + 1}
'''


def write_plugin(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scratch_plugin.py").write_text(textwrap.dedent(PLUGIN))


def settings(tmp_path, **options):
    return {"campaign": {"name": "bowl", "seed": 1, "out": str(tmp_path / "bowl")},
            "space": {"kind": "genes", "genes": {"x": list(range(8)), "y": list(range(6))},
                      "costs": "scratch_plugin:wires"},
            "objectives": {"names": ["error", "metric:wires"]},
            "search": {"population": 8, "offspring": 4, "generations": 2, "surrogate_min_records": 10,
                       "surrogate_families": ["trees"]},
            "training": {"final_epochs": 0},
            "evaluator": {"kind": "scratch_plugin:bowl", "options": options}}


def run_nasco(tmp_path, config):
    path = tmp_path / "bowl.toml"
    path.write_text(tomli_w.dumps(config))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "scratch")}
    return subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=300, env=env)


def test_a_scratch_plugin_runs_through_nasco_run_and_keeps_the_contract(tmp_path, monkeypatch):
    write_plugin(tmp_path / "scratch")
    done = run_nasco(tmp_path, settings(tmp_path, centre=5))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    from nasco.archive import HDF5Archive

    with HDF5Archive(tmp_path / "bowl" / "archive.h5") as archive:
        records = archive.table()
    assert len(records) == 8 + 2 * 4
    assert {t.decode() for t in records.rows["task_id"]} == {"bowl-c5"}
    genes = records.genome_matrix()
    assert records.column("error").tolist() == pytest.approx((((genes[:, 0] - 5) ** 2 + (genes[:, 1] - 2) ** 2)
                                                               / 100).tolist())
    assert records.column("wires").tolist() == pytest.approx((genes[:, 0] * 10 + genes[:, 1] + 1).tolist())

    monkeypatch.syspath_prepend(str(tmp_path / "scratch"))
    from nasco.evo.search.config import config_from_dict
    from nasco.evo.search.plan import plan_campaign
    from nasco.evo.testing import check_evaluator

    plan = plan_campaign(config_from_dict(settings(tmp_path / "again", centre=5)))
    check_evaluator(plan.evaluator, plan.layout)
    check_evaluator(plan_campaign(config_from_dict(settings(tmp_path / "n", noise=0.1))).evaluator, plan.layout)


@pytest.mark.parametrize(("options", "said"), [
    ({"centre": 5, "colour": "red"}, "evaluator.options: unknown key(s) ['colour'] for kind 'scratch_plugin:bowl'; "
                                     "allowed: centre, noise"),
    ({"noise": 0.7}, "noise = 0.7 is not allowed; allowed: 0 <= noise < 0.5")])
def test_a_plugin_refuses_its_bad_options_by_name(tmp_path, options, said):
    write_plugin(tmp_path / "scratch")
    done = run_nasco(tmp_path, settings(tmp_path, **options))
    assert done.returncode != 0
    assert said in done.stdout + done.stderr


def test_built_in_kinds_take_no_options(tmp_path):
    from nasco.evo.search.config import ConfigError, config_from_dict

    config = settings(tmp_path)
    config["evaluator"] = {"kind": "python", "entry": "x:y", "options": {"a": 1}}
    with pytest.raises(ConfigError, match="options only for plugin kinds"):
        config_from_dict(config)
