"""Model selection by cross-validated rank correlation (NSGANetV2's adaptive switching).

Each family is scored by k-fold cross-validated Kendall τ between predicted and true
targets; the family with the best ``mean τ − std τ`` is refitted on all records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasco.surrogate.predictors import FAMILIES, Predictor, PredictorError, make_predictor


@dataclass(frozen=True)
class FamilyScore:
    """Cross-validation of one family: Kendall τ (mean, std over folds), Spearman ρ, RMSE."""

    family: str
    tau_mean: float
    tau_std: float
    rho_mean: float
    rmse: float

    @property
    def score(self) -> float:
        return self.tau_mean - self.tau_std


def rank_quality(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    """(Kendall τ, Spearman ρ, RMSE); a constant prediction has τ = ρ = 0."""
    if np.ptp(y_pred) == 0 or np.ptp(y_true) == 0:
        tau = rho = 0.0
    else:
        tau, rho = float(kendalltau(y_true, y_pred).statistic), float(spearmanr(y_true, y_pred).statistic)
    return tau, rho, float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def cross_validate(family: str, X: np.ndarray, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> FamilyScore:
    """k-fold cross-validation of one family (folds shuffled with ``seed``)."""
    n = len(y)
    if n < 2 * folds:
        raise PredictorError(f"cross-validation: {n} records are too few for {folds} folds; need at least "
                             f"{2 * folds}")
    order = np.random.default_rng(seed).permutation(n)
    taus, rhos, sq = [], [], []
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold, assume_unique=True)
        mean, _ = make_predictor(family, seed=seed).fit(X[train], y[train]).predict(X[fold])
        tau, rho, rmse = rank_quality(y[fold], mean)
        taus.append(tau)
        rhos.append(rho)
        sq.append(rmse**2 * len(fold))
    return FamilyScore(family, float(np.mean(taus)), float(np.std(taus)), float(np.mean(rhos)),
                       float(np.sqrt(np.sum(sq) / n)))


def select_predictor(X: np.ndarray, y: np.ndarray, *, families: list[str] | None = None, folds: int = 5,
                     seed: int = 0) -> tuple[Predictor, list[FamilyScore]]:
    """Cross-validate ``families`` (all by default), refit the best on all records.

    Returns:
        (the fitted best predictor, the scores of every family, best first).
    """
    families = families or sorted(FAMILIES)
    needed = max(2 * folds, *(FAMILIES[f].min_records for f in families if f in FAMILIES))
    if len(y) < needed:
        raise PredictorError(f"select_predictor: {len(y)} records are too few; need at least {needed}")
    scores = sorted((cross_validate(f, X, y, folds=folds, seed=seed) for f in families),
                    key=lambda s: s.score, reverse=True)
    return make_predictor(scores[0].family, seed=seed).fit(X, y), scores


@dataclass(frozen=True)
class HoldoutRun:
    """One repeat of :func:`holdout_evaluation`: held-out τ per family, the selected family."""

    tau: dict[str, float]
    selected: str
    y_true: np.ndarray
    y_pred: np.ndarray  # the selected family's held-out predictions

    @property
    def selected_tau(self) -> float:
        return self.tau[self.selected]


def holdout_evaluation(X: np.ndarray, y: np.ndarray, train_size: int, *, repeats: int = 5,
                       families: list[str] | None = None, folds: int = 5, seed: int = 0) -> list[HoldoutRun]:
    """Estimate ranking quality at a training size: per repeat, a random ``train_size`` subset
    trains every family (selection by CV on that subset only), the rest is held out."""
    families = families or sorted(FAMILIES)
    if not 2 * folds <= train_size < len(y):
        raise PredictorError(f"train_size: {train_size} is not allowed; allowed: {2 * folds}..{len(y) - 1} "
                             f"({len(y)} records)")
    runs = []
    for r in range(repeats):
        order = np.random.default_rng(seed + r).permutation(len(y))
        train, test = order[:train_size], order[train_size:]
        taus, preds = {}, {}
        for family in families:
            preds[family] = make_predictor(family, seed=seed + r).fit(X[train], y[train]).predict(X[test])[0]
            taus[family] = rank_quality(y[test], preds[family])[0]
        scores = [cross_validate(f, X[train], y[train], folds=folds, seed=seed + r) for f in families]
        selected = max(scores, key=lambda s: s.score).family
        runs.append(HoldoutRun(taus, selected, y[test], preds[selected]))
    return runs
