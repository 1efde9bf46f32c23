"""The weight-sharing supernet: sliced forward == extracted sub-network, channel sorting, BatchNorm
recalibration, resumable training, refusal of genomes, spaces and recipes it does not fit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from nasco.evo import compile_space, default_space, sample_genomes
from nasco.evo.errors import GenomeError
from nasco.evo.space.genome import largest_genome
from nasco.evo.space.mobilenet import HeadSpec, SearchSpace, StageSpec, StemSpec
from nasco.evo.train.datasets import load_task
from nasco.evo.train.supernet import (
    Supernet,
    SupernetConfig,
    SupernetError,
    inherit,
    load_supernet,
    recalibrate,
    recipe_id,
    smallest_genome,
    train_supernet,
)
from nasco.evo.train.trainer import TrainConfig


@pytest.fixture(scope="module")
def task():
    return load_task("digits", seed=0)


def _small_space(task) -> SearchSpace:
    """A small space with every elastic dimension (depth, width, expansion, kernel, bits, pruning)."""
    return SearchSpace(input_shape=tuple(task.input_shape), num_classes=task.num_classes, name="tiny-elastic",
                       stem=StemSpec(width=(4, 8)),
                       stages=(StageSpec(stride=1, depth=(1, 2), width=(8, 12), kernel=(3, 5), expansion=(1, 2)),
                               StageSpec(stride=2, depth=(1, 2), width=(12, 16), kernel=(3, 5), expansion=(2, 3))),
                       head=HeadSpec(width=(16, 32)))


@pytest.fixture(scope="module")
def layout(task):
    return compile_space(_small_space(task))


CONFIG = SupernetConfig(train=TrainConfig(epochs=3, batch_size=64), warmup_epochs=2, random_subnets=1,
                        calib_batches=2, calib_batch_size=128)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
def test_sliced_forward_equals_the_extracted_network(shape):
    """The supernet's pass for a genome and the slim network built from that genome with the sliced
    weights give the same logits (training mode: batch statistics and batch activation ranges)."""
    layout = compile_space(default_space(shape, 10))
    torch.manual_seed(0)
    supernet = Supernet(layout).train()
    with torch.no_grad():  # random BatchNorm affine parameters, so that slicing them is checked too
        for module in supernet.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    x = torch.randn(16, *shape)
    genomes = [largest_genome(layout), smallest_genome(layout), *sample_genomes(layout, np.random.default_rng(1), 12)]
    for genome in genomes:
        model = supernet.extract(genome).train()
        with torch.no_grad():
            torch.testing.assert_close(supernet(x, supernet.table(genome)), model(x), rtol=1e-5, atol=1e-5)


def test_sorting_channels_keeps_the_largest_network_and_orders_by_importance(layout):
    torch.manual_seed(1)
    supernet = Supernet(layout).train()
    x = torch.randn(32, *layout.space.input_shape)
    largest = supernet.table(largest_genome(layout))
    with torch.no_grad():
        before = supernet(x, largest)
        supernet.sort_channels()
        torch.testing.assert_close(supernet(x, largest), before, rtol=1e-4, atol=1e-5)
    from nasco.evo.train.pruning import group_importance

    for group in supernet.net.channel_groups():
        importance = group_importance(group)
        assert torch.all(importance[:-1] >= importance[1:])


def test_recalibration_changes_only_buffers(layout, task):
    torch.manual_seed(2)
    supernet = Supernet(layout)
    model = supernet.extract(sample_genomes(layout, np.random.default_rng(3), 1)[0])
    params = {k: v.clone() for k, v in model.named_parameters()}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    recalibrate(model, task, batches=2, batch_size=64, device=torch.device("cpu"))
    assert all(torch.equal(params[k], v) for k, v in model.named_parameters())
    changed = {k for k, v in model.named_buffers() if not torch.equal(buffers[k], v)}
    assert any(k.endswith("bn.running_mean") for k in changed) and any(k.endswith("running_max") for k in changed)
    assert not model.training


def test_training_resumes_to_the_uninterrupted_result_and_inheritance_evaluates(layout, task, tmp_path):
    whole = train_supernet(layout, task, CONFIG, tmp_path / "whole.pt", seed=4)

    class Crash(Exception):
        pass

    def crash_after_first(progress):
        if progress.epoch == 2:  # the first epoch with sub-networks is still to come
            raise Crash

    with pytest.raises(Crash):
        train_supernet(layout, task, CONFIG, tmp_path / "resumed.pt", seed=4, progress=crash_after_first)
    with pytest.raises(SupernetError, match="stopped after epoch 2 of 3"):
        load_supernet(tmp_path / "resumed.pt", layout)
    epochs = []
    resumed = train_supernet(layout, task, CONFIG, tmp_path / "resumed.pt", seed=4,
                             progress=lambda p: epochs.append(p.epoch))
    assert epochs == [3]
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    loaded, info = load_supernet(tmp_path / "whole.pt", layout)
    assert info["epoch"] == 3 and info["seed"] == 4
    as_inherited = dataclasses.replace(CONFIG, finetune_steps=0)
    result = inherit(loaded, largest_genome(layout), task, as_inherited)
    untrained = inherit(Supernet(layout), largest_genome(layout), task, as_inherited)
    assert result.error < 0.5 < 0.75 < untrained.error and result.seconds > 0  # chance: 0.9
    before = {k: v.clone() for k, v in loaded.state_dict().items()}
    genome = sample_genomes(layout, np.random.default_rng(5), 1)[0]
    tuned = inherit(loaded, genome, task, CONFIG)  # fine-tunes a copy: the supernet stays as it was
    assert all(torch.equal(before[k], v) for k, v in loaded.state_dict().items())
    assert inherit(loaded, genome, task, CONFIG).error == tuned.error  # deterministic


def test_inheritance_scores_on_the_first_val_images(layout, task):
    """``val_images`` scores every genome on the validation split's first images: the error of a task whose
    validation split is just those; the weights' recipe id does not change."""
    torch.manual_seed(8)
    supernet = Supernet(layout)
    genome = sample_genomes(layout, np.random.default_rng(9), 1)[0]
    config = dataclasses.replace(CONFIG, finetune_steps=2, val_images=61)
    scored = inherit(supernet, genome, task, config).error
    first = dataclasses.replace(task, val=task.val.subset(torch.arange(61)))
    assert scored == inherit(supernet, genome, first, dataclasses.replace(config, val_images=0)).error
    whole = inherit(supernet, genome, task, dataclasses.replace(config, val_images=0)).error
    assert scored * 61 == pytest.approx(round(scored * 61))  # k wrong of 61 images
    assert whole * 61 != pytest.approx(round(whole * 61)), (whole, len(task.val))  # of more images
    assert recipe_id(layout, task, config, 0) == recipe_id(layout, task, CONFIG, 0)
    with pytest.raises(SupernetError, match="val_images"):
        dataclasses.replace(CONFIG, val_images=-1)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_supernet_trains_and_inherits_on_the_recipe_device(layout, task, tmp_path, device):
    """Training and inheritance run on the recipe's device; the checkpoint (its recipe id leaves the device
    out) loads on the CPU too, where the largest network inherits about the same error."""
    config = dataclasses.replace(CONFIG, train=dataclasses.replace(CONFIG.train, device=device))
    trained = train_supernet(layout, task, config, tmp_path / "sn.pt", seed=4)
    assert trained.net.classifier.weight.device.type == device
    as_inherited = dataclasses.replace(config, finetune_steps=0)
    errors = {}
    for where in dict.fromkeys([device, "cpu"]):
        loaded, _ = load_supernet(tmp_path / "sn.pt", layout, device=where,
                                  recipe=recipe_id(layout, task, config, 4))
        errors[where] = inherit(loaded, largest_genome(layout), task, as_inherited).error
        genome = sample_genomes(layout, np.random.default_rng(5), 1)[0]
        assert 0 <= inherit(loaded, genome, task, config).error <= 1
    assert errors[device] < 0.5 and abs(errors[device] - errors["cpu"]) <= 0.05, errors  # bf16 on CUDA


