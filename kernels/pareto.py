"""Non-dominated sorting (Deb et al. 2002) and crowding distance, for minimisation.

``pareto_ranks`` is a Numba kernel: front index (0 = non-dominated) of every row of an
objective matrix F (N, M); ``pareto_ranks_reference`` is the plain NumPy reference, and
``crowding_distance`` the NSGA-II crowding of one front (boundary points get +inf).
``non_dominated`` finds the first front alone in O(N log N + N·|front|) (rows sorted
lexicographically can only be dominated by earlier rows, and checking the front kept so far
suffices by transitivity), for archives of 10⁵ records and more.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _ranks(F, out):  # pragma: no cover - jitted
    n, m = F.shape
    dominated_by = np.zeros(n, dtype=np.int64)  # how many points dominate i
    dominates = np.zeros((n, n), dtype=np.bool_)
    for i in range(n):
        for j in range(i + 1, n):
            i_better = False
            j_better = False
            for k in range(m):
                if F[i, k] < F[j, k]:
                    i_better = True
                elif F[j, k] < F[i, k]:
                    j_better = True
            if i_better and not j_better:
                dominates[i, j] = True
                dominated_by[j] += 1
            elif j_better and not i_better:
                dominates[j, i] = True
                dominated_by[i] += 1
    current = np.empty(n, dtype=np.int64)
    size = 0
    for i in range(n):
        out[i] = -1
        if dominated_by[i] == 0:
            current[size] = i
            size += 1
    rank = 0
    following = np.empty(n, dtype=np.int64)
    while size > 0:
        next_size = 0
        for a in range(size):
            i = current[a]
            out[i] = rank
            for j in range(n):
                if dominates[i, j]:
                    dominated_by[j] -= 1
                    if dominated_by[j] == 0:
                        following[next_size] = j
                        next_size += 1
        current[:next_size] = following[:next_size]
        size = next_size
        rank += 1


def _objectives(F: np.ndarray) -> np.ndarray:
    """F as contiguous float64 (N, M); other shapes and NaN are refused."""
    F = np.ascontiguousarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"F: shape {F.shape} is not allowed; allowed: (N, M)")
    if np.isnan(F).any():
        raise ValueError("F: contains NaN; allowed: numbers (use +inf for a missing objective)")
    return F


def pareto_ranks(F: np.ndarray) -> np.ndarray:
    """Front index of each row of F (N, M) under minimisation, int64 (N,); NaN rows are refused."""
    F = _objectives(F)
    out = np.empty(F.shape[0], dtype=np.int64)
    _ranks(F, out)
    return out


def pareto_ranks_reference(F: np.ndarray) -> np.ndarray:
    """Reference: peel non-dominated sets with NumPy broadcasting."""
    F = np.asarray(F, dtype=np.float64)
    ranks = np.full(len(F), -1, dtype=np.int64)
    remaining = np.arange(len(F))
    rank = 0
    while len(remaining):
        sub = F[remaining]
        le = (sub[:, None, :] <= sub[None, :, :]).all(axis=2)
        lt = (sub[:, None, :] < sub[None, :, :]).any(axis=2)
        dominated = (le & lt).any(axis=0)
        ranks[remaining[~dominated]] = rank
        remaining = remaining[dominated]
        rank += 1
    return ranks


def crowding_distance(F: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of the points of one front F (N, M); extremes get +inf."""
    F = np.asarray(F, dtype=np.float64)
    n, m = F.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(F[:, k], kind="stable")
        span = F[order[-1], k] - F[order[0], k]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (F[order[2:], k] - F[order[:-2], k]) / span
    return distance


@numba.njit(cache=True, nogil=True)
def _first_front(F, order, out):  # pragma: no cover - jitted
    m = F.shape[1]
    front = np.empty(F.shape[0], dtype=np.int64)
    size = 0
    for i in order:
        dominated = False
        for a in range(size):
            j = front[a]
            no_worse = True
            better = False
            for k in range(m):
                if F[j, k] > F[i, k]:
                    no_worse = False
                    break
                if F[j, k] < F[i, k]:
                    better = True
            if no_worse and better:
                dominated = True
                break
        if not dominated:
            front[size] = i
            size += 1
            out[i] = True


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask (N,) of the rows of F (N, M) no other row dominates (minimisation); NaN refused."""
    F = _objectives(F)
    out = np.zeros(F.shape[0], dtype=np.bool_)
    if F.shape[0]:
        _first_front(F, np.lexsort(F.T[::-1]).astype(np.int64), out)
    return out
