"""Model selection by cross-validated rank correlation (after NSGANetV2's adaptive switching).

Each family is scored by k-fold cross-validated Kendall τ between predicted and true targets,
repeated with reshuffled folds while records are few (:func:`cv_repeats`), and ranked by
``mean τ − std τ`` over all folds, as NSGANetV2 does. The ``ensemble`` family (mean of a GP and
trees) is the default: on small archives the fold τs are too noisy to tell families apart —
on the digits benchmark, picking the best ``mean − std`` at 50 records landed within 0.02 τ
of the held-out best in only half the repeats, while the ensemble was within 0.02 in 9 of 10.
Another family replaces it only when its fold-wise τ beats the ensemble's, fold by fold, by
more than one standard error corrected for the overlap of cross-validation training sets
(Nadeau & Bengio 2003: variance × (1/J + 1/(k−1)) for J paired folds of k-fold CV). The
chosen family is refitted on all records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nasco.surrogate.predictors import FAMILIES, Predictor, PredictorError, default_families, make_predictor

DEFAULT_FAMILY = "ensemble"


@dataclass(frozen=True)
class FamilyScore:
    """Cross-validation of one family: Kendall τ per fold (and its mean, std), Spearman ρ, RMSE."""

    family: str
    fold_taus: tuple[float, ...]
    rho_mean: float
    rmse: float

    @property
    def tau_mean(self) -> float:
        return float(np.mean(self.fold_taus))

    @property
    def tau_std(self) -> float:
        return float(np.std(self.fold_taus))

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


def cv_repeats(n_records: int) -> int:
    """Cross-validation repeats: 3 below 300 records, where folds hold under 60 records and one
    shuffle's τ is noisy; 1 from there (which also keeps selection on 1,000 records fast)."""
    return 3 if n_records < 300 else 1


def min_training_records(families: list[str] | None = None, folds: int = 5) -> int:
    """The fewest records :func:`select_predictor` accepts for ``families``: every k-fold training
    set (the records less the largest fold) must hold what each family needs, and every fold ≥ 2.

    Campaign validation (``search.surrogate_min_records``) uses the same number.
    """
    if folds < 2:
        raise PredictorError(f"folds: {folds} is not allowed; allowed: integers ≥ 2")
    families = families or default_families()
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise PredictorError(f"families: {unknown} are unknown; allowed: {sorted(FAMILIES)}")
    need = max(FAMILIES[f].min_records for f in families)
    n = 2 * folds
    while n - math.ceil(n / folds) < need:
        n += 1
    return n


def cross_validate(family: str, X: np.ndarray, y: np.ndarray, *, folds: int = 5, repeats: int = 1,
                   seed: int = 0) -> FamilyScore:
    """k-fold cross-validation of one family, ``repeats`` times with folds reshuffled from ``seed``.

    Repeat r shuffles with seed + r, so every family is scored on the same folds (paired).
    """
    n = len(y)
    if n < min_training_records([family], folds):
        raise PredictorError(f"cross-validation: {n} records are too few for {family} with {folds} folds; need at "
                             f"least {min_training_records([family], folds)}")
    taus, rhos, sq = [], [], []
    for r in range(repeats):
        order = np.random.default_rng(seed + r).permutation(n)
        for fold in np.array_split(order, folds):
            train = np.setdiff1d(order, fold, assume_unique=True)
            mean, _ = make_predictor(family, seed=seed + r).fit(X[train], y[train]).predict(X[fold])
            tau, rho, rmse = rank_quality(y[fold], mean)
            taus.append(tau)
            rhos.append(rho)
            sq.append(rmse**2 * len(fold))
    return FamilyScore(family, tuple(taus), float(np.mean(rhos)), float(np.sqrt(np.sum(sq) / (n * repeats))))


def beats(challenger: FamilyScore, incumbent: FamilyScore, folds: int) -> bool:
    """Whether ``challenger``'s fold τs exceed ``incumbent``'s (same folds) by more than one
    Nadeau–Bengio corrected standard error of their mean difference."""
    d = np.subtract(challenger.fold_taus, incumbent.fold_taus)
    if len(d) < 2:
        return bool(d.mean() > 0)
    return bool(d.mean() > math.sqrt((1 / len(d) + 1 / (folds - 1)) * d.var(ddof=1)))


def choose(scores: list[FamilyScore], folds: int) -> list[FamilyScore]:
    """The scores, the chosen family first (see the module docstring), the rest by ``score``."""
    ranked = sorted(scores, key=lambda s: s.score, reverse=True)
    default = next((s for s in ranked if s.family == DEFAULT_FAMILY), None)
    if default is None:
        return ranked
    challengers = [s for s in ranked if s is not default and beats(s, default, folds)]
    chosen = challengers[0] if challengers else default
    return [chosen, *(s for s in ranked if s is not chosen)]


def select_predictor(X: np.ndarray, y: np.ndarray, *, families: list[str] | None = None, folds: int = 5,
                     seed: int = 0) -> tuple[Predictor, list[FamilyScore]]:
    """Cross-validate ``families`` (all by default), refit the chosen one on all records.

    Returns:
        (the fitted chosen predictor, the scores of every family, the chosen one first).
    """
    families = families or default_families()
    needed = min_training_records(families, folds)
    if len(y) < needed:
        raise PredictorError(f"select_predictor: {len(y)} records are too few; need at least {needed}")
    repeats = cv_repeats(len(y))
    scores = choose([cross_validate(f, X, y, folds=folds, repeats=repeats, seed=seed) for f in families], folds)
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
    families = families or default_families()
    smallest = min_training_records(families, folds)
    if not smallest <= train_size < len(y):
        raise PredictorError(f"train_size: {train_size} is not allowed; allowed: {smallest}..{len(y) - 1} "
                             f"({len(y)} records)")
    runs = []
    for r in range(repeats):
        order = np.random.default_rng(seed + r).permutation(len(y))
        train, test = order[:train_size], order[train_size:]
        taus, preds = {}, {}
        for family in families:
            preds[family] = make_predictor(family, seed=seed + r).fit(X[train], y[train]).predict(X[test])[0]
            taus[family] = rank_quality(y[test], preds[family])[0]
        repeats_cv = cv_repeats(train_size)
        scores = [cross_validate(f, X[train], y[train], folds=folds, repeats=repeats_cv, seed=seed + r)
                  for f in families]
        selected = choose(scores, folds)[0].family
        runs.append(HoldoutRun(taus, selected, y[test], preds[selected]))
    return runs