def test_training_starts_from_the_inherited_weights_of_a_copy(layout, task):
    """``train_candidate(start=…)`` trains a copy of the extracted sub-network: at a vanishing learning rate
    the trained weights are the inherited ones, and the supernet's network is left as it was."""
    from nasco.evo.train.trainer import train_candidate

    torch.manual_seed(6)
    supernet = Supernet(layout)
    genome = sample_genomes(layout, np.random.default_rng(7), 1)[0]
    start = supernet.extract(genome)
    before = {k: v.clone() for k, v in start.state_dict().items()}
    result, model = train_candidate(layout, genome, task, TrainConfig(epochs=1, lr=1e-12, weight_decay=0.0),
                                    seed=0, start=start)
    assert result.status == "ok", result.reason
    assert all(torch.equal(before[k], v) for k, v in start.state_dict().items())
    trained = dict(model.named_parameters())
    for name, weight in start.named_parameters():
        torch.testing.assert_close(trained[name], weight, rtol=0, atol=1e-6)
    _, fresh = train_candidate(layout, genome, task, TrainConfig(epochs=1, lr=1e-12, weight_decay=0.0), seed=0)
    assert not torch.allclose(dict(fresh.named_parameters())["stem.conv.weight"], trained["stem.conv.weight"])


def test_bad_inputs_are_refused_clearly(layout, task, tmp_path):
    supernet = Supernet(layout)
    with pytest.raises(GenomeError):
        supernet.extract(np.zeros(layout.n_genes + 1, dtype=np.int64))  # a genome of another space
    path = tmp_path / "s.pt"
    train_supernet(layout, task, dataclasses.replace(CONFIG, train=TrainConfig(epochs=1), warmup_epochs=0), path)
    with pytest.raises(SupernetError, match="another recipe"):
        load_supernet(path, layout, recipe=recipe_id(layout, task, CONFIG, 0))
    with pytest.raises(SupernetError, match="another recipe"):
        train_supernet(layout, task, CONFIG, path)
    other = compile_space(dataclasses.replace(_small_space(task), head=HeadSpec(width=(16, 24))))
    with pytest.raises(SupernetError, match="belongs to space"):
        load_supernet(path, other)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SupernetError, match="not a nasco supernet"):
        load_supernet(tmp_path / "junk.pt", layout)
    with pytest.raises(SupernetError, match="no supernet there"):
        load_supernet(tmp_path / "missing.pt", layout)
    with pytest.raises(SupernetError, match="warmup_epochs"):
        SupernetConfig(train=TrainConfig(epochs=2), warmup_epochs=2)


