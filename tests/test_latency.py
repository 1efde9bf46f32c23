"""Latency look-up tables: exact key coverage, kernel vs reference, refusal of foreign tables, profiling."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from campaign_helpers import tiny_config

from nasco.archive import HDF5Archive
from nasco.evo import compile_space, default_space, sample_genomes
from nasco.evo.cli.main import main
from nasco.evo.latency.profile import deploy_model, profile
from nasco.evo.latency.table import LatencyError, LatencyTable, layer_configurations, slot_activations
from nasco.evo.search.campaign import Campaign
from nasco.evo.search.run_folder import prepare_run_folder
from nasco.evo.space.genome import decode
from nasco.evo.train.builder import ChannelMask
from nasco.kernels.latency import latency_reference, layer_key, pack_key, unpack_key
from nasco.kernels.tables import FLOAT_BITS, L_A_BITS, L_W_BITS


def _fake_table(layout, seed=0):
    keys = layer_configurations(layout)
    rng = np.random.default_rng(seed)
    return LatencyTable(layout.space.space_id, tuple(layout.space.input_shape), {"type": "cpu", "batch": 1,
                        "threads": 1, "name": "test", "torch": torch.__version__}, keys,
                        rng.uniform(5, 500, len(keys)), np.zeros(len(keys)), (30.0, 2.5))


def test_every_layer_of_random_genomes_is_in_the_enumerated_table(layout):
    keys = set(layer_configurations(layout).tolist())
    act = slot_activations(layout)
    seen = set()
    for genome in sample_genomes(layout, np.random.default_rng(0), 400):
        for row in decode(layout, genome).array:
            seen.add(layer_key(row, act))
    assert seen <= keys
    assert len(seen) >= 0.5 * len(keys)  # the enumeration is not padded with impossible layers


def test_key_packing_round_trips_and_refuses_overflow():
    fields = {"kind": 1, "act": 1, "kernel": 7, "stride": 2, "c_in": 960, "c_out": 960, "h": 112, "w": 112}
    assert unpack_key(pack_key(**fields)) == fields
    with pytest.raises(ValueError, match="c_in=9000 does not fit"):
        pack_key(**{**fields, "c_in": 9000})


def test_kernel_equals_python_sum_over_the_table(layout):
    table = _fake_table(layout)
    genomes = sample_genomes(layout, np.random.default_rng(1), 200)
    predicted = table.predict(layout, genomes)
    lut = dict(zip(table.keys.tolist(), table.median_us.tolist(), strict=True))
    act = slot_activations(layout)
    expected = [latency_reference(decode(layout, g).array, act, lut, table.overhead) for g in genomes]
    np.testing.assert_allclose(predicted, expected, rtol=1e-12)


def test_missing_entries_and_foreign_tables_are_refused(tmp_path):
    small = compile_space(default_space((1, 8, 8), 10))
    table = _fake_table(small)
    genome = sample_genomes(small, np.random.default_rng(2), 1)
    gap = LatencyTable(table.space_id, table.input_shape, table.device, table.keys[1:], table.median_us[1:],
                       table.spread_us[1:], table.overhead)
    first = unpack_key(int(table.keys[0]))
    layers_with_gap = sample_genomes(small, np.random.default_rng(3), 300)
    with pytest.raises(LatencyError, match="is not in the latency table") as err:
        gap.predict(small, layers_with_gap)
    assert str(first["c_in"]) in str(err.value)
    other = compile_space(default_space((1, 28, 28), 10))
    with pytest.raises(LatencyError, match="cannot serve space"):
        table.predict(other, sample_genomes(other, np.random.default_rng(0), 1))
    unfinished = _fake_table(small)
    unfinished.median_us[3] = np.nan
    with pytest.raises(LatencyError, match="1 unmeasured entries"):
        unfinished.predict(small, genome)
    for suffix in (".json", ".h5"):
        table.save(tmp_path / f"t{suffix}")
        loaded = LatencyTable.load(tmp_path / f"t{suffix}")
        np.testing.assert_array_equal(loaded.keys, table.keys)
        np.testing.assert_array_equal(loaded.median_us, table.median_us)
        np.testing.assert_array_equal(loaded.rounds, table.rounds)
        assert loaded.overhead == table.overhead and loaded.device == table.device


def test_profile_resumes_and_deployed_networks_match_the_model():
    small = compile_space(default_space((1, 8, 8), 10))
    keys = layer_configurations(small)
    partial = profile(small, torch.device("cpu"), batch=1, threads=1, existing=None, warmup=1, repeats=3,
                      rounds=2, budget_s=1e-9)  # nothing fits: every entry is skipped, none measured
    assert len(partial.skipped) == len(keys) and np.isnan(partial.median_us).all()
    half = LatencyTable(partial.space_id, partial.input_shape, partial.device, keys,
                        np.where(np.arange(len(keys)) % 2 == 0, 7.0, np.nan), np.zeros(len(keys)))
    calls = []
    done = profile(small, torch.device("cpu"), batch=1, threads=1, existing=half, warmup=1, repeats=3, rounds=1,
                   progress=lambda i, n: calls.append(n))
    assert done.complete and calls and calls[0] == int(np.isnan(half.median_us).sum())
    assert np.all(done.median_us[::2] == 7.0) and np.all(done.rounds == 1)  # measured entries are not re-timed
    again = profile(small, torch.device("cpu"), batch=1, threads=1, existing=done, warmup=1, repeats=3, rounds=3)
    assert np.all(again.rounds == 3)  # two more rounds for every entry, each keeping the quietest
    assert np.all(again.median_us <= done.median_us) and np.all(again.median_us[::2] <= 7.0)
    genome = sample_genomes(small, np.random.default_rng(4), 1)[0]
    assert deploy_model(small, genome)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_deployed_network_computes_the_built_network_with_its_macs(seed):
    """The network the latency table times: the built float network with BatchNorm folded — the same logits
    (BatchNorm statistics made non-trivial), no BatchNorm or mask left, and the MACs the cost kernel counts."""
    from nasco.evo.space.genome import genome_costs
    from nasco.evo.train.builder import build_model
    from nasco.evo.train.model_stats import count_macs_params
    from nasco.kernels.tables import COST_NAMES

    small = compile_space(default_space((1, 8, 8), 10))
    genome = sample_genomes(small, np.random.default_rng(seed), 1)[0]
    layers = decode(small, genome)
    array = layers.array.copy()
    array[:, [L_W_BITS, L_A_BITS]] = FLOAT_BITS
    torch.manual_seed(seed)
    built = build_model(type(layers)(array, layers.names, layers.roles), slim=True)
    for bn in (m for m in built.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(16, 1, 8, 8)
    with torch.inference_mode():
        reference = built.eval()(x)
        deployed = deploy_model(small, genome, copy.deepcopy(built))
        assert torch.allclose(deployed(x), reference, atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d | ChannelMask) for m in deployed.modules())
    macs, _ = count_macs_params(deployed, small.space.input_shape, device="cpu")
    kernel = dict(zip(COST_NAMES, genome_costs(small, genome[None])[0].tolist(), strict=True))
    assert macs == kernel["macs"]


def test_cli_profile_and_check(tmp_path, capsys):
    lut = tmp_path / "lut.json"
    assert main(["latency", "profile", "--input", "1x8x8", "--repeats", "3", "--rounds", "2", "--warmup", "1",
                 "--calibrate", "3", "-o", str(lut)]) == 0
    out = capsys.readouterr().out
    assert "layer configurations of space" in out and "µs/layer" in out
    assert main(["latency", "check", str(lut), "--samples", "6", "--repeats", "3", "--rounds", "2", "--plot",
                 str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "Spearman ρ" in out and "MAPE" in out and (tmp_path / "c.png").stat().st_size > 5000
    assert main(["latency", "check", str(lut), "--space", str(tmp_path / "nope.toml")]) == 2
    assert main(["latency", "check", str(lut), "--rounds", "0"]) == 2
    assert "--rounds ≥ 1" in capsys.readouterr().err


def test_campaign_with_a_latency_objective_records_the_table_prediction(tmp_path):
    small = compile_space(default_space((1, 8, 8), 10))
    lut = tmp_path / "lut.h5"
    _fake_table(small).save(lut)
    folder = tmp_path / "run"
    config = tiny_config(folder, objectives={"names": ["error", "latency"], "latency_lut": str(lut)},
                         search={"population": 4, "offspring": 2, "generations": 1},
                         training={"final_epochs": 0}, task={"train_subset": 200})
    Campaign(prepare_run_folder(folder, config, resume=False, force=False), folder).run()
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    assert len(table) == 6
    expected = _fake_table(small).predict(small, table.genome_matrix())
    np.testing.assert_allclose(table.column("latency_us"), expected)
    front = (folder / "front.csv").read_text()
    assert "latency_us" in front


def test_error_need_not_be_the_first_objective(tmp_path):
    import json

    folder = tmp_path / "run"
    config = tiny_config(folder, objectives={"names": ["bitops", "error"]},
                         search={"population": 10, "offspring": 2, "generations": 1, "surrogate_families": ["trees"]},
                         training={"final_epochs": 0}, task={"train_subset": 200})
    Campaign(prepare_run_folder(folder, config, resume=False, force=False), folder).run()
    logged = [json.loads(line) for line in (folder / "surrogate.jsonl").read_text().splitlines()]
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    errors = dict(zip(table.column("genome_hash"), table.column("error"), strict=True))
    assert logged and all(errors[h] == e for entry in logged for h, e in zip(entry["hashes"], entry["true"],
                                                                              strict=True))
