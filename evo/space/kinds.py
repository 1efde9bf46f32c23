"""The space-kind registry and the built-in kinds: ``mobilenet`` (the MobileNetV2/OFA-like image space),
``sequence`` (token classifiers of 1-D conv and transformer blocks) and ``genes``.

This module is the top of :mod:`nasco.evo.space`: it imports every built-in kind and registers it, so
that asking the registry for a kind never imports upward."""

from __future__ import annotations

from typing import Any

from nasco.evo.errors import SpaceError
from nasco.evo.registry import Registry, instance_of
from nasco.evo.space.base import SpaceKind, SpaceLayout
from nasco.evo.space.default import default_space
from nasco.evo.space.genes import GenesKind, GenesSpace
from nasco.evo.space.layout import compile_space
from nasco.evo.space.mobilenet import SearchSpace, mobilenet_from_dict
from nasco.evo.space.sequence_layout import SequenceKind


class MobileNetKind(SpaceKind):
    """Inverted-residual stages with per-layer bits and per-group prune ratios (docs/ARCHITECTURE.md §3)."""

    name = "mobilenet"
    network = True
    model = "nasco.evo.train.models:MOBILENET"
    inputs = "images"
    features = frozenset({"preprocess", "latency_table", "supernet"})

    def from_dict(self, data: dict) -> SearchSpace:
        return mobilenet_from_dict({k: v for k, v in data.items() if k != "kind"})

    def compile(self, space: SearchSpace) -> SpaceLayout:
        return compile_space(space)

    def default(self, input_shape: tuple[int, int, int], num_classes: int) -> SearchSpace:
        return default_space(input_shape, num_classes)

    def default_for(self, task: Any) -> SearchSpace:
        if getattr(task, "is_text", False):
            raise SpaceError(f"space kind 'mobilenet': task {task.name!r} holds texts; allowed: [space] kind = "
                             "\"sequence\" for text tasks")
        return self.default(tuple(task.input_shape), task.num_classes)


SPACE_KINDS: Registry[SpaceKind] = Registry("space.kind", "nasco.space_kinds",
                                            {k.name: k for k in (MobileNetKind(), SequenceKind(), GenesKind())},
                                            check=instance_of(SpaceKind, "space.kind", SpaceError),
                                            error=SpaceError)


def register_space_kind(kind: SpaceKind) -> SpaceKind:
    """Add a kind to the registry under ``kind.name`` (replacing one of that name)."""
    if not kind.name:
        raise SpaceError("a space kind needs a non-empty name")
    SPACE_KINDS.register(kind.name, kind)
    return kind


def space_kinds() -> dict[str, SpaceKind]:
    """The registered and installed kinds by name."""
    return {name: space_kind(name) for name in SPACE_KINDS.names()}


def space_kind(name: str) -> SpaceKind:
    """The kind ``name`` names: registered, installed (entry-point group ``nasco.space_kinds``) or an import
    path; a kind loaded by path is registered under its own ``name`` too, since its spaces carry that name."""
    kind = SPACE_KINDS.get(name)
    if not SPACE_KINDS.registered(kind.name):
        SPACE_KINDS.register(kind.name, kind)
    return kind


__all__ = ["SPACE_KINDS", "GenesKind", "GenesSpace", "MobileNetKind", "SequenceKind", "compile_any",
           "kind_for_inputs", "kind_of", "register_space_kind", "space_kind", "space_kinds"]


def kind_for_inputs(inputs: str) -> SpaceKind:
    """The network kind whose default space is made for ``inputs`` ("images" or "texts"): the built-in one,
    else the first other registered or installed kind by name."""
    for name in dict.fromkeys([*SPACE_KINDS.builtins, *SPACE_KINDS.names()]):
        kind = space_kind(name)
        if kind.network and kind.inputs == inputs:
            return kind
    raise SpaceError(f"no registered network space kind serves {inputs}; give a space file")


def kind_of(space: Any) -> str:
    """The kind name of a declared space (``mobilenet`` spaces carry no ``kind`` field)."""
    return getattr(space, "kind", "mobilenet")


def compile_any(space: Any) -> SpaceLayout:
    """The layout of a declared space of any registered kind."""
    return space_kind(kind_of(space)).compile(space)
