"""One registry style (nasco.evo.registry): registered names, installed entry points and import paths, for
evaluators, executors and space kinds alike; capabilities a kind declares instead of tests of its name."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from nasco.evo.errors import NascoError, SpaceError
from nasco.evo.registry import EntryError, Registry

KINDS = '''
"""Scratch kinds: a space kind, an executor and a network model entry that is not one."""
from nasco.evo.search.executors import Executor, run_jobs
from nasco.evo.space.genes import GenesKind, GenesSpace


class GridKind(GenesKind):
    """A genes kind whose default space is a 5 x 4 grid, whatever the task."""

    name = "grid"

    def default_for(self, task):
        return GenesSpace((("x", tuple(range(5))), ("y", tuple(range(4)))), name="grid")


class Serial(Executor):
    def run(self, jobs, stop):
        for job in jobs:
            if stop():
                return
            yield job, run_jobs(self.evaluator, [job])[0]


def serial(evaluator, section):
    return Serial(evaluator)


def not_an_executor(evaluator, section):
    return "serial"


class ModellessSpace(GenesSpace):
    kind = "modelless"


class Modelless(GenesKind):
    """A kind whose ``model`` names something that is no NetworkKind."""

    name = "modelless"
    model = "scratch_kinds:serial"


import numpy as np
from nasco.surrogate import Predictor
from nasco.evo.search.strategies import Proposal

CALLS = {"fit": 0, "propose": 0}


class Nearest(Predictor):
    """A 1-nearest-neighbour surrogate (a plugin family)."""

    name = "nearest"
    min_records = 4

    def _fit(self, X, y):
        CALLS["fit"] += 1
        self.X_, self.y_ = X, y

    def _predict(self, X):
        d = ((X[:, None, :] - self.X_[None, :, :]) ** 2).sum(axis=2)
        return self.y_[d.argmin(axis=1)], np.sqrt(d.min(axis=1))


class Greedy(Proposal):
    """Picks the admissible asked genomes of lowest predicted error (a plugin proposal)."""

    name = "greedy"

    def propose(self, model, inputs, helper):
        CALLS["propose"] += 1
        mean, _ = model.predict(helper.features(inputs.genomes))
        order = np.argsort(np.where(inputs.feasible & ~inputs.exclude, mean, np.inf), kind="stable")
        ok = (inputs.feasible & ~inputs.exclude)[order]
        return inputs.genomes, np.sort(order[ok][:inputs.k]), mean


class Hoarder(Greedy):
    """Picks every asked genome, known ones included (a faulty plugin)."""

    name = "hoarder"

    def propose(self, model, inputs, helper):
        genomes, _, mean = super().propose(model, inputs, helper)
        return genomes, np.arange(len(genomes)), mean
'''


@pytest.fixture()
def scratch(tmp_path, monkeypatch):
    """A scratch package on sys.path, installed with entry points (a dist-info folder beside it)."""
    (tmp_path / "scratch_kinds.py").write_text(textwrap.dedent(KINDS))
    info = tmp_path / "scratch_kinds-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: scratch-kinds\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nasco.space_kinds]\ngridded = scratch_kinds:GridKind\n\n"
                                           "[nasco.executors]\nserial = scratch_kinds:serial\n\n"
                                           "[nasco.surrogate_families]\nnearest = scratch_kinds:Nearest\n\n"
                                           "[nasco.proposals]\ngreedy = scratch_kinds:Greedy\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from nasco.evo.search.evaluators import EVALUATORS
    from nasco.evo.search.executors import EXECUTORS
    from nasco.evo.search.strategies import PROPOSALS, SURROGATE_FAMILIES
    from nasco.evo.space.kinds import SPACE_KINDS
    from nasco.surrogate import FAMILIES

    for registry in (EVALUATORS, EXECUTORS, PROPOSALS, SURROGATE_FAMILIES, SPACE_KINDS):  # forget the plugins after
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
        monkeypatch.setattr(registry, "_loaded", dict(registry._loaded))
    families = dict(FAMILIES)
    yield tmp_path
    FAMILIES.clear()
    FAMILIES.update(families)


def test_a_registry_finds_registered_names_then_import_paths_and_names_what_is_allowed():
    registry = Registry("thing.kind", "nasco.no_such_group", {"json": "json:dumps", "one": 1})
    assert registry.names() == ["json", "one"]
    assert registry.get("one") == 1
    import json

    assert registry.get("json") is json.dumps  # a built-in by import path, loaded on first use
    assert registry.get("math:sqrt")(9.0) == 3.0  # a plugin by import path, not registered
    registry.register("two", 2)
    assert registry.get("two") == 2 and registry.allows("two") and registry.allows("pkg.mod:x")
    assert not registry.allows("three")
    with pytest.raises(NascoError, match=r"thing\.kind = 'three' is not allowed; allowed: json, one, two, or a "
                                         r"plugin's 'package\.module:attribute'"):
        registry.get("three")
    with pytest.raises(EntryError, match="cannot import module 'no_such_module'"):
        registry.get("no_such_module:x")


def test_installed_entry_points_reach_every_registry(scratch):
    from nasco.evo.search.executors import EXECUTORS, make_executor
    from nasco.evo.space.kinds import SPACE_KINDS, space_kind

    assert "gridded" in SPACE_KINDS.names() and "serial" in EXECUTORS.names()
    kind = space_kind("gridded")
    assert type(kind).__name__ == "GridKind" and space_kind("grid") is kind  # also under its own name
    assert kind.compile(kind.default_for(None)).n_genes == 2

    class Section:
        kind = "serial"

    assert type(make_executor(None, Section())).__name__ == "Serial"
    Section.kind = "scratch_kinds:not_an_executor"
    with pytest.raises(NascoError, match="its factory returned str; allowed: an Executor"):
        make_executor(None, Section())


def test_a_campaign_names_its_space_kind_and_executor_by_entry_point_or_import_path(scratch, tmp_path):
    from nasco.evo import run_campaign

    def bowl(candidate):
        x, y = candidate.genes["x"], candidate.genes["y"]
        return {"error": ((x - 2) ** 2 + (y - 1) ** 2) / 20, "cost": float(x + y)}

    for name, space, executor in (("installed", "gridded", "serial"),
                                  ("by-path", "scratch_kinds:GridKind", "scratch_kinds:serial")):
        result = run_campaign({"campaign": {"name": name, "out": str(tmp_path / name)}, "space": {"kind": space},
                               "objectives": {"names": ["error", "metric:cost"]}, "executor": {"kind": executor},
                               "evaluator": {"metrics": ["error", "cost"]},
                               "search": {"population": 4, "offspring": 4, "generations": 2, "surrogate": False,
                                          "screen_factor": 1},
                               "training": {"final_epochs": 0}}, evaluator=bowl)
        records = result.records
        assert len(records) >= 8 and np.isfinite(records.column("error")).all()  # evaluated through Serial
        assert len(set(records.column("genome_hash").tolist())) == len(records)
        assert records.genome_matrix().shape[1] == 2 and (records.genome_matrix().max(axis=0) <= [4, 3]).all()


def test_a_campaign_takes_its_surrogate_family_and_proposal_from_plugins(scratch, tmp_path):
    """Surrogate families and proposals follow the same registry style: an installed entry point's name or an
    import path in [search], checked at config validation, used by the campaign's surrogate."""
    import scratch_kinds

    from nasco.evo import run_campaign
    from nasco.evo.search.config import ConfigError, config_from_dict

    def bowl(candidate):
        x, y = candidate.genes["x"], candidate.genes["y"]
        return {"error": ((x - 2) ** 2 + (y - 1) ** 2) / 20, "cost": float(x + y)}

    base = {"space": {"kind": "gridded"}, "training": {"final_epochs": 0}, "evaluator": {"metrics": ["error", "cost"]},
            "objectives": {"names": ["error", "metric:cost"]}}
    search = {"population": 6, "offspring": 2, "generations": 3, "screen_factor": 3, "surrogate_min_records": 10}
    for name, family, proposal in (("installed", "nearest", "greedy"),
                                   ("by-path", "scratch_kinds:Nearest", "scratch_kinds:Greedy")):
        scratch_kinds.CALLS.update(fit=0, propose=0)
        result = run_campaign({**base, "campaign": {"name": name, "out": str(tmp_path / name)},
                               "search": {**search, "surrogate_families": [family], "proposal": proposal}},
                              evaluator=bowl)
        assert len(result.records) == 6 + 3 * 2
        assert scratch_kinds.CALLS["propose"] >= 1 and scratch_kinds.CALLS["fit"] >= scratch_kinds.CALLS["propose"]
    log = (tmp_path / "by-path" / "surrogate.jsonl").read_text()
    assert '"proposal": "greedy"' in log and '"family": "scratch_kinds:Nearest"' in log
    with pytest.raises(ConfigError, match=r"search\.surrogate_families.*'nope'.*nearest"):
        config_from_dict({"search": {"surrogate_families": ["gp", "nope"]}})
    with pytest.raises(ConfigError, match=r"search\.proposal: 'nope' is not allowed; allowed: auto, greedy, inner"):
        config_from_dict({"search": {"proposal": "nope"}})
    with pytest.raises(NascoError, match=r"surrogate_families.*names dict; allowed: a subclass of"):
        config_from_dict({"search": {"surrogate_families": ["scratch_kinds:CALLS"]}})
    with pytest.raises(NascoError, match=r"search\.proposal = 'hoarder' picked \d+ genomes"):
        run_campaign({**base, "campaign": {"name": "faulty", "out": str(tmp_path / "faulty")},
                      "search": {**search, "proposal": "scratch_kinds:Hoarder", "surrogate_families": ["nearest"]}},
                     evaluator=bowl)


