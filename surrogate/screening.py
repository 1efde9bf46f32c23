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
