"""NSGA-II glue and compression strategies: bounds, canonical offspring, state round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nasco.evo import compile_space, default_space
from nasco.evo.search.compression import scheduled_bounds, sensitivity_bounds
from nasco.evo.search.nsga import (
    GeneBounds,
    GenomeProblem,
    export_state,
    latin_hypercube,
    make_nsga2,
    restore_state,
    set_evaluated,
)
from nasco.evo.space.genome import canonicalize, decode, genome_hash, largest_genome


@pytest.fixture(scope="module")
def small():
    return compile_space(default_space((1, 8, 8), 10))


def _tell_random(algorithm, problem, rng):
    off = algorithm.ask()
    F = rng.random((len(off), 2))
    failed = rng.random(len(off)) < 0.2
    algorithm.tell(infills=set_evaluated(off, F, failed))
    return problem.to_genomes(off.get("X"))


def test_latin_hypercube_covers_every_gene_range_and_is_canonical(small):
    bounds = GeneBounds(small)
    genomes = latin_hypercube(small, bounds, 12, np.random.default_rng(0))
    assert genomes.shape == (12, small.n_genes)
    assert np.array_equal(genomes, canonicalize(small, genomes))
    upper = np.asarray(small.upper_bounds)
    always_active = small.tables.gene_active[:, 0] < 0
    for g in np.flatnonzero(always_active & (upper > 1)):
        assert genomes[:, g].min() == 0 and genomes[:, g].max() == upper[g] - 1  # strata reach both ends


def test_offspring_are_canonical_unique_and_within_narrowed_bounds(small):
    problem = GenomeProblem(small, 2)
    base = GeneBounds(small)
    rng = np.random.default_rng(1)
    initial = latin_hypercube(small, base, 10, rng)
    algorithm = make_nsga2(problem, base, initial, 10, seed=4)
    _tell_random(algorithm, problem, rng)
    strict = scheduled_bounds(base, 0, 6)
    algorithm.repair.bounds = strict
    algorithm.n_offsprings = 40
    genomes = problem.to_genomes(algorithm.ask().get("X"))
    assert len(genomes) == 40
    assert np.array_equal(genomes, canonicalize(small, genomes))
    assert len({genome_hash(small, g) for g in genomes}) == 40
    active = genomes != 0
    assert np.all((genomes <= strict.high) | ~active)
    assert np.all((genomes >= strict.low) | (genomes == 0))


def test_schedule_starts_strict_and_relaxes_to_the_full_range(small):
    base = GeneBounds(small)
    names = [n.rsplit(".", 1)[1] for n in small.gene_names]
    bits = np.array([n in ("weight_bits", "act_bits") for n in names]) & (base.high > 0)
    prune = np.array([n == "prune" for n in names]) & (base.high > 0)
    strict, later, relaxed = (scheduled_bounds(base, g, 6) for g in (0, 2, 3))
    assert np.all(strict.high[bits] < base.high[bits]) and np.all(strict.low[prune] > 0)
    assert np.all(later.high[bits] >= strict.high[bits]) and np.all(later.low[prune] <= strict.low[prune])
    assert np.array_equal(relaxed.low, base.low) and np.array_equal(relaxed.high, base.high)


def test_state_round_trip_gives_the_same_next_offspring(small):
    problem = GenomeProblem(small, 2)
    bounds = GeneBounds(small)
    rng = np.random.default_rng(2)
    initial = latin_hypercube(small, bounds, 8, rng)
    algorithm = make_nsga2(problem, bounds, initial, 8, seed=9)
    _tell_random(algorithm, problem, rng)
    algorithm.n_offsprings = 16
    _tell_random(algorithm, problem, rng)
    scalars, arrays = export_state(algorithm)
    scalars = json.loads(json.dumps(scalars))  # must survive JSON
    restored = make_nsga2(problem, bounds, problem.to_genomes(arrays["X"]), 16, seed=9)
    restore_state(restored, scalars, arrays)
    assert np.array_equal(problem.to_genomes(algorithm.ask().get("X")), problem.to_genomes(restored.ask().get("X")))


def test_sensitivity_bounds_remove_choices_with_large_weight_error(small):
    table = decode(small, largest_genome(small))
    rng = np.random.default_rng(0)
    weights = []
    for row in table.rows():
        w = rng.standard_normal((row["c_out"], 9)).astype(np.float32)
        w[: row["c_out"] // 2] *= 1e-3  # half the channels nearly empty: pruning them is cheap
        weights.append(w)
    loose, _ = sensitivity_bounds(small, weights, threshold=10.0)
    assert np.array_equal(loose.low, GeneBounds(small).low) and np.array_equal(loose.high, GeneBounds(small).high)
    tight, report = sensitivity_bounds(small, weights, threshold=0.05)
    w_genes = [g for g, n in enumerate(small.gene_names) if n.endswith("weight_bits") and small.upper_bounds[g] > 1]
    p_genes = [g for g, n in enumerate(small.gene_names) if n.endswith("prune") and small.upper_bounds[g] > 1]
    assert all(small.gene_choices[g][tight.low[g]] > 2 for g in w_genes)  # 2-bit weights are too coarse
    assert all(small.gene_choices[g][tight.high[g]] in (0.25, 0.5) for g in p_genes)  # only empty channels go
    assert report and all(entry["error"] > 0.05 for entries in report.values() for entry in entries)
