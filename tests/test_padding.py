"""Channel padding (``training.channel_multiple``): the padded masked network is the unpadded one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasco.evo import build_model, compile_space, decode, default_space, sample_genomes
from nasco.evo.search.config import ConfigError, config_from_dict
from nasco.evo.space.genome import fixed_genome, genome_costs
from nasco.evo.train.builder import ChannelMask
from nasco.evo.train.datasets import load_task
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.padding import pad_channels
from nasco.evo.train.pruning import slim, update_masks
from nasco.evo.train.trainer import TrainConfig, TrainConfigError, train_candidate


def _pair(shape, seed: int, multiple: int):
    """(layout, genome, table, unpadded masked network, its padded twin) of a random genome."""
    layout = compile_space(default_space(shape, 10))
    genome = sample_genomes(layout, np.random.default_rng(seed), 1)[0]
    table = decode(layout, genome)
    torch.manual_seed(seed)
    model = build_model(table, slim=False)
    for module in model.modules():  # non-trivial BN, so that copying it wrong would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return layout, genome, table, model, pad_channels(model, table, multiple)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("multiple", [16, 32])
def test_padded_network_trains_like_the_unpadded_one(shape, seed, multiple):
    """Same logits at the start, after AdamW steps under the pruning schedule, and after slimming."""
    layout, genome, table, model, big = _pair(shape, seed, multiple)
    for unit in big.conv_units():
        c_out, c_in = unit.conv.weight.shape[:2]
        assert c_out % multiple == 0 and (c_in % multiple == 0 or unit is big.stem or unit.conv.groups > 1)
    assert big.classifier.weight.shape[1] % multiple == 0
    assert any(m.mask.numel() > m.width for m in big.modules() if isinstance(m, ChannelMask))
    x = torch.randn(8, *shape)
    optimizers = [torch.optim.AdamW(m.parameters(), lr=0.01, weight_decay=5e-4) for m in (model, big)]
    gen = torch.Generator().manual_seed(seed)
    for step in range(6):
        batch, labels = torch.randn(16, *shape, generator=gen), torch.randint(0, 10, (16,), generator=gen)
        for net, optimizer in zip((model, big), optimizers, strict=True):
            net.train()
            loss = torch.nn.functional.cross_entropy(net(batch), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            update_masks(net, step / 5)
        with torch.no_grad():
            torch.testing.assert_close(big(x), model(x), rtol=1e-4, atol=1e-4)
    masks = [[m.mask[:m.width] for m in net.modules() if isinstance(m, ChannelMask) and m.kept < m.width]
             for net in (model, big)]
    for a, b in zip(*masks, strict=True):  # the same channels pruned
        assert torch.equal(a, b)
    model.eval(), big.eval()
    small = slim(big, table).eval()
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-4, atol=1e-4)
    assert [tuple(p.shape) for p in small.parameters()] == [tuple(p.shape) for p in slim(model, table).parameters()]
    assert count_macs_params(small, shape, device="cpu") == tuple(genome_costs(layout, genome)[0, :2])


def test_pad_refuses_what_it_cannot_pad():
    _, _, table, model, big = _pair((1, 8, 8), 0, 16)
    with pytest.raises(ValueError, match="pads nothing"):
        pad_channels(model, table, 1)
    with pytest.raises(ValueError, match="padded already"):
        pad_channels(big, table, 16)
    with pytest.raises(ValueError, match="slim=False"):
        build_model(table, slim=True, channel_multiple=16)


def test_trainer_with_channel_multiple_gives_the_exact_counts_result():
    """Search fidelity with padding: the unpadded training's curve and a slim network of the genome's counts."""
    task = load_task("digits", seed=0)
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = fixed_genome(layout, weight_bits=4, act_bits=6, prune=0.5)
    exact, exact_model = train_candidate(layout, genome, task, TrainConfig(epochs=2), seed=1)
    padded, padded_model = train_candidate(layout, genome, task, TrainConfig(epochs=2, channel_multiple=16), seed=1)
    assert padded.status == exact.status == "ok"
    np.testing.assert_allclose(padded.train_loss, exact.train_loss, rtol=1e-4)
    assert np.abs(np.subtract(padded.val_error_curve, exact.val_error_curve)).max() <= 2 / len(task.val)
    assert (padded.macs, padded.params) == (exact.macs, exact.params) == tuple(genome_costs(layout, genome)[0, :2])
    assert [p.shape for p in padded_model.parameters()] == [p.shape for p in exact_model.parameters()]


@pytest.mark.parametrize("value", [1, -16, 512])
def test_bad_channel_multiple_is_refused(value):
    with pytest.raises(ConfigError, match=r"training\.channel_multiple"):
        config_from_dict({"training": {"channel_multiple": value}})
    if value < 2:
        with pytest.raises(TrainConfigError, match="channel_multiple"):
            TrainConfig(channel_multiple=value)


def test_a_campaign_pads_its_search_trainings_only(monkeypatch):
    """``training.channel_multiple`` reaches search-fidelity jobs, not the tested final retraining; a campaign
    without it keeps its recipe description (and so its task id) as before."""
    from nasco.evo.search import train_evaluator
    from nasco.evo.search.evaluators import EvalJob
    from nasco.evo.train.trainer import TrainResult

    layout = compile_space(default_space((1, 8, 8), 10))
    spec, description = train_evaluator.train_worker_spec(config_from_dict({"training": {"channel_multiple": 16}}),
                                                          layout)
    assert spec.train["channel_multiple"] == description["channel_multiple"] == 16
    plain_spec, plain_description = train_evaluator.train_worker_spec(config_from_dict({}), layout)
    assert "channel_multiple" not in plain_spec.train and "channel_multiple" not in plain_description
    multiples = []

    def fake_train(layout, genome, task, config, **kwargs):
        multiples.append(config.channel_multiple)
        return TrainResult(genome_hash="g"), None

    monkeypatch.setattr(train_evaluator, "train_candidate", fake_train)
    genome = fixed_genome(layout)
    for test in (False, True):
        train_evaluator.run_job(spec, EvalJob(genome, 0, 2, test), context=(layout, None, None))
    assert multiples == [16, 0]
