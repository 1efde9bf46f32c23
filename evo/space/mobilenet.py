"""Declarative search spaces: frozen dataclasses, validated on construction.

A space has a stem convolution, stages of inverted-residual blocks (MobileNetV2, Sandler et
al. 2018), a head (1×1 conv, global average pooling, linear classifier) and the compression
choices every quantizable layer and prunable channel group draws from. Every ``*_choices``
tuple lists the values a gene can take, strictly increasing (genes are ordinal).
See docs/ARCHITECTURE.md §3.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field, fields

from nasco.evo.errors import SpaceError

MAX_BITS = 16
FLOAT_BITS = 32


# Upper limits of a space's shape: far beyond any real network, small enough that compiling,
# decoding and printing stay fast (a 10,000-stage file would otherwise take minutes and gigabytes).
MAX_STAGES, MAX_DEPTH, MAX_WIDTH, MAX_KERNEL, MAX_EXPANSION = 64, 64, 65_536, 31, 64


def _check_choices(where: str, values: tuple, *, kind: type, allowed: str, ok) -> None:
    if not isinstance(values, tuple) or len(values) == 0:
        raise SpaceError(f"{where}: must be a non-empty list of {allowed}, got {values!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind if kind is not float else (int, float)):
            raise SpaceError(f"{where}: {v!r} is a {type(v).__name__}; allowed: {allowed}")
        if not ok(v):
            raise SpaceError(f"{where}: value {v!r} is not allowed; allowed: {allowed}")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise SpaceError(f"{where}: {list(values)} must be strictly increasing (genes are ordinal)")


def _check_int(where: str, value: object, allowed: str, ok) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not ok(value):
        raise SpaceError(f"{where}: {value!r} is not allowed; allowed: {allowed}")


def _bits_ok(b: int) -> bool:
    return 2 <= b <= MAX_BITS or b == FLOAT_BITS


_BITS = f"integers in 2..{MAX_BITS}, or {FLOAT_BITS} (float)"


@dataclass(frozen=True)
class CompressionSpec:
    """Compression choices shared by all layers unless a layer overrides them.

    Attributes:
        prune_ratios: fractions of a channel group's channels removed, each in [0, 1).
        weight_bits: weight bit-widths (32 = float).
        act_bits: input-activation bit-widths (32 = float).
    """

    prune_ratios: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    weight_bits: tuple[int, ...] = (2, 3, 4, 6, 8, 32)
    act_bits: tuple[int, ...] = (4, 6, 8, 32)

    def __post_init__(self) -> None:
        _check_choices("compression.prune_ratios", self.prune_ratios, kind=float,
                       allowed="numbers in [0, 1)", ok=lambda r: 0 <= r < 1)
        _check_choices("compression.weight_bits", self.weight_bits, kind=int, allowed=_BITS, ok=_bits_ok)
        _check_choices("compression.act_bits", self.act_bits, kind=int, allowed=_BITS, ok=_bits_ok)


def _check_bits_override(where: str, weight_bits, act_bits) -> None:
    if weight_bits is not None:
        _check_choices(f"{where}.weight_bits", weight_bits, kind=int, allowed=_BITS, ok=_bits_ok)
    if act_bits is not None:
        _check_choices(f"{where}.act_bits", act_bits, kind=int, allowed=_BITS, ok=_bits_ok)


@dataclass(frozen=True)
class StemSpec:
    """The first convolution (followed by BN and ReLU6); its outputs form a prunable group.

    Attributes:
        width: output-channel choices.
        kernel: kernel size (odd).
        stride: 1 or 2.
        weight_bits, act_bits: bit-width choices overriding the space's (None = inherit).
    """

    width: tuple[int, ...] = (16, 24)
    kernel: int = 3
    stride: int = 1
    weight_bits: tuple[int, ...] | None = None
    act_bits: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_choices("stem.width", self.width, kind=int, allowed=f"integers 1..{MAX_WIDTH}",
                       ok=lambda v: 0 < v <= MAX_WIDTH)
        _check_int("stem.kernel", self.kernel, f"odd integers 1..{MAX_KERNEL}",
                   lambda k: 1 <= k <= MAX_KERNEL and k % 2 == 1)
        _check_int("stem.stride", self.stride, "1 or 2", lambda s: s in (1, 2))
        _check_bits_override("stem", self.weight_bits, self.act_bits)


@dataclass(frozen=True)
class StageSpec:
    """A stage of inverted-residual blocks (1×1 expand, k×k depthwise, 1×1 project).

    The first block applies ``stride`` and changes the width; later blocks keep stride 1 and
    add their input to their output (residual), so stage outputs are never pruned. Each
    block's expanded hidden channels form one prunable group.

    Attributes:
        stride: stride of the stage's first block, 1 or 2.
        depth: choices of the number of blocks.
        width: choices of the output channels (shared by all blocks of the stage).
        kernel: depthwise kernel-size choices, per block (odd).
        expansion: hidden/input channel ratio choices, per block (integers ≥ 1).
    """

    stride: int
    depth: tuple[int, ...]
    width: tuple[int, ...]
    kernel: tuple[int, ...] = (3, 5)
    expansion: tuple[int, ...] = (3, 4, 6)

    def __post_init__(self) -> None:
        self.validate("stage")

    def validate(self, where: str) -> None:
        """Check every field; error messages start with ``where`` (e.g. ``stages[2]``)."""
        _check_int(f"{where}.stride", self.stride, "1 or 2", lambda s: s in (1, 2))
        _check_choices(f"{where}.depth", self.depth, kind=int, allowed=f"integers 1..{MAX_DEPTH}",
                       ok=lambda v: 0 < v <= MAX_DEPTH)
        _check_choices(f"{where}.width", self.width, kind=int, allowed=f"integers 1..{MAX_WIDTH}",
                       ok=lambda v: 0 < v <= MAX_WIDTH)
        _check_choices(f"{where}.kernel", self.kernel, kind=int, allowed=f"odd integers 1..{MAX_KERNEL}",
                       ok=lambda k: 1 <= k <= MAX_KERNEL and k % 2 == 1)
        _check_choices(f"{where}.expansion", self.expansion, kind=int, allowed=f"integers 1..{MAX_EXPANSION}",
                       ok=lambda e: 1 <= e <= MAX_EXPANSION)


@dataclass(frozen=True)
class HeadSpec:
    """1×1 conv (BN, ReLU6; prunable outputs), global average pooling, linear classifier.

    Attributes:
        width: output-channel choices of the 1×1 conv.
        weight_bits, act_bits: overrides for the 1×1 conv (None = inherit).
        classifier_weight_bits, classifier_act_bits: overrides for the classifier.
    """

    width: tuple[int, ...] = (128, 256)
    weight_bits: tuple[int, ...] | None = None
    act_bits: tuple[int, ...] | None = None
    classifier_weight_bits: tuple[int, ...] | None = None
    classifier_act_bits: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_choices("head.width", self.width, kind=int, allowed=f"integers 1..{MAX_WIDTH}",
                       ok=lambda v: 0 < v <= MAX_WIDTH)
        _check_bits_override("head", self.weight_bits, self.act_bits)
        _check_bits_override("head.classifier", self.classifier_weight_bits, self.classifier_act_bits)


@dataclass(frozen=True)
class SearchSpace:
    """A whole search space for one input shape and number of classes.

    Attributes:
        name: a label for humans (not part of the identity).
        input_shape: (channels, height, width) of one input.
        num_classes: logits of the classifier.
        stem, stages, head, compression: see the respective specs.
        fixed: (gene name, value) pairs pinning genes to one of their choices, sorted by name —
            e.g. ``("stages[1].blocks[0].kernel", 5)``; a network's architecture pinned this way
            leaves only its compression to search. Checked against the genes when compiled.
    """

    input_shape: tuple[int, int, int]
    num_classes: int
    stages: tuple[StageSpec, ...]
    stem: StemSpec = field(default_factory=StemSpec)
    head: HeadSpec = field(default_factory=HeadSpec)
    compression: CompressionSpec = field(default_factory=CompressionSpec)
    name: str = "custom"
    fixed: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpaceError(f"name: {self.name!r} is not allowed; allowed: a non-empty string")
        _check_fixed(self.fixed)
        shape = self.input_shape
        if (not isinstance(shape, tuple) or len(shape) != 3
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in shape)):
            raise SpaceError(f"input_shape: {shape!r} is not allowed; allowed: three positive integers C, H, W")
        _check_int("num_classes", self.num_classes, "integers ≥ 2", lambda n: n >= 2)
        if not isinstance(self.stages, tuple) or not self.stages or len(self.stages) > MAX_STAGES:
            shown = f"{len(self.stages)} stages" if isinstance(self.stages, tuple) and self.stages else \
                repr(self.stages)
            raise SpaceError(f"stages: {shown} is not allowed; allowed: a list of 1..{MAX_STAGES} stages")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, StageSpec):
                raise SpaceError(f"stages[{i}]: {stage!r} is not allowed; allowed: a stage table")
            stage.validate(f"stages[{i}]")
        self._check_resolution()

    def _check_resolution(self) -> None:
        """Every stride-2 layer needs an input of at least 2×2."""
        _, h, w = self.input_shape
        layers = [("stem", self.stem.stride)] + [(f"stages[{i}]", s.stride) for i, s in enumerate(self.stages)]
        for where, stride in layers:
            if stride == 2 and min(h, w) < 2:
                raise SpaceError(
                    f"{where}.stride: 2 cannot serve input_shape {list(self.input_shape)}: the layer's "
                    f"input is {h}×{w} and a stride-2 layer needs at least 2×2; allowed: stride 1 "
                    "here, fewer stride-2 stages, or a larger input")
            h, w = (h - 1) // stride + 1, (w - 1) // stride + 1

    @property
    def space_id(self) -> str:
        """Stable id: sha256 of the canonical JSON of everything but ``name`` (16 hex digits)."""
        data = asdict(self)
        data.pop("name")
        if not self.fixed:  # spaces without pinned genes keep the ids they had before ``fixed`` existed
            data.pop("fixed")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """Plain nested dict (TOML/JSON-ready); ``None`` overrides and an empty ``fixed`` are left out."""
        data = _drop_none(asdict(self))
        data.pop("fixed")
        if self.fixed:
            data["fixed"] = dict(self.fixed)
        return data


def _check_fixed(fixed: object) -> None:
    allowed = "a table of gene name = value (a choice of that gene)"
    if not isinstance(fixed, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in fixed):
        raise SpaceError(f"fixed: {fixed!r} is not allowed; allowed: {allowed}")
    for name, value in fixed:
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpaceError(f"fixed: {name!r} = {value!r} is not allowed; allowed: {allowed}")
    names = [name for name, _ in fixed]
    if names != sorted(set(names)):
        raise SpaceError(f"fixed: {names} must be distinct gene names in sorted order")


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def _section(where: str, data: object, cls: type, *, required: tuple[str, ...] = ()) -> dict:
    allowed = [f.name for f in fields(cls)]
    if not isinstance(data, dict):
        raise SpaceError(f"{where}: {data!r} is not allowed; allowed: a table with keys {allowed}")
    for key in data:
        if key not in allowed:
            raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {allowed}")
    for key in required:
        if key not in data:
            raise SpaceError(f"{where}: missing key {key!r}; required keys: {list(required)}")
    list_fields = {f.name for f in fields(cls) if str(f.type).startswith("tuple") and f.name != "fixed"}
    out = {}
    for key, value in data.items():
        if key in list_fields and key != "stages":
            if not isinstance(value, list):
                raise SpaceError(f"{where}.{key}: {value!r} is a {type(value).__name__}; allowed: a list")
            value = tuple(value)
        out[key] = value
    return out


def mobilenet_from_dict(data: dict) -> SearchSpace:
    """Build and validate a ``mobilenet`` space from a nested dict."""
    top = _section("space", data, SearchSpace, required=("input_shape", "num_classes", "stages"))
    stages_data = top.get("stages")
    if not isinstance(stages_data, list):
        raise SpaceError(f"stages: {stages_data!r} is not allowed; allowed: an array of [[stages]] tables")
    stages = []
    for i, stage in enumerate(stages_data):
        where = f"stages[{i}]"
        kwargs = _section(where, stage, StageSpec, required=("stride", "depth", "width"))
        try:
            stages.append(StageSpec(**kwargs))
        except SpaceError as err:
            raise SpaceError(str(err).replace("stage.", f"{where}.", 1)) from None
    top["stages"] = tuple(stages)
    if "fixed" in top:
        if not isinstance(top["fixed"], dict):
            raise SpaceError(f"fixed: {top['fixed']!r} is not allowed; allowed: a table of gene name = value")
        top["fixed"] = tuple(sorted(top["fixed"].items()))
    for key, cls in (("stem", StemSpec), ("head", HeadSpec), ("compression", CompressionSpec)):
        if key in top:
            top[key] = cls(**_section(key, top[key], cls))
    return SearchSpace(**top)
