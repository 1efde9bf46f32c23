"""Numba kernels over plain arrays: batch genome decoding and exact costs (docs/ARCHITECTURE.md §2)."""

from nasco.kernels.cost import batch_costs
from nasco.kernels.tables import COST_NAMES, LAYER_COLUMNS, CompiledSpace

__all__ = ["COST_NAMES", "LAYER_COLUMNS", "CompiledSpace", "batch_costs"]
