"""The built-in space kinds: ``mobilenet`` (the MobileNetV2/OFA-like image space) and ``genes``."""

from __future__ import annotations

from typing import Any

from nasco.evo.space.base import SpaceKind, SpaceLayout, register_space_kind, space_kind
from nasco.evo.space.default import default_space
from nasco.evo.space.genes import GenesKind, GenesSpace
from nasco.evo.space.layout import compile_space
from nasco.evo.space.mobilenet import SearchSpace
from nasco.evo.space.toml_io import mobilenet_from_dict


class MobileNetKind(SpaceKind):
    """Inverted-residual stages with per-layer bits and per-group prune ratios (DESIGN.md §3)."""

    name = "mobilenet"
    network = True

    def from_dict(self, data: dict) -> SearchSpace:
        return mobilenet_from_dict({k: v for k, v in data.items() if k != "kind"})

    def compile(self, space: SearchSpace) -> SpaceLayout:
        return compile_space(space)

    def default(self, input_shape: tuple[int, int, int], num_classes: int) -> SearchSpace:
        return default_space(input_shape, num_classes)


register_space_kind(MobileNetKind())
__all__ = ["GenesKind", "GenesSpace", "MobileNetKind", "compile_any", "kind_of", "space_kind"]


def kind_of(space: Any) -> str:
    """The kind name of a declared space (``mobilenet`` spaces carry no ``kind`` field)."""
    return getattr(space, "kind", "mobilenet")


def compile_any(space: Any) -> SpaceLayout:
    """The layout of a declared space of any registered kind."""
    return space_kind(kind_of(space)).compile(space)
