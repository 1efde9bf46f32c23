"""The ``sequence`` space kind: declaration, exact costs (kernel == reference == torch counts),
pruning and quantization of attention, FFN and conv layers (masked == slim), padding."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import torch

from nasco.evo.errors import SpaceError
from nasco.evo.space.genome import largest_genome, sample_genomes
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.sequence import SequenceSpace, SequenceStageSpec, default_sequence_space
from nasco.evo.space.toml_io import dump_space, space_from_dict
from nasco.evo.train.sequence_model import build_sequence_model, count_costs, slim_sequence
from nasco.kernels.sequence_cost import sequence_costs_reference
from nasco.kernels.tables import COST_NAMES

LENGTHS = (16, 48)


@pytest.fixture(scope="module", params=LENGTHS)
def layout(request):
    return compile_any(default_sequence_space(request.param, 60, 8))


def test_kernel_equals_the_layer_by_layer_reference_for_every_cost(layout):
    genomes = sample_genomes(layout, np.random.default_rng(1), 300, canonical=False)
    for genome, row in zip(genomes, layout.exact_costs(genomes), strict=True):
        table = layout.decode(genome)
        assert dict(zip(COST_NAMES, row.tolist(), strict=True)) == sequence_costs_reference(table.array,
                                                                                           list(table.roles))


def test_kernel_costs_equal_counts_on_the_built_slim_model(layout):
    """MACs from forward hooks (linear, depthwise conv, attention matmuls), every parameter, and
    BitOps and size from each layer's quantizers, for 100 random genomes per sequence length."""
    genomes = sample_genomes(layout, np.random.default_rng(2), 100)
    for genome, row in zip(genomes, layout.exact_costs(genomes), strict=True):
        with torch.device("meta"):
            model = build_sequence_model(layout.decode(genome))
        assert count_costs(model, layout.space.max_length) == tuple(row[:4]), genome.tolist()


def _random_masks(model, generator):
    for group in model.channel_groups():
        n = group.mask.mask.numel()
        group.mask.mask[torch.randperm(n, generator=generator)[:n - group.mask.kept]] = 0


def _tokens(generator, batch, length, vocab=60):
    ids = torch.randint(2, vocab, (batch, length), generator=generator)
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    return ids * (torch.arange(length)[None, :] < lengths[:, None])  # right-padded with 0


def test_a_masked_network_and_its_slimmed_copy_give_the_same_logits(layout):
    """Pruned conv channels, attention heads and FFN units at low bit-widths, after the activation
    ranges were calibrated by training-mode passes."""
    generator = torch.Generator().manual_seed(0)
    genomes = sample_genomes(layout, np.random.default_rng(3), 12)
    for genome in genomes:
        table = layout.decode(genome)
        torch.manual_seed(0)
        model = build_sequence_model(table, slim=False)
        _random_masks(model, generator)
        model.train()
        with torch.no_grad():
            for _ in range(2):
                model(_tokens(generator, 16, layout.space.max_length))
        small = slim_sequence(model, table)
        model.eval(), small.eval()
        ids = _tokens(generator, 32, layout.space.max_length)
        with torch.no_grad():
            assert torch.allclose(model(ids), small(ids), atol=1e-5), genome.tolist()
    assert sum(p.numel() for p in small.parameters()) == layout.exact_costs(genome)[0, 1]


def test_low_bits_quantize_and_pruning_shrinks_heads_and_ffn_units():
    layout = compile_any(default_sequence_space(16, 60, 8))
    genome = largest_genome(layout)
    names = list(layout.gene_names)
    table = layout.decode(genome)
    qkv = table.roles.index("qkv")
    heads, head_width = int(table.column("heads")[qkv + 1]), int(table.column("c_in")[qkv + 1])
    assert table.column("kept_c_out")[qkv] == 3 * heads * head_width
    for name in ("stages[1].blocks[0].attention.prune", "stages[1].blocks[0].ffn.prune", "stages[0].blocks[0].prune"):
        genome[names.index(name)] = layout.upper_bounds[names.index(name)] - 1  # 75 % pruned
    pruned = layout.decode(genome)
    assert pruned.column("heads")[qkv + 1] == 1 and pruned.column("kept_c_out")[qkv] == 3 * head_width
    up = pruned.roles.index("ffn_up")
    assert pruned.column("kept_c_out")[up] == pruned.column("kept_c_in")[up + 1] == pruned.column("c_out")[up] // 4
    assert np.all(layout.exact_costs(genome)[0, :4] < layout.exact_costs(largest_genome(layout))[0, :4])
    torch.manual_seed(0)
    model = build_sequence_model(layout.decode(largest_genome(layout)))
    low = largest_genome(layout)
    for g, name in enumerate(names):
        if name.endswith("_bits"):
            low[g] = 0  # 2-bit weights, 4-bit activations everywhere
    torch.manual_seed(0)
    quantized = build_sequence_model(layout.decode(low))
    assert quantized.blocks[2].scores.a_quant.bits == 4 and quantized.embedding.weight_quant.bits == 2
    ids = _tokens(torch.Generator().manual_seed(1), 8, 16)
    with torch.no_grad():
        assert not torch.allclose(model.eval()(ids), quantized.eval()(ids), atol=1e-3)