def test_campaign_with_the_supernet_fidelity_through_the_cli(tmp_path, capsys):
    """``nasco supernet train`` trains once, ``eval`` scores by inheritance, and a campaign with
    ``evaluator.kind = 'supernet'`` reuses that supernet for the search and trains only its final front."""
    from campaign_helpers import tiny_config, write_config

    from nasco.archive import HDF5Archive
    from nasco.evo.cli.main import main
    from nasco.evo.search.config import ConfigError

    folder = tmp_path / "run"
    config = tiny_config(folder, evaluator={"kind": "supernet"}, supernet={"epochs": 2, "warmup_epochs": 1},
                         search={"generations": 1}, executor={"workers": 1})
    path = write_config(tmp_path / "c.toml", config)

    def run(*args, status=0):
        assert main(list(args)) == status
        out = capsys.readouterr()
        return out.out + out.err

    out = run("supernet", "train", str(path))
    assert "supernet epoch   2/2" in out and (folder / "supernet.pt").is_file()
    assert "nothing to do" in run("supernet", "train", str(path))
    out = run("supernet", "eval", str(path), "--random", "3")
    assert len([line for line in out.splitlines() if line.startswith("│")]) == 3, out
    out = run("run", str(path))
    assert "training the supernet" not in out  # the trained one was found and reused
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
        description = archive.tasks[table.rows["task_id"][0].decode()]
    assert description["fidelity"] == "supernet" and description["final_start"] == "inherited"
    search = table.filter(fidelity=config.training.epochs)
    final = table.filter(fidelity=config.training.final_epochs)
    assert len(search) == config.search.population + config.search.offspring
    assert np.isnan(search.column("test_error")).all() and (search.column("error") <= 1).all()
    assert 1 <= len(final) <= config.training.final_max and np.isfinite(final.column("test_error")).all()
    with pytest.raises(ConfigError, match=r"supernet\.final_start: 'pretrained' is not allowed"):
        config.replace("supernet", final_start="pretrained")
    bad = write_config(tmp_path / "bad.toml", config.replace("supernet", random_subnets=3))
    assert "another recipe" in run("supernet", "eval", str(bad), "--random", "1", status=2)


