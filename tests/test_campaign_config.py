"""Campaign configuration: defaults, the example file, and every kind of bad input."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from campaign_helpers import tiny_config, write_config

from nasco.archive import HDF5Archive
from nasco.evo.cli.main import main
from nasco.evo.search.campaign import RESULT_COLUMNS
from nasco.evo.search.config import CampaignConfig, ConfigError, config_from_dict, example_config, load_config
from nasco.evo.search.context import CampaignContext
from nasco.evo.search.progress import CampaignMonitor
from nasco.evo.search.run_folder import prepare_run_folder
from nasco.evo.space.default import default_space
from nasco.evo.space.layout import compile_space
from nasco.evo.train.datasets import DatasetError
from nasco.kernels.tables import COST_NAMES


def test_example_config_documents_every_field_and_loads_as_the_defaults(tmp_path):
    text = example_config()
    data = tomllib.loads(text)
    assert config_from_dict(data) == CampaignConfig()
    for section, fields in CampaignConfig().to_dict().items():
        assert f"[{section}]" in text
        for name in fields:
            line = text.index(f"\n{name} = ", text.index(f"[{section}]"))
            assert text[:line].rstrip().rsplit("\n", 1)[1].startswith("# "), name
    assert main(["init", str(tmp_path / "c.toml")]) == 0
    assert load_config(tmp_path / "c.toml") == CampaignConfig()
    assert main(["init", str(tmp_path / "c.toml")]) == 2  # exists: refused without --force


@pytest.mark.parametrize(("data", "message"), [
    ({"search": {"populaton": 8}}, "unknown key in [search] 'populaton'; did you mean 'population'?"),
    ({"serach": {}}, "unknown section 'serach'; did you mean 'search'?"),
    ({"search": {"population": "8"}}, "search.population: '8' has the wrong type; expected int"),
    ({"training": {"lr": True}}, "training.lr: True has the wrong type; expected float"),
    ({"objectives": {"names": ["error", "latency_ms"]}}, "unknown objective 'latency_ms'"),
    ({"objectives": {"names": ["bitops", "macs"]}}, "including error"),
    ({"search": {"population": 2}}, "search.population: 2 is not allowed; allowed: integers 4..100,000"),
    ({"executor": {"kind": "slurm"}}, "executor.kind: 'slurm' is not allowed; allowed: local, ray"),
    ({"training": {"final_epochs": 4}}, "training.final_epochs: 4 is not allowed"),
    ({"search": {"surrogate_families": ["gp", "svm"]}}, "search.surrogate_families"),
    ({"search": {"inner_exploration": 1.5}}, "search.inner_exploration: 1.5 is not allowed; allowed: numbers in"),
    ({"search": {"inner_kappa": -1.0}}, "search.inner_kappa: -1.0 is not allowed"),
    ({"search": {"mlp_min_records": -1}}, "search.mlp_min_records: -1 is not allowed"),
    ({"search": {"proposal": "inner", "inner_family": "svm"}}, "search.inner_family: 'svm' is not allowed; allowed: "
                                                               "auto, ensemble, gp"),
])
def test_bad_values_name_the_field_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    assert message in str(err.value)


def test_the_mlp_joins_the_surrogate_families_by_archive_size():
    search = CampaignConfig().search
    assert search.families_for(449) == ["gp", "trees", "rbf", "ensemble"]
    assert search.families_for(450) == ["gp", "trees", "rbf", "ensemble", "mlp"]
    never = config_from_dict({"search": {"mlp_min_records": 0}}).search
    assert never.families_for(10_000) == ["gp", "trees", "rbf", "ensemble"]
    listed = config_from_dict({"search": {"surrogate_families": ["mlp", "gp"]}}).search
    assert listed.families_for(10) == ["mlp", "gp"]  # listed by the user: from the start, once


def test_the_inner_search_optimises_its_own_family_unless_auto():
    inner = config_from_dict({"search": {"proposal": "inner"}}).search
    assert inner.families_for(10, "inner") == inner.families_for(10_000, "inner") == ["gp"]
    assert inner.families_for(450, "screen") == ["gp", "trees", "rbf", "ensemble", "mlp"]
    trees = config_from_dict({"search": {"proposal": "inner", "inner_family": "trees"}}).search
    assert trees.families_for(500, "inner") == ["trees"]
    auto = config_from_dict({"search": {"proposal": "inner", "inner_family": "auto"}}).search
    assert auto.families_for(450, "inner") == CampaignConfig().search.families_for(450)


def test_the_auto_proposal_is_inner_unless_the_surrogate_feature_makes_each_prediction_cost():
    auto = CampaignConfig().search
    assert auto.proposal == "auto"
    assert auto.proposal_for() == "inner"  # tables and network spaces (bench_search_table, _proposals)
    assert auto.proposal_for(surrogate_feature=True) == "screen"  # the feature costs an inheritance per genome
    for chosen in ("screen", "inner"):
        explicit = config_from_dict({"search": {"proposal": chosen}}).search
        assert explicit.proposal_for() == explicit.proposal_for(surrogate_feature=True) == chosen


def test_bad_toml_and_missing_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[search\npopulation = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def _context(tmp_path, **sections):
    config = tiny_config(tmp_path / "run", **sections)
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    monitor = CampaignMonitor(__import__("rich.console").console.Console(quiet=True), folder / "log.txt", 1)
    with HDF5Archive(folder / "archive.h5", "a", columns=RESULT_COLUMNS) as archive:
        return CampaignContext.create(config, folder, archive, monitor)


def test_constraint_no_genome_can_meet_is_refused_before_training_with_the_cheapest_value(tmp_path):
    layout = compile_space(default_space((1, 8, 8), 10))
    candidates = np.vstack([layout.cheapest(), layout.sample(np.random.default_rng(0), 20_000)])
    cheapest = layout.costs(candidates).min(axis=0)
    size_kb = cheapest[COST_NAMES.index("size_bits")] / 8192
    with pytest.raises(ConfigError) as err:
        _context(tmp_path, constraints={"max_size_kb": size_kb * 0.5})
    assert "constraints.max_size_kb" in str(err.value) and f"{size_kb:.6g}" in str(err.value)
    ctx = _context(tmp_path, constraints={"max_size_kb": size_kb * 3})
    costs = np.array([[*cheapest, np.nan], [*cheapest * 100, np.nan]])  # latency: NaN without a table
    assert ctx.feasible(costs).tolist() == [True, False]


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="download"):
        _context(tmp_path, task={"dataset": "fashion-mnist", "root": str(tmp_path / "nowhere")})


def test_run_folder_holding_another_campaign_is_refused_unless_force(tmp_path, capsys):
    folder = tmp_path / "run"
    config = tiny_config(folder)
    prepare_run_folder(folder, config, resume=False, force=False)
    other = config.replace("search", population=12)
    with pytest.raises(ConfigError, match=r"another config \(search.population: 8 → 12; stored → given\)"):
        prepare_run_folder(folder, other, resume=False, force=False)
    # --resume with an edited config used to continue silently with the stored one: now every
    # difference is named and nothing runs; only [executor] may change.
    edited = other.replace("training", epochs=3)
    with pytest.raises(ConfigError, match=r"search.population: 8 → 12; training.epochs: 1 → 3; .*nasco resume"):
        prepare_run_folder(folder, edited, resume=True, force=False)
    assert prepare_run_folder(folder, config.replace("executor", num_cpus=2.0), resume=True,
                              force=False).executor.num_cpus == 2.0
    (folder / "log.txt").write_text("old")
    assert prepare_run_folder(folder, other, resume=False, force=True).search.population == 12
    assert not (folder / "log.txt").exists()
    path = write_config(tmp_path / "c.toml", config)
    assert main(["run", str(path)]) == 2
    assert "another config" in capsys.readouterr().err
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="not empty and holds no campaign"):
        prepare_run_folder(tmp_path / "stray", config, resume=False, force=False)
    with pytest.raises(ConfigError, match="no campaign to resume"):
        prepare_run_folder(tmp_path / "empty", None, resume=True, force=False)
