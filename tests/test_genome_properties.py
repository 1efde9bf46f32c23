"""Property tests (hypothesis) of decode, canonical form and hash."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nasco.evo import GenomeError, canonicalize, compile_space, decode, default_space, genome_hash
from nasco.evo.space.genome import active_mask, space_size

LAYOUTS = [compile_space(default_space(s, 10)) for s in [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 224, 224)]]


@st.composite
def genomes(draw):
    layout = draw(st.sampled_from(LAYOUTS))
    genes = [draw(st.integers(0, int(n) - 1)) for n in layout.upper_bounds]
    return layout, np.array(genes, dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(genomes())
def test_canonical_form_is_idempotent(case):
    layout, genome = case
    once = canonicalize(layout, genome)
    np.testing.assert_array_equal(canonicalize(layout, once), once)


@settings(max_examples=200, deadline=None)
@given(genomes(), st.data())
def test_genomes_differing_only_in_inactive_genes_hash_equal(case, data):
    layout, genome = case
    inactive = np.flatnonzero(~active_mask(layout, genome)[0])
    other = genome.copy()
    for g in inactive:
        other[g] = data.draw(st.integers(0, int(layout.upper_bounds[g]) - 1))
    assert genome_hash(layout, other) == genome_hash(layout, genome)
    np.testing.assert_array_equal(decode(layout, other).array, decode(layout, genome).array)


@settings(max_examples=200, deadline=None)
@given(genomes(), st.data())
def test_changing_an_active_gene_changes_the_hash(case, data):
    layout, genome = case
    active = np.flatnonzero(active_mask(layout, genome)[0] & (layout.upper_bounds > 1))
    g = data.draw(st.sampled_from(active.tolist()))
    other = genome.copy()
    other[g] = (genome[g] + 1) % layout.upper_bounds[g]
    assert genome_hash(layout, other) != genome_hash(layout, genome)


@settings(max_examples=200, deadline=None)
@given(genomes())
def test_decode_never_fails_in_bounds(case):
    layout, genome = case
    table = decode(layout, genome)
    assert table.array.shape[0] >= 3
    assert table.column("c_out")[-1] == layout.space.num_classes
    assert (table.column("kept_c_out") >= 1).all()
    assert (table.column("kept_c_out") <= table.column("c_out")).all()


@settings(max_examples=100, deadline=None)
@given(genomes(), st.data())
def test_out_of_bounds_genome_raises(case, data):
    layout, genome = case
    g = data.draw(st.integers(0, layout.n_genes - 1))
    genome[g] = data.draw(st.one_of(st.integers(-1000, -1), st.integers(int(layout.upper_bounds[g]), 1000)))
    with pytest.raises(GenomeError, match=re.escape(f"gene {g} ({layout.gene_names[g]})")):
        decode(layout, genome)


@pytest.mark.parametrize("length_delta", [-1, 1])
def test_wrong_length_raises(length_delta):
    layout = LAYOUTS[0]
    with pytest.raises(GenomeError, match=rf"genome length: {layout.n_genes + length_delta} .* G={layout.n_genes}"):
        decode(layout, np.zeros(layout.n_genes + length_delta, dtype=np.int64))


def test_non_integer_genome_raises():
    layout = LAYOUTS[0]
    with pytest.raises(GenomeError, match="non-integer"):
        canonicalize(layout, np.full(layout.n_genes, 0.5))


def test_hash_is_stable_across_versions():
    """Golden values: the archive key must not change silently (sha256, no Python hash())."""
    layout = LAYOUTS[1]
    assert layout.space.space_id == "1261c17326f677f8"
    assert genome_hash(layout, np.zeros(layout.n_genes, dtype=np.int64)) == "a8c301d36ebd215c"


def test_space_size_counts_distinct_canonical_genomes():
    """On a tiny space, space_size equals the number of distinct canonical genomes."""
    from nasco.evo import CompressionSpec, HeadSpec, SearchSpace, StageSpec, StemSpec

    space = SearchSpace(
        input_shape=(1, 8, 8), num_classes=3,
        stem=StemSpec(width=(4,)), head=HeadSpec(width=(8,), weight_bits=(8,), act_bits=(8,),
                                                 classifier_weight_bits=(8,), classifier_act_bits=(8,)),
        stages=(StageSpec(stride=1, depth=(1, 2), width=(4, 8), kernel=(3,), expansion=(2,)),),
        compression=CompressionSpec(prune_ratios=(0.0, 0.5), weight_bits=(8,), act_bits=(8,)),
    )
    layout = compile_space(space)
    import itertools

    every = np.array(list(itertools.product(*[range(n) for n in layout.upper_bounds])), dtype=np.int64)
    distinct = {tuple(g) for g in canonicalize(layout, every)}
    assert space_size(layout) == len(distinct)
