"""Transfer between tasks of one search space: the source task's prediction as a feature.

A predictor is selected and fitted on the source task's records; its prediction becomes an
extra feature of the target task. Whether the target uses it is decided by the same
cross-validation as the families (plain vs. augmented features), so transfer is used only
when it ranks the target's records better (Kendall τ mean − std), never on faith.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasco.surrogate.predictors import Predictor, PredictorError
from nasco.surrogate.selection import FamilyScore, select_predictor


@dataclass
class TransferPredictor:
    """A target predictor that may use a source predictor's output as its last feature."""

    target: Predictor
    source: Predictor | None

    def _features(self, X: np.ndarray) -> np.ndarray:
        if self.source is None:
            return X
        return np.column_stack([X, self.source.predict(X)[0]])

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.target.predict(self._features(np.asarray(X, dtype=np.float64)))

    @property
    def uses_transfer(self) -> bool:
        return self.source is not None


def fit_with_transfer(X: np.ndarray, y: np.ndarray, X_source: np.ndarray | None = None,
                      y_source: np.ndarray | None = None, *, source: Predictor | None = None,
                      families: list[str] | None = None, folds: int = 5, seed: int = 0
                      ) -> tuple[TransferPredictor, dict[str, list[FamilyScore]]]:
    """Select between the plain target surrogate and one with the source prediction as a feature.

    Args:
        X, y: the target task's records.
        X_source, y_source: the source task's records (a predictor is selected on them), or
        source: an already fitted source predictor.

    Returns:
        (the chosen predictor, the cross-validation scores of both options keyed "plain"/"transfer").
    """
    if source is None:
        if X_source is None or y_source is None:
            raise PredictorError("fit_with_transfer: give the source records or a fitted source predictor")
        source, _ = select_predictor(X_source, y_source, families=families, folds=folds, seed=seed)
    plain, plain_scores = select_predictor(X, y, families=families, folds=folds, seed=seed)
    augmented = np.column_stack([X, source.predict(X)[0]])
    transferred, transfer_scores = select_predictor(augmented, y, families=families, folds=folds, seed=seed)
    scores = {"plain": plain_scores, "transfer": transfer_scores}
    if transfer_scores[0].score > plain_scores[0].score:
        return TransferPredictor(transferred, source), scores
    return TransferPredictor(plain, None), scores