def test_campaign_with_the_inherited_error_as_a_surrogate_feature(tmp_path):
    """``supernet.surrogate_feature``: a train campaign trains its supernet, inherits each genome the surrogate
    sees once (kept in inherited.json, reused when the file's supernet is the campaign's), and refuses the
    settings the feature does not fit."""
    from campaign_helpers import tiny_config
    from rich.console import Console

    from nasco.archive import HDF5Archive
    from nasco.evo import run_campaign
    from nasco.evo.search.config import ConfigError
    from nasco.evo.search.plan import plan_campaign
    from nasco.evo.search.progress import CampaignMonitor
    from nasco.evo.search.supernet_evaluator import _load
    from nasco.evo.search.supernet_feature import INHERITANCE_SEED, InheritedErrors

    folder = tmp_path / "run"
    config = tiny_config(folder, supernet={"epochs": 2, "warmup_epochs": 1, "surrogate_feature": True,
                                                           "finetune_steps": 0, "calib_batches": 1},
                         search={"generations": 2}, training={"final_epochs": 0},
                         executor={"workers": 2})
    run_campaign(config)
    log = (folder / "log.txt").read_text()
    assert "surrogate feature:" in log and (folder / "supernet.pt").is_file(), log
    saved = json.loads((folder / "inherited.json").read_text())
    plan = plan_campaign(config)
    with HDF5Archive(folder / "archive.h5") as archive:
        trained = archive.table().genome_matrix()
    hashes = {plan.layout.hash(g) for g in trained}
    assert hashes < set(saved["errors"])  # every trained genome, and the screened ones it did not pick
    assert all(0 <= e <= 1 for e in saved["errors"].values()) and saved["seconds"] > 0

    monitor = CampaignMonitor(Console(quiet=True), tmp_path / "log.txt", 1)
    errors = InheritedErrors.create(config, plan, folder, monitor)  # reads the file: nothing to inherit again
    assert errors(trained).tolist() == [saved["errors"][plan.layout.hash(g)] for g in trained]
    assert errors.seconds == saved["seconds"] and "inherited in" not in (tmp_path / "log.txt").read_text()
    supernet, _, task, settings = _load(errors.executor.evaluator.supernet_spec)
    assert errors(trained[:1])[0] == inherit(supernet, trained[0], task, settings, seed=INHERITANCE_SEED).error
    evaluator = errors.executor.evaluator
    evaluator.supernet_spec = dataclasses.replace(evaluator.supernet_spec, recipe="another")
    assert not InheritedErrors(errors.executor, plan.layout, folder / "inherited.json", monitor).errors
    with pytest.raises(ConfigError, match=r"supernet\.surrogate_feature: True is not allowed.*'inner' scores"):
        config.replace("search", proposal="inner")
    with pytest.raises(ConfigError, match=r"supernet\.surrogate_feature: True is not allowed with evaluator\.kind = "
                                          r"'supernet'.*declares no such feature"):  # before the supernet trains
        plan_campaign(config.replace("evaluator", kind="supernet"))
    with pytest.raises(ConfigError, match="an evaluator passed to the campaign"):
        run_campaign(config, evaluator=lambda genome: {"error": 0.5}, folder=tmp_path / "other")
