"""Non-dominated sorting kernel equals its reference and pymoo; crowding distance."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from nasco.kernels.pareto import crowding_distance, non_dominated, pareto_ranks, pareto_ranks_reference


@pytest.mark.parametrize(("n", "m", "seed"), [(1, 2, 0), (50, 2, 1), (200, 3, 2), (300, 4, 3)])
def test_ranks_equal_reference_and_pymoo(n, m, seed):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 12, (n, m)).astype(float)  # many ties and duplicates
    ranks = pareto_ranks(F)
    np.testing.assert_array_equal(ranks, pareto_ranks_reference(F))
    pymoo_ranks = np.empty(n, dtype=int)
    for r, front in enumerate(NonDominatedSorting().do(F)):
        pymoo_ranks[front] = r
    np.testing.assert_array_equal(ranks, pymoo_ranks)


@pytest.mark.parametrize(("n", "m", "seed"), [(0, 2, 0), (1, 2, 0), (60, 2, 1), (400, 3, 2), (500, 4, 3)])
def test_first_front_equals_rank_zero_of_the_reference(n, m, seed):
    rng = np.random.default_rng(seed)
    F = rng.integers(0, 10, (n, m)).astype(float)  # ties and exact duplicates (both stay on the front)
    np.testing.assert_array_equal(non_dominated(F), pareto_ranks_reference(F) == 0)
    G = rng.random((n, m))
    np.testing.assert_array_equal(non_dominated(G), pareto_ranks_reference(G) == 0)


def test_nan_refused():
    with pytest.raises(ValueError, match="contains NaN"):
        pareto_ranks(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="contains NaN"):
        non_dominated(np.array([[1.0, np.nan]]))


def test_crowding_distance():
    F = np.array([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]])
    d = crowding_distance(F)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx((2 - 0) / 4 + (4 - 1) / 4) and d[2] == pytest.approx((4 - 1) / 4 + (2 - 0) / 4)
