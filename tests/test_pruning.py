"""Gradual pruning reaches the genome's counts; the slim network computes the masked one's function."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasco.evo import build_model, compile_space, decode, default_space, sample_genomes
from nasco.evo.space.genome import fixed_genome, genome_costs
from nasco.evo.train.builder import ChannelMask
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.pruning import cubic_fraction, slim, update_masks


def test_cubic_schedule():
    assert cubic_fraction(0.0) == 0.0 and cubic_fraction(1.0) == 1.0 and cubic_fraction(2.0) == 1.0
    assert cubic_fraction(0.5) == pytest.approx(0.875)
    values = [cubic_fraction(p / 10) for p in range(11)]
    assert values == sorted(values)


def _random_masked_model(shape, seed):
    layout = compile_space(default_space(shape, 10))
    genome = sample_genomes(layout, np.random.default_rng(seed), 1)[0]
    table = decode(layout, genome)
    torch.manual_seed(seed)
    model = build_model(table, slim=False)
    # give BN non-trivial statistics and affine parameters, so slimming must copy them right
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return layout, genome, table, model


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
@pytest.mark.parametrize("seed", range(4))
def test_slim_equals_masked_and_macs_equal_kernel(shape, seed):
    layout, genome, table, model = _random_masked_model(shape, seed)
    x = torch.randn(16, *shape)
    model.train()
    model(x)  # calibrates activation ranges
    for progress in (0.3, 0.7, 1.0):
        update_masks(model, progress)
    masks = [m for m in model.modules() if isinstance(m, ChannelMask)]
    assert [int(m.mask.sum()) for m in masks] == [m.kept for m in masks]
    model.eval()
    small = slim(model, table).eval()
    with torch.no_grad():
        torch.testing.assert_close(small(x), model(x), rtol=1e-4, atol=1e-4)
    macs, params = count_macs_params(small, shape, device="cpu")
    assert (macs, params) == tuple(genome_costs(layout, genome)[0, :2])


def test_masks_are_monotone_and_partial_during_window():
    _, _, _, model = _random_masked_model((1, 8, 8), 11)
    update_masks(model, 0.4)
    first = [m.mask.clone() for m in model.modules() if isinstance(m, ChannelMask)]
    for group in model.channel_groups():  # even if weights change, pruned channels stay pruned
        for layer in group.rows:
            layer.weight.data.normal_()
    update_masks(model, 0.8)
    second = [m.mask for m in model.modules() if isinstance(m, ChannelMask)]
    for a, b in zip(first, second, strict=True):
        assert torch.all(b <= a)


def test_slim_refuses_unfinished_pruning():
    layout = compile_space(default_space((1, 8, 8), 10))
    table = decode(layout, fixed_genome(layout, prune=0.5))
    model = build_model(table, slim=False)
    with pytest.raises(ValueError, match="pruning has not finished"):
        slim(model, table)
