"""The built-in space kinds: ``mobilenet`` (the MobileNetV2/OFA-like image space), ``sequence`` (token
classifiers of 1-D conv and transformer blocks) and ``genes``."""

from __future__ import annotations

from typing import Any

from nasco.evo.errors import SpaceError
from nasco.evo.space.base import SpaceKind, SpaceLayout, register_space_kind, space_kind
from nasco.evo.space.default import default_space
from nasco.evo.space.genes import GenesKind, GenesSpace
from nasco.evo.space.layout import compile_space
from nasco.evo.space.mobilenet import SearchSpace
from nasco.evo.space.sequence import SequenceSpace, default_sequence_space, sequence_from_dict
from nasco.evo.space.sequence_layout import SequenceLayout, compile_sequence
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

    def default_for(self, task: Any) -> SearchSpace:
        if getattr(task, "is_text", False):
            raise SpaceError(f"space kind 'mobilenet': task {task.name!r} holds texts; allowed: [space] kind = "
                             "\"sequence\" for text tasks")
        return self.default(tuple(task.input_shape), task.num_classes)


class SequenceKind(SpaceKind):
    """Token embedding, stages of 1-D conv or transformer blocks, per-layer bits and per-group prune ratios."""

    name = "sequence"
    network = True

    def from_dict(self, data: dict) -> SequenceSpace:
        return sequence_from_dict(data)

    def compile(self, space: SequenceSpace) -> SequenceLayout:
        return compile_sequence(space)

    def default_for(self, task: Any) -> SequenceSpace:
        """The default space for a text task: its tokens per text, token ids and classes."""
        if not getattr(task, "is_text", False):
            raise SpaceError(f"space kind 'sequence': task {task.name!r} holds images; allowed: a text task (dataset "
                             "langid or text)")
        return default_sequence_space(task.input_shape[0], task.vocab_size, task.num_classes)


register_space_kind(MobileNetKind())
register_space_kind(SequenceKind())
__all__ = ["GenesKind", "GenesSpace", "MobileNetKind", "SequenceKind", "compile_any", "kind_of", "space_kind"]


def kind_of(space: Any) -> str:
    """The kind name of a declared space (``mobilenet`` spaces carry no ``kind`` field)."""
    return getattr(space, "kind", "mobilenet")


def compile_any(space: Any) -> SpaceLayout:
    """The layout of a declared space of any registered kind."""
    return space_kind(kind_of(space)).compile(space)