def test_unknown_kinds_are_refused_by_config_validation_with_the_allowed_ones(scratch):
    from nasco.evo.search.config import ConfigError, config_from_dict

    for section in ("space", "executor", "evaluator"):
        with pytest.raises(ConfigError, match=rf"{section}\.kind: 'nope' is not allowed.*or a plugin's"):
            config_from_dict({section: {"kind": "nope"}})
    with pytest.raises(ConfigError, match="gridded"):  # installed kinds are listed among the allowed
        config_from_dict({"space": {"kind": "nope"}})


def test_a_network_kind_names_its_torch_model_in_one_place(scratch):
    from nasco.evo import compile_space, default_space
    from nasco.evo.space.kinds import space_kind
    from nasco.evo.train.models import MOBILENET, network_kind
    from nasco.evo.train.sequence_model import SEQUENCE_NETWORK as SEQUENCE

    assert space_kind("mobilenet").model == "nasco.evo.train.models:MOBILENET"
    assert network_kind(compile_space(default_space((1, 8, 8), 10))) is MOBILENET
    assert SEQUENCE.export_formats == ("float",) and MOBILENET.default_formats == ("packed",)
    assert space_kind("sequence").model == "nasco.evo.train.sequence_model:SEQUENCE_NETWORK"  # in its own module
    from scratch_kinds import ModellessSpace

    layout = space_kind("scratch_kinds:Modelless").compile(ModellessSpace((("x", (0, 1)),), name="m"))
    with pytest.raises(SpaceError, match=r"model = 'scratch_kinds:serial' is a function; allowed: a NetworkKind"):
        network_kind(layout)


def test_kind_features_replace_tests_of_kind_names(tmp_path):
    from nasco.evo.search.config import ConfigError, config_from_dict
    from nasco.evo.search.plan import plan_campaign
    from nasco.evo.space.kinds import space_kind

    assert space_kind("mobilenet").features == {"preprocess", "latency_table", "supernet"}
    assert space_kind("sequence").features == frozenset() and space_kind("genes").features == frozenset()
    config = config_from_dict({"space": {"kind": "genes", "genes": {"x": [1, 2, 3], "y": [1, 2]}},
                               "search": {"population": 4, "preprocess": True},
                               "objectives": {"names": ["error", "metric:cost"]},
                               "evaluator": {"metrics": ["error", "cost"]}, "campaign": {"out": str(tmp_path / "g")}})
    with pytest.raises(ConfigError, match=r"search\.preprocess: need a network space kind"):
        plan_campaign(config, evaluator=lambda genome: {"error": 0.1, "cost": float(np.sum(genome))})
