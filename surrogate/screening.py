"""Screening (pre-selection): choose the K offspring worth training out of many.

Exploitation: non-dominated sorting (Deb et al. 2002) on (predicted error, costs…), fronts
taken in order, the last one cut by crowding distance. Exploration: the rest is chosen the
same way on the optimistic error μ − κσ (a lower confidence bound), so uncertain candidates
get their chance. Infeasible candidates and those marked as excluded (already archived,
duplicates) are never chosen.
"""

from __future__ import annotations

import numpy as np

from nasco.kernels.pareto import crowding_distance, pareto_ranks
from nasco.surrogate.predictors import PredictorError


def _pick(F: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``candidates`` (indices into F) by front, then crowding within the cut front."""
    if k <= 0 or not len(candidates):
        return np.zeros(0, dtype=np.int64)
    ranks = pareto_ranks(F[candidates])
    chosen: list[int] = []
    for rank in range(ranks.max() + 1):
        front = candidates[ranks == rank]
        if len(chosen) + len(front) <= k:
            chosen.extend(front.tolist())
        else:
            crowd = crowding_distance(F[front])
            order = np.argsort(-crowd, kind="stable")
            chosen.extend(front[order[: k - len(chosen)]].tolist())
        if len(chosen) >= k:
            break
    return np.array(chosen, dtype=np.int64)


def screen(mean: np.ndarray, std: np.ndarray, costs: np.ndarray, k: int, *, exploration: float = 0.25,
           kappa: float = 1.0, feasible: np.ndarray | None = None, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of at most ``k`` candidates to train.

    Args:
        mean, std: predicted error and its uncertainty, (N,).
        costs: (N, C) objectives to minimise besides the error (e.g. log BitOps, size).
        k: how many to choose.
        exploration: share of ``k`` chosen on the optimistic error ``mean − kappa·std``.
        feasible: boolean (N,); False is never chosen (default: all feasible).
        exclude: boolean (N,); True is never chosen (archived genomes, duplicates).
    """
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    costs = np.asarray(costs, np.float64).reshape(len(mean), -1)
    if k < 0 or not 0 <= exploration <= 1 or kappa < 0:
        raise PredictorError(f"screen: k={k}, exploration={exploration}, kappa={kappa} are not allowed; allowed: "
                             "k ≥ 0, 0 ≤ exploration ≤ 1, kappa ≥ 0")
    if len(std) != len(mean):
        raise PredictorError(f"screen: mean {mean.shape} and std {std.shape} differ in length")
    allowed = np.ones(len(mean), dtype=bool)
    if feasible is not None:
        allowed &= np.asarray(feasible, dtype=bool)
    if exclude is not None:
        allowed &= ~np.asarray(exclude, dtype=bool)
    allowed &= np.isfinite(mean) & np.isfinite(std) & np.isfinite(costs).all(axis=1)
    candidates = np.flatnonzero(allowed)
    n_explore = round(exploration * k)
    exploit = _pick(np.column_stack([mean, costs]), candidates, k - n_explore)
    rest = np.setdiff1d(candidates, exploit, assume_unique=True)
    explore = _pick(np.column_stack([mean - kappa * std, costs]), rest, k - len(exploit))
    return np.concatenate([exploit, explore])


def _improvement_cells(front: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The region below the reference point 1 cut into cells on which the front's best error is constant.

    Args:
        front: (P, 1 + C) points (error first, then C exact costs), scaled so the reference is 1.
        low: (C,) lowest cost of any candidate (where the first cell starts).
    Returns:
        (cell lower corners (Q, C), upper corners (Q, C), top (Q,): the lowest front error among points
        whose costs are all ≤ the cell's lower corner — 1 where none are).
    """
    C = front.shape[1] - 1
    if C == 0:
        top = min(1.0, float(front[:, 0].min())) if len(front) else 1.0
        return np.zeros((1, 0)), np.zeros((1, 0)), np.array([top])
    edges = []
    for d in range(C):
        e = np.unique(np.concatenate([[min(low[d], 1.0)], front[:, 1 + d], [1.0]]))
        edges.append(e[e <= 1.0])
    lower = np.stack(np.meshgrid(*[e[:-1] for e in edges], indexing="ij"), -1).reshape(-1, C)
    upper = np.stack(np.meshgrid(*[e[1:] for e in edges], indexing="ij"), -1).reshape(-1, C)
    top = np.ones(len(lower))
    for point in front:  # P passes over the cells: no (cells × P) matrix
        covers = np.all(point[1:] <= lower, axis=1)
        top[covers] = np.minimum(top[covers], point[0])
    return lower, upper, top


def expected_improvement(front: np.ndarray, mean: np.ndarray, std: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Expected hypervolume improvement (N,) of candidates over ``front``, reference point 1 (minimised).

    A candidate's error is Gaussian (``mean``, ``std``, (N,)) and its C ``costs`` (N, C) are exact, so
    the improvement is, in closed form, a sum over the cells of :func:`_improvement_cells` of
    volume(cell ∩ [costs, 1]) × E[max(top − error, 0)]; with std 0 it is the exact hypervolume
    improvement. Cost O(N × cells), cells ≤ (P + 2)^C.
    """
    from scipy.stats import norm

    lower, upper, top = _improvement_cells(front, costs.min(axis=0) if len(costs) else np.zeros(costs.shape[1]))
    gain = np.zeros(len(mean))
    step = max(1, 4_000_000 // len(top))
    for start in range(0, len(mean), step):
        block = slice(start, start + step)
        volume = np.prod(np.clip(upper[None] - np.maximum(lower[None], costs[block, None, :]), 0.0, None), axis=2)
        mu, sigma = mean[block, None], std[block, None]
        gap = top[None] - mu
        with np.errstate(divide="ignore", invalid="ignore"):
            z = gap / sigma
            expected = np.where(sigma > 0, gap * norm.cdf(z) + sigma * norm.pdf(z), np.maximum(gap, 0.0))
        gain[block] = (volume * expected).sum(axis=1)
    return gain


def hypervolume_picks(mean: np.ndarray, std: np.ndarray, costs: np.ndarray, front: np.ndarray, k: int, *,
                      exploration: float = 0.1, kappa: float = 1.0, feasible: np.ndarray | None = None,
                      exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of at most ``k`` candidates, chosen greedily by hypervolume improvement over the true front.

    Each pick maximises the hypervolume its predicted point (``mean``, ``costs``) adds to the known
    ``front`` plus the picks before it (their predicted points believed, as in batch Bayesian
    optimisation's "kriging believer"); the last ``round(exploration·k)`` picks use the optimistic
    error ``mean − kappa·std``. When no candidate is predicted to improve, the expected improvement
    under the predictive Gaussian (:func:`expected_improvement`) ranks them instead, and when that
    vanishes too, the lowest predicted error among the predicted non-dominated ones.

    Args:
        mean, std: predicted error (any monotone scale, e.g. log error) and its uncertainty, (N,).
        costs: (N, C) exact objectives to minimise besides the error.
        front: (P, 1 + C) the known records' non-dominated points (error on the scale of ``mean``).
        k: how many to choose; exploration, kappa, feasible, exclude: as in :func:`screen`.
    """
    mean, std = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    costs = np.asarray(costs, np.float64).reshape(len(mean), -1)
    front = np.asarray(front, np.float64).reshape(-1, 1 + costs.shape[1])
    if k < 0 or not 0 <= exploration <= 1 or kappa < 0:
        raise PredictorError(f"hypervolume_picks: k={k}, exploration={exploration}, kappa={kappa} are not allowed; "
                             "allowed: k ≥ 0, 0 ≤ exploration ≤ 1, kappa ≥ 0")
    if len(std) != len(mean):
        raise PredictorError(f"hypervolume_picks: mean {mean.shape} and std {std.shape} differ in length")
    allowed = np.isfinite(mean) & np.isfinite(std) & np.isfinite(costs).all(axis=1)
    if feasible is not None:
        allowed &= np.asarray(feasible, dtype=bool)
    if exclude is not None:
        allowed &= ~np.asarray(exclude, dtype=bool)
    candidates = np.flatnonzero(allowed)
    k = min(k, len(candidates))
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    optimistic = mean - kappa * std
    points = np.column_stack([mean, costs])[candidates]
    known = front[np.all(np.isfinite(front), axis=1)]
    # scale: the candidates' lowest (optimistic) values → 0, the front's worst plus a tenth of the range → 1
    low = np.minimum(np.column_stack([optimistic, costs])[candidates].min(axis=0),
                     known.min(axis=0) if len(known) else np.inf)
    high = known.max(axis=0) if len(known) else points.max(axis=0)
    high = high + 0.1 * np.maximum(high - low, 1e-12)
    span = np.maximum(high - low, 1e-12)
    believed = (known - low) / span
    scaled_costs = (costs[candidates] - low[1:]) / span[1:]
    mu, opt, sigma = (mean[candidates] - low[0]) / span[0], (optimistic[candidates] - low[0]) / span[0], \
        std[candidates] / span[0]
    free = np.ones(len(candidates), dtype=bool)
    chosen: list[int] = []
    n_explore = round(exploration * k)
    for pick in range(k):
        error = opt if pick >= k - n_explore else mu
        gain = expected_improvement(believed, error, np.zeros_like(error), scaled_costs)
        if not (gain[free] > 0).any():
            gain = expected_improvement(believed, error, sigma, scaled_costs)
        if not (gain[free] > 0).any():
            open_ = np.flatnonzero(free)
            nd = open_[pareto_ranks(np.column_stack([error, scaled_costs])[open_]) == 0]
            gain = np.full(len(error), -np.inf)
            gain[nd] = -error[nd]
        gain[~free] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        free[best] = False
        believed = np.vstack([believed, np.append(mu[best], scaled_costs[best])])
    return candidates[np.array(chosen, dtype=np.int64)]
