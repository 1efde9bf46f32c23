"""The built torch model runs on a real batch and carries the genome's bits and masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasco.evo import build_model, decode, sample_genomes
from nasco.evo.train.builder import ChannelMask
from nasco.evo.train.quant import ActQuantizer, WeightQuantizer


@pytest.mark.parametrize("slim", [True, False])
def test_forward_outputs_logits(layout, slim):
    side = layout.space.input_shape[1]
    for genome in sample_genomes(layout, np.random.default_rng(5), 2 if side < 224 else 1):
        model = build_model(decode(layout, genome), slim=slim).eval()
        batch = torch.randn(2, *layout.space.input_shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            out = model(batch)
        assert out.shape == (2, layout.space.num_classes)
        assert torch.isfinite(out).all()


def test_quantizers_and_masks_follow_genome(layout):
    genome = sample_genomes(layout, np.random.default_rng(6), 1)[0]
    table = decode(layout, genome)
    with torch.device("meta"):
        model = build_model(table, slim=False)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert [m.weight_quant.bits for m in convs] == table.column("w_bits").tolist()
    assert [m.act_quant.bits for m in convs] == table.column("a_bits").tolist()
    masks = [m for m in model.modules() if isinstance(m, ChannelMask)]
    prunable = [i for i, r in enumerate(table.roles) if r in ("stem", "expand", "head")]
    assert [m.kept for m in masks] == table.column("kept_c_out")[prunable].tolist()
    assert [m.mask.numel() for m in masks] == table.column("c_out")[prunable].tolist()


def test_masks_start_as_identity_and_float_bits_do_not_quantize():
    x = torch.randn(3, 5, 4, 4)
    mask = ChannelMask(5, kept=2)
    assert torch.equal(mask(x), x)
    assert WeightQuantizer(32)(x) is x and ActQuantizer(32)(x) is x
