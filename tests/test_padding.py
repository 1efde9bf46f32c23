"""Shape padding (``training.channel_multiple``, ``training.depthwise_kernel``): the padded masked network is
the unpadded one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasco.evo import build_model, compile_space, decode, default_space, sample_genomes
from nasco.evo.search.config import ConfigError, config_from_dict
from nasco.evo.space.genome import fixed_genome, genome_costs
from nasco.evo.train.builder import ChannelMask, real_block
from nasco.evo.train.datasets import load_task
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.padding import pad_network
from nasco.evo.train.pruning import slim, update_masks
from nasco.evo.train.quant import Quantizer
from nasco.evo.train.trainer import TrainConfig, TrainConfigError, evaluate, train_candidate


def _pair(shape, seed: int, multiple: int, kernel: int, *, quantized: bool):
    """(layout, genome, table, unpadded masked network, its padded twin) of a random genome, its quantizers
    float unless ``quantized``."""
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
    big = pad_network(model, table, channel_multiple=multiple, depthwise_kernel=kernel)
    return (layout, genome, table, model, big) if quantized else (layout, genome, table, _float(model), _float(big))


def _float(net):
    """``net`` with float quantizers (bits 32)."""
    for module in net.modules():
        if isinstance(module, Quantizer):
            module.bits = 32
    return net


def _train(net, shape, seed: int, steps: int = 6) -> None:
    """AdamW steps on random batches under the pruning schedule (finished at the end)."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    for step in range(steps):
        batch, labels = torch.randn(16, *shape, generator=gen), torch.randint(0, 10, (16,), generator=gen)
        loss = torch.nn.functional.cross_entropy(net(batch), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        update_masks(net, step / (steps - 1))


def _real_part(padded: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The block of a padded weight (or its gradient) that holds ``like``'s (leading channels, centred taps)."""
    return padded[real_block(padded.shape, like.shape)]


PADDINGS = [(16, 0), (32, 7), (0, 7)]  # (channel_multiple, depthwise_kernel)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("multiple", "kernel"), PADDINGS)
@pytest.mark.parametrize("quantized", [False, True])
def test_padded_network_is_the_unpadded_one(shape, seed, multiple, kernel, quantized):
    """The same logits and gradients, no gradient on the padding, and after one SGD step the same logits again.

    (Longer trainings drift apart like one training on two CPUs: float sums in another order flip a
    quantization rounding or a near-tie between pruned channels now and then.)"""
    _, _, _, model, big = _pair(shape, seed, multiple, kernel, quantized=quantized)
    for unit in big.conv_units():
        c_out, c_in, k = unit.conv.weight.shape[:3]
        depthwise = unit.conv.groups > 1
        assert c_out % max(multiple, 1) == 0 and (c_in % max(multiple, 1) == 0 or unit is big.stem or depthwise)
        assert k == kernel or not (depthwise and kernel)
    assert big.classifier.weight.shape[1] % max(multiple, 1) == 0
    assert any(m.mask.numel() > m.width for m in big.modules() if isinstance(m, ChannelMask)) or not multiple
    assert any(getattr(m, "tap_mask", None) is not None for m in big.modules()) or not kernel
    x, labels = torch.randn(16, *shape), torch.randint(0, 10, (16,))
    for net in (model, big):
        net.train()
        torch.nn.functional.cross_entropy(net(x), labels).backward()
        torch.optim.SGD(net.parameters(), lr=0.05).step()
    pairs = [(a, b) for a, b in zip(model.parameters(), big.parameters(), strict=True)]
    for a, b in pairs:
        torch.testing.assert_close(_real_part(b.grad, a.grad), a.grad, rtol=1e-4, atol=1e-6)
        assert float(_real_part(b.grad, a.grad).abs().sum()) == pytest.approx(float(b.grad.abs().sum()), rel=1e-5)
    model.eval(), big.eval()
    with torch.no_grad():
        torch.testing.assert_close(big(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("multiple", "kernel"), PADDINGS)
def test_padding_stays_inert_and_slims_to_the_genome(shape, seed, multiple, kernel):
    """After training under the pruning schedule, the padding still contributes nothing: the slim network,
    padding removed and kernels cropped, has the padded network's logits and the genome's exact costs."""
    layout, genome, table, _, big = _pair(shape, seed, multiple, kernel, quantized=True)
    _train(big, shape, seed)
    assert all(int(m.mask.sum()) == m.kept for m in big.modules() if isinstance(m, ChannelMask))
    big.eval()
    small = slim(big, table).eval()
    x = torch.randn(8, *shape)
    with torch.no_grad():
        torch.testing.assert_close(small(x), big(x), rtol=1e-4, atol=1e-4)
    assert count_macs_params(small, shape, device="cpu") == tuple(genome_costs(layout, genome)[0, :2])


def test_pad_refuses_what_it_cannot_pad():
    _, _, table, model, big = _pair((1, 8, 8), 0, 16, 0, quantized=True)
    with pytest.raises(ValueError, match="pad nothing"):
        pad_network(model, table, channel_multiple=1)
    with pytest.raises(ValueError, match="padded already"):
        pad_network(big, table, channel_multiple=16)
    with pytest.raises(ValueError, match="padded already"):
        pad_network(pad_network(model, table, depthwise_kernel=7), table, depthwise_kernel=7)
    with pytest.raises(ValueError, match="odd sizes"):
        pad_network(model, table, depthwise_kernel=6)
    with pytest.raises(ValueError, match="slim=False"):
        build_model(table, slim=True, channel_multiple=16)


def test_a_padded_training_returns_the_genomes_slim_network():
    """The trainer pads, trains, and returns the slim network of the genome's exact shapes and costs, whose
    error is the one reported (the padded network's last validation)."""
    task = load_task("digits", seed=0)
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = sample_genomes(layout, np.random.default_rng(5), 4)[3]  # one that both paddings change
    config = TrainConfig(epochs=2, channel_multiple=32, depthwise_kernel=7)
    padded, small = train_candidate(layout, genome, task, config, seed=1)
    exact, exact_model = train_candidate(layout, genome, task, TrainConfig(epochs=2), seed=1)
    assert padded.status == exact.status == "ok"
    assert padded.val_error == evaluate(small, task)
    assert (padded.macs, padded.params) == (exact.macs, exact.params) == tuple(genome_costs(layout, genome)[0, :2])
    assert [p.shape for p in small.parameters()] == [p.shape for p in exact_model.parameters()]


@pytest.mark.parametrize(("name", "value", "trainer_refuses"), [
    ("channel_multiple", 1, True), ("channel_multiple", -16, True), ("channel_multiple", 512, False),
    ("depthwise_kernel", 6, True), ("depthwise_kernel", -3, True), ("depthwise_kernel", 17, False)])
def test_bad_padding_is_refused(name, value, trainer_refuses):
    """A campaign refuses values outside its documented range; the trainer those it cannot build."""
    with pytest.raises(ConfigError, match=rf"training\.{name}"):
        config_from_dict({"training": {name: value}})
    if trainer_refuses:
        with pytest.raises(TrainConfigError, match=name):
            TrainConfig(**{name: value})
    else:
        TrainConfig(**{name: value})


def test_a_campaign_pads_its_search_trainings_only(monkeypatch):
    """``training.channel_multiple`` reaches search-fidelity jobs, not the tested final retraining; a campaign
    without it keeps its recipe description (and so its task id) as before."""
    from nasco.evo.search import train_evaluator
    from nasco.evo.search.evaluators import EvalJob
    from nasco.evo.train.trainer import TrainResult

    layout = compile_space(default_space((1, 8, 8), 10))
    padding = {"channel_multiple": 16, "depthwise_kernel": 7}
    spec, description = train_evaluator.train_worker_spec(config_from_dict({"training": padding}), layout)
    assert spec.train["channel_multiple"] == description["channel_multiple"] == 16
    assert spec.train["depthwise_kernel"] == description["depthwise_kernel"] == 7
    plain_spec, plain_description = train_evaluator.train_worker_spec(config_from_dict({}), layout)
    assert not set(padding) & (set(plain_spec.train) | set(plain_description))
    multiples = []

    def fake_train(layout, genome, task, config, **kwargs):
        multiples.append((config.channel_multiple, config.depthwise_kernel))
        return TrainResult(genome_hash="g"), None

    monkeypatch.setattr(train_evaluator, "train_candidate", fake_train)
    genome = fixed_genome(layout)
    for test in (False, True):
        train_evaluator.run_job(spec, EvalJob(genome, 0, 2, test), context=(layout, None, None))
    assert multiples == [(16, 7), (0, 0)]
