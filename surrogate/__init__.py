"""Accuracy predictors over numeric features, model selection, screening and transfer (docs/ARCHITECTURE.md §6).

The package sees numeric matrices only (features are built by ``nasco.evo.space.features``), so it
serves any search space.
"""

from nasco.surrogate.predictors import (
                                       FAMILIES,
                                       Predictor,
                                       PredictorError,
                                       default_families,
                                       make_predictor,
                                       register_family,
)
from nasco.surrogate.screening import expected_improvement, hypervolume_picks, screen
from nasco.surrogate.selection import FamilyScore, cross_validate, min_training_records, rank_quality, select_predictor
from nasco.surrogate.transfer import TransferPredictor, fit_with_transfer

__all__ = ["FAMILIES", "FamilyScore", "Predictor", "PredictorError", "TransferPredictor", "cross_validate",
           "default_families", "expected_improvement", "fit_with_transfer", "hypervolume_picks", "make_predictor",
           "min_training_records", "rank_quality", "register_family", "screen", "select_predictor"]
