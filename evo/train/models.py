"""Torch models by space kind (docs/ARCHITECTURE.md §2: ``evo.train`` owns the model builder of each network kind).

A :class:`NetworkKind` says how to train a network kind's genomes: ``build(layout, genome, slim)``
returns the torch module (``slim=False``: full width with masks on the prunable groups, for
gradual pruning; ``slim=True``: physically pruned, for export and inference), ``slim(model,
layout, genome)`` copies a trained masked model into its slim network, ``example`` gives the
(shape, dtype) of one input for the counting pass, and ``mismatch(layout, task)`` says why a task
cannot train the space (None when it can). ``mobilenet`` is built from the genome's layer table
(:func:`~nasco.evo.train.builder.build_model`), ``sequence`` from its sequence layer table
(:func:`~nasco.evo.train.sequence_model.build_sequence_model`); a new kind registers its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nasco.evo.errors import SpaceError
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.genome import decode
from nasco.evo.space.kinds import kind_of
from nasco.evo.train.builder import build_model
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.pruning import slim
from nasco.evo.train.sequence_model import build_sequence_model, slim_sequence

ModelBuilder = Callable[[SpaceLayout, np.ndarray, bool], nn.Module]


@dataclass(frozen=True)
class NetworkKind:
    """How nasco's trainer builds, slims and counts one space kind's networks (see the module docstring)."""

    build: ModelBuilder
    slim: Callable[[nn.Module, SpaceLayout, np.ndarray], nn.Module]
    example: Callable[[Any], tuple[tuple[int, ...], torch.dtype]]
    mismatch: Callable[[Any, Any], str | None]


def _image_mismatch(space, task) -> str | None:
    if getattr(task, "is_text", False):
        return f"task {task.name!r} holds texts; the space is an image space (kind mobilenet)"
    if tuple(task.input_shape) != tuple(space.input_shape) or task.num_classes != space.num_classes:
        return (f"task {task.name!r} has input {list(task.input_shape)} and {task.num_classes} classes; the space "
                f"expects {list(space.input_shape)} and {space.num_classes}")
    return None


def _sequence_mismatch(space, task) -> str | None:
    if not getattr(task, "is_text", False):
        return f"task {task.name!r} holds images; the space is a sequence space (a text task: langid or text)"
    if (tuple(task.input_shape), task.vocab_size, task.num_classes) != ((space.max_length,), space.vocab_size,
                                                                         space.num_classes):
        return (f"task {task.name!r} has {task.input_shape[0]} tokens per text, {task.vocab_size} token ids and "
                f"{task.num_classes} classes; the space expects max_length {space.max_length}, vocab_size "
                f"{space.vocab_size} and {space.num_classes} classes")
    return None


_KINDS: dict[str, NetworkKind] = {
    "mobilenet": NetworkKind(
        build=lambda layout, genome, slim: build_model(decode(layout, genome), slim=slim),
        slim=lambda model, layout, genome: slim(model, decode(layout, genome)),
        example=lambda space: (tuple(space.input_shape), torch.float32),
        mismatch=_image_mismatch),
    "sequence": NetworkKind(
        build=lambda layout, genome, slim: build_sequence_model(layout.decode(genome), slim=slim),
        slim=lambda model, layout, genome: slim_sequence(model, layout.decode(genome)),
        example=lambda space: ((space.max_length,), torch.long),
        mismatch=_sequence_mismatch),
}


def register_network_kind(kind: str, network: NetworkKind) -> None:
    """Train genomes of space kind ``kind`` with ``network``'s builder, slimming and checks."""
    _KINDS[kind] = network


def network_kind(layout: SpaceLayout) -> NetworkKind:
    """The :class:`NetworkKind` of ``layout``'s space.

    Raises:
        SpaceError: a space kind without a model (``genes``: the user's evaluator owns the model).
    """
    kind = kind_of(layout.space)
    if kind not in _KINDS:
        raise SpaceError(f"space kind {kind!r} has no torch model builder (network kinds: "
                         f"{', '.join(sorted(_KINDS))}); register one with register_network_kind")
    return _KINDS[kind]


def build_network(layout: SpaceLayout, genome: np.ndarray, *, slim: bool = True) -> nn.Module:
    """The torch model of ``genome`` in ``layout``'s space (see :func:`network_kind` for errors)."""
    return network_kind(layout).build(layout, genome, slim)


def count_network(model: nn.Module, layout: SpaceLayout, device: str = "meta") -> tuple[int, int]:
    """(MACs of conv, linear and attention-matmul layers from forward hooks, their weight and bias
    elements) of ``model`` for one input of ``layout``'s space."""
    shape, dtype = network_kind(layout).example(layout.space)
    return count_macs_params(model, shape, device, dtype)