def test_padding_and_tokens_beyond_the_kept_vocabulary():
    layout = compile_any(default_sequence_space(24, 60, 8))
    genome = sample_genomes(layout, np.random.default_rng(5), 1)[0]
    genome[layout.gene_names.index("embedding.vocab")] = 0  # keep 30 of 60 ids
    torch.manual_seed(0)
    model = build_sequence_model(layout.decode(genome))
    with torch.no_grad():
        model(_tokens(torch.Generator().manual_seed(2), 16, 24))  # calibrates the activation ranges
    model.eval()
    assert model.vocab == 30
    short = torch.tensor([[5, 9, 12, 40, 3]])
    padded = torch.cat([short, torch.zeros((1, 19), dtype=torch.long)], dim=1)
    unknown = torch.tensor([[5, 9, 12, 1, 3]])  # 40 is beyond the kept vocabulary: read as unknown
    with torch.no_grad():
        logits = model(torch.cat([padded, torch.cat([unknown, padded[:, 5:]], dim=1)]))
        assert torch.allclose(model(short), logits[:1], atol=1e-5) and torch.allclose(logits[0], logits[1])
        with pytest.raises(ValueError, match=r"token ids of shape \[1, 25\]: allowed \(batch, T\) with T ≤ max_length"):
            model(torch.ones((1, 25), dtype=torch.long))


def test_sequence_spaces_round_trip_through_toml_and_refuse_bad_fields():
    space = default_sequence_space(24, 60, 8)
    again = space_from_dict(tomllib.loads(dump_space(space)))
    assert again == space and again.space_id == space.space_id and again.kind == "sequence"
    text = dump_space(space)
    assert 'kind = "sequence"' in text and "kernel" in text and "heads" in text
    data = space.to_dict()
    stages = data["stages"]
    with pytest.raises(SpaceError, match=r"stages\[0\]\.block: 'lstm' is not allowed; allowed: conv, attention"):
        space_from_dict({**data, "stages": [{**stages[0], "block": "lstm"}]})
    with pytest.raises(SpaceError, match=r"stages\[1\]\.kernel: applies to conv blocks, not attention blocks"):
        space_from_dict({**data, "stages": [stages[0], {**stages[1], "kernel": [3]}]})
    with pytest.raises(SpaceError, match=r"embedding.vocab: \[30, 99\] is not allowed; allowed: at most vocab_size"):
        space_from_dict({**data, "embedding": {**data["embedding"], "vocab": [30, 99]}})
    with pytest.raises(SpaceError, match="space: unknown key 'image_size'"):
        space_from_dict({**data, "image_size": 8})
    with pytest.raises(SpaceError, match=r"fixed\.stages\.0\.heads: no such gene"):
        compile_any(space_from_dict({**data, "fixed": {"stages.0.heads": 2}}))
    with pytest.raises(SpaceError, match=r"max_length 60000: the space.s largest network has .* beyond the int64"):
        compile_any(SequenceSpace(max_length=60_000, vocab_size=50, num_classes=2, stages=(
            SequenceStageSpec(block="attention", depth=(64,), heads=(256,), head_width=(4096,)),)))
    pinned = compile_any(space_from_dict({**data, "fixed": {"stages[1].blocks[0].heads": 4}}))
    assert pinned.gene_choices[pinned.gene_names.index("stages[1].blocks[0].heads")] == (4,)


def test_genome_operations_are_shared_with_the_image_kind():
    layout = compile_any(default_sequence_space(16, 60, 8))
    genomes = sample_genomes(layout, np.random.default_rng(6), 50, canonical=False)
    canonical = layout.canonicalize(genomes)
    assert np.array_equal(layout.canonicalize(canonical), canonical)
    assert np.array_equal(layout.exact_costs(genomes), layout.exact_costs(canonical))  # inactive genes cost nothing
    assert len({layout.hash(g) for g in canonical}) == len(np.unique(canonical, axis=0))
    features = layout.features(genomes)
    assert features.shape[0] == 50 and np.all(np.isfinite(features))
    cheapest = layout.costs(layout.cheapest())[0]
    assert np.all(cheapest <= layout.costs(canonical).min(axis=0))
