"""Kernel costs equal the NumPy reference and an independent count on the built torch model."""

from __future__ import annotations

import numpy as np
import torch

from nasco.evo import build_model, decode, sample_genomes
from nasco.evo.space.genome import genome_costs
from nasco.evo.train.model_stats import count_macs_params, per_layer_macs
from nasco.kernels.reference import costs_reference, decode_reference
from nasco.kernels.tables import COST_NAMES

N_GENOMES = 300
N_BUILT = 100  # genomes built in torch (meta device, ~0.2 s each) for the hook count


def test_kernel_equals_reference_for_every_cost(layout):
    genomes = sample_genomes(layout, np.random.default_rng(1), N_GENOMES, canonical=False)
    kernel = genome_costs(layout, genomes)
    for genome, row in zip(genomes, kernel, strict=True):
        reference = costs_reference(decode_reference(layout.tables, genome))
        assert dict(zip(COST_NAMES, row.tolist(), strict=True)) == reference


def test_kernel_macs_params_equal_torch_hooks_on_slim_model(layout):
    genomes = sample_genomes(layout, np.random.default_rng(2), N_BUILT)
    costs = genome_costs(layout, genomes)
    for genome, row in zip(genomes, costs, strict=True):
        with torch.device("meta"):
            model = build_model(decode(layout, genome))
        macs, params = count_macs_params(model, layout.space.input_shape)
        assert (macs, params) == (row[0], row[1]), genome.tolist()


def test_bitops_and_size_follow_definitions_on_slim_model(layout):
    """BitOps = Σ MACs·w_bits·a_bits and size, from the torch model's layers and quantizers."""
    for genome in sample_genomes(layout, np.random.default_rng(3), 20):
        with torch.device("meta"):
            model = build_model(decode(layout, genome))
        layer_macs = per_layer_macs(model, layout.space.input_shape)
        bitops = size_bits = 0
        for module, macs in layer_macs.items():
            w_bits, a_bits = module.weight_quant.bits, module.act_quant.bits
            out_channels = module.weight.shape[0]
            bitops += macs * w_bits * a_bits
            size_bits += module.weight.numel() * w_bits + out_channels * 32 + (out_channels * 32 if w_bits < 32 else 0)
        row = genome_costs(layout, genome)[0]
        assert (bitops, size_bits) == (row[2], row[3])


def test_pruning_reduces_consumer_inputs(layout):
    """A pruned group shrinks both its producer's outputs and its consumer's inputs."""
    genome = sample_genomes(layout, np.random.default_rng(4), 1)[0]
    genome[layout.gene_names.index("stem.prune")] = 0
    full = genome_costs(layout, genome)[0]
    genome[layout.gene_names.index("stem.prune")] = layout.upper_bounds[layout.gene_names.index("stem.prune")] - 1
    pruned = genome_costs(layout, genome)[0]
    table = decode(layout, genome)
    assert table.column("kept_c_out")[0] == table.column("kept_c_in")[1] < table.column("c_out")[0]
    assert pruned[0] < full[0] and pruned[1] < full[1]
