"""Torch models by space kind (docs/ARCHITECTURE.md §2: ``evo.train`` owns the model builder of each network kind).

A :class:`NetworkKind` says how to train a network kind's genomes: ``build(layout, genome, slim)``
returns the torch module (``slim=False``: full width with masks on the prunable groups, for
gradual pruning; ``slim=True``: physically pruned, for export and inference), ``slim(model,
layout, genome)`` copies a trained masked model into its slim network, ``example`` gives the
(shape, dtype) of one input for the counting pass, ``mismatch(layout, task)`` says why a task
cannot train the space (None when it can), and the optional ``pad(model, layout, genome,
channel_multiple, depthwise_kernel)`` pads a masked model's layer shapes (``TrainConfig``).
``mobilenet`` is built from the genome's layer table (:func:`~nasco.evo.train.builder.build_model`);
``sequence``'s lives with its model (:data:`nasco.evo.train.sequence_model.SEQUENCE_NETWORK`). A
space kind names its NetworkKind by import path in ``SpaceKind.model``, so that the space layer
declares everything about a kind in one place without importing torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nasco.evo.errors import SpaceError
from nasco.evo.registry import load_entry
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.genome import decode
from nasco.evo.space.kinds import kind_of, space_kind
from nasco.evo.train.builder import build_model
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.padding import pad_network
from nasco.evo.train.pruning import slim

ModelBuilder = Callable[[SpaceLayout, np.ndarray, bool], nn.Module]


@dataclass(frozen=True)
class NetworkKind:
    """How nasco's trainer builds, slims and counts one space kind's networks (see the module docstring)."""

    build: ModelBuilder
    slim: Callable[[nn.Module, SpaceLayout, np.ndarray], nn.Module]
    example: Callable[[Any], tuple[tuple[int, ...], torch.dtype]]
    mismatch: Callable[[Any, Any], str | None]
    export_formats: tuple[str, ...] = ("float",)  # nasco export --format: packed, qdq, float (ONNX)
    default_formats: tuple[str, ...] = ()  # written when --format is not given (besides model.pt)
    pad: Callable[[nn.Module, SpaceLayout, np.ndarray, int, int], nn.Module] | None = None


def _image_mismatch(space, task) -> str | None:
    if getattr(task, "is_text", False):
        return f"task {task.name!r} holds texts; the space is an image space (kind mobilenet)"
    if tuple(task.input_shape) != tuple(space.input_shape) or task.num_classes != space.num_classes:
        return (f"task {task.name!r} has input {list(task.input_shape)} and {task.num_classes} classes; the space "
                f"expects {list(space.input_shape)} and {space.num_classes}")
    return None


MOBILENET = NetworkKind(
    build=lambda layout, genome, slim: build_model(decode(layout, genome), slim=slim),
    slim=lambda model, layout, genome: slim(model, decode(layout, genome)),
    example=lambda space: (tuple(space.input_shape), torch.float32),
    mismatch=_image_mismatch,
    export_formats=("packed", "qdq", "float"), default_formats=("packed",),
    pad=lambda model, layout, genome, multiple, kernel: pad_network(model, decode(layout, genome),
                                                                    channel_multiple=multiple, depthwise_kernel=kernel))

def network_kind(layout: SpaceLayout) -> NetworkKind:
    """The :class:`NetworkKind` that ``layout``'s space kind names in its ``model`` (an import path).

    Raises:
        SpaceError: a space kind without a model (``genes``: the user's evaluator owns the model), or a
            ``model`` that is no NetworkKind.
    """
    kind = space_kind(kind_of(layout.space))
    if not kind.model:
        raise SpaceError(f"space kind {kind.name!r} has no torch model (its SpaceKind names no NetworkKind in "
                         "`model`): nasco's trainer cannot build its genomes; evaluate them with your own evaluator")
    network = load_entry(kind.model, f"space kind {kind.name!r}: model")  # an imported module: a dict look-up
    if not isinstance(network, NetworkKind):
        raise SpaceError(f"space kind {kind.name!r}: model = {kind.model!r} is a {type(network).__name__}; "
                         "allowed: a NetworkKind (nasco.evo.train.models.NetworkKind)")
    return network


def build_network(layout: SpaceLayout, genome: np.ndarray, *, slim: bool = True) -> nn.Module:
    """The torch model of ``genome`` in ``layout``'s space (see :func:`network_kind` for errors)."""
    return network_kind(layout).build(layout, genome, slim)


def count_network(model: nn.Module, layout: SpaceLayout, device: str = "meta") -> tuple[int, int]:
    """(MACs of conv, linear and attention-matmul layers from forward hooks, their weight and bias
    elements) of ``model`` for one input of ``layout``'s space."""
    shape, dtype = network_kind(layout).example(layout.space)
    return count_macs_params(model, shape, device, dtype)
