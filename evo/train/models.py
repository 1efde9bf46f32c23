"""Torch models by space kind (DESIGN.md §2: ``evo.train`` owns the model builder of each network kind).

A builder takes a compiled layout and a canonical genome and returns the torch module that
trains it (``slim=False``: full width with channel masks, for gradual pruning; ``slim=True``:
physically pruned, for export and inference). ``mobilenet`` is built from the genome's layer
table (:func:`~nasco.evo.train.builder.build_model`), ``sequence`` from its sequence layer table
(:func:`~nasco.evo.train.sequence_model.build_sequence_model`); a new network kind registers its own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from nasco.evo.errors import SpaceError
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.genome import decode
from nasco.evo.space.kinds import kind_of
from nasco.evo.train.builder import build_model
from nasco.evo.train.sequence_model import build_sequence_model

ModelBuilder = Callable[[SpaceLayout, np.ndarray, bool], nn.Module]
_BUILDERS: dict[str, ModelBuilder] = {
    "mobilenet": lambda layout, genome, slim: build_model(decode(layout, genome), slim=slim),
    "sequence": lambda layout, genome, slim: build_sequence_model(layout.decode(genome), slim=slim),
}


def register_model_builder(kind: str, builder: ModelBuilder) -> None:
    """Build models of space kind ``kind`` with ``builder(layout, genome, slim)``."""
    _BUILDERS[kind] = builder


def build_network(layout: SpaceLayout, genome: np.ndarray, *, slim: bool = True) -> nn.Module:
    """The torch model of ``genome`` in ``layout``'s space.

    Raises:
        SpaceError: a space kind without a model (``genes``: the user's evaluator owns the model).
    """
    kind = kind_of(layout.space)
    if kind not in _BUILDERS:
        raise SpaceError(f"space kind {kind!r} has no torch model builder (network kinds: "
                         f"{', '.join(sorted(_BUILDERS))}); register one with register_model_builder")
    return _BUILDERS[kind](layout, genome, slim)
