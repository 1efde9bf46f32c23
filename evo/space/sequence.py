"""The ``sequence`` space kind: token classifiers of 1-D convolution and transformer blocks.

A network embeds token ids (0 = padding, 1 = unknown; ids ranked by frequency in the training
split, so keeping the first ``vocab`` ids keeps the most frequent tokens), adds fixed sinusoidal
positions, runs stages of pre-norm residual blocks over the ``model width`` d (the embedding
width, one gene), then a final LayerNorm, a mean over the non-padding positions and a linear
classifier. A stage's blocks are all of one type:

- ``conv``: LayerNorm → 1×1 expand (d → e·d) → GELU → depthwise 1-D conv (kernel k) → GELU →
  1×1 project (e·d → d), added to the block input. The expanded hidden channels are one
  prunable group (MobileNetV2's inverted residual, in 1-D).
- ``attention``: LayerNorm → Q, K, V projections (d → 3·H·h) → softmax(QKᵀ/√h) V per head →
  output projection (H·h → d), added; then LayerNorm → FFN up (d → m·d) → GELU → FFN down
  (m·d → d), added. Two prunable groups: whole attention heads and the FFN hidden units.

Compression genes as in the image kind: weight and input-activation bit-widths per linear/conv
layer, the embedding table's weight bits (one scale per token row), one activation bit-width
for both attention matmuls' operands (Q, K, softmax probabilities, V), and a prune ratio per
group. TOML::

    kind = "sequence"
    max_length = 24          # tokens per text (longer texts are truncated by the loader)
    vocab_size = 60          # token ids 0..59
    num_classes = 8

    [embedding]
    width = [32, 48, 64]     # the model width d
    vocab = [30, 60]         # ids kept; the rest map to "unknown"

    [[stages]]
    block = "conv"
    depth = [1, 2]
    kernel = [3, 5]
    expansion = [2, 4]

    [[stages]]
    block = "attention"
    depth = [1, 2]
    heads = [2, 4]
    head_width = [8, 16]
    ffn_expansion = [2, 4]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nasco.evo.errors import SpaceError
from nasco.evo.space.mobilenet import (
    MAX_DEPTH,
    MAX_EXPANSION,
    MAX_KERNEL,
    MAX_STAGES,
    MAX_WIDTH,
    CompressionSpec,
    _check_bits_override,
    _check_choices,
    _check_fixed,
    _check_int,
    _drop_none,
)

BLOCK_TYPES = ("conv", "attention")
MAX_LENGTH, MAX_VOCAB, MAX_HEADS = 65_536, 10_000_000, 256
CONV_FIELDS = ("kernel", "expansion")
ATTENTION_FIELDS = ("heads", "head_width", "ffn_expansion")
BLOCK_DEFAULTS = {"kernel": (3, 5), "expansion": (2, 4), "heads": (2, 4), "head_width": (8, 16),
                  "ffn_expansion": (2, 4)}


@dataclass(frozen=True)
class EmbeddingSpec:
    """The token embedding.

    Attributes:
        width: model-width choices d (the embedding width, kept by every block).
        vocab: choices of the number of token ids kept (≤ the space's ``vocab_size``; None: all).
        weight_bits: bit-width choices of the embedding table (None = the space's).
    """

    width: tuple[int, ...] = (32, 64)
    vocab: tuple[int, ...] | None = None
    weight_bits: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_choices("embedding.width", self.width, kind=int, allowed=f"integers 1..{MAX_WIDTH}",
                       ok=lambda v: 0 < v <= MAX_WIDTH)
        if self.vocab is not None:
            _check_choices("embedding.vocab", self.vocab, kind=int, allowed=f"integers 2..{MAX_VOCAB}",
                           ok=lambda v: 2 <= v <= MAX_VOCAB)
        _check_bits_override("embedding", self.weight_bits, None)


@dataclass(frozen=True)
class SequenceStageSpec:
    """A stage of residual blocks of one type (see the module docstring).

    Attributes:
        block: ``"conv"`` or ``"attention"``.
        depth: choices of the number of blocks.
        kernel, expansion: conv blocks: depthwise kernel (odd) and hidden/width ratio choices.
        heads, head_width, ffn_expansion: attention blocks: heads, width per head, FFN ratio.
    Fields of the other block type must be left out; this type's default when left out.
    """

    block: str
    depth: tuple[int, ...]
    kernel: tuple[int, ...] | None = None
    expansion: tuple[int, ...] | None = None
    heads: tuple[int, ...] | None = None
    head_width: tuple[int, ...] | None = None
    ffn_expansion: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.validate("stage")

    def validate(self, where: str) -> None:
        if self.block not in BLOCK_TYPES:
            raise SpaceError(f"{where}.block: {self.block!r} is not allowed; allowed: {', '.join(BLOCK_TYPES)}")
        mine, theirs = (CONV_FIELDS, ATTENTION_FIELDS) if self.block == "conv" else (ATTENTION_FIELDS, CONV_FIELDS)
        for name in theirs:
            if getattr(self, name) is not None:
                raise SpaceError(f"{where}.{name}: applies to {'attention' if self.block == 'conv' else 'conv'} "
                                 f"blocks, not {self.block} blocks; allowed here: {', '.join(mine)}")
        for name in mine:
            if getattr(self, name) is None:
                object.__setattr__(self, name, BLOCK_DEFAULTS[name])
        _check_choices(f"{where}.depth", self.depth, kind=int, allowed=f"integers 1..{MAX_DEPTH}",
                       ok=lambda v: 0 < v <= MAX_DEPTH)
        if self.block == "conv":
            _check_choices(f"{where}.kernel", self.kernel, kind=int, allowed=f"odd integers 1..{MAX_KERNEL}",
                           ok=lambda k: 1 <= k <= MAX_KERNEL and k % 2 == 1)
            _check_choices(f"{where}.expansion", self.expansion, kind=int, allowed=f"integers 1..{MAX_EXPANSION}",
                           ok=lambda e: 1 <= e <= MAX_EXPANSION)
        else:
            _check_choices(f"{where}.heads", self.heads, kind=int, allowed=f"integers 1..{MAX_HEADS}",
                           ok=lambda h: 1 <= h <= MAX_HEADS)
            _check_choices(f"{where}.head_width", self.head_width, kind=int, allowed=f"integers 1..{MAX_WIDTH}",
                           ok=lambda h: 1 <= h <= MAX_WIDTH)
            _check_choices(f"{where}.ffn_expansion", self.ffn_expansion, kind=int,
                           allowed=f"integers 1..{MAX_EXPANSION}", ok=lambda e: 1 <= e <= MAX_EXPANSION)


@dataclass(frozen=True)
class ClassifierSpec:
    """Bit-width overrides of the linear classifier (None = the space's)."""

    weight_bits: tuple[int, ...] | None = None
    act_bits: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        _check_bits_override("classifier", self.weight_bits, self.act_bits)


@dataclass(frozen=True)
class SequenceSpace:
    """A sequence-classification search space (see the module docstring).

    Attributes:
        max_length: tokens per input T (costs are counted at T; shorter inputs are padded).
        vocab_size: token ids 0..vocab_size−1 (0 padding, 1 unknown).
        num_classes: logits of the classifier.
        embedding, stages, classifier, compression: see the specs.
        name: a label for humans (not part of the identity).
        fixed: (gene name, value) pairs pinning genes, sorted by name (as the image kind's).
    """

    max_length: int
    vocab_size: int
    num_classes: int
    stages: tuple[SequenceStageSpec, ...]
    embedding: EmbeddingSpec = field(default_factory=EmbeddingSpec)
    classifier: ClassifierSpec = field(default_factory=ClassifierSpec)
    compression: CompressionSpec = field(default_factory=CompressionSpec)
    name: str = "custom-sequence"
    fixed: tuple[tuple[str, float], ...] = ()
    kind = "sequence"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpaceError(f"name: {self.name!r} is not allowed; allowed: a non-empty string")
        _check_fixed(self.fixed)
        _check_int("max_length", self.max_length, f"integers 1..{MAX_LENGTH}", lambda n: 1 <= n <= MAX_LENGTH)
        _check_int("vocab_size", self.vocab_size, f"integers 3..{MAX_VOCAB} (padding, unknown and at least one "
                   "token)", lambda n: 3 <= n <= MAX_VOCAB)
        _check_int("num_classes", self.num_classes, "integers ≥ 2", lambda n: n >= 2)
        if not isinstance(self.stages, tuple) or not self.stages or len(self.stages) > MAX_STAGES:
            raise SpaceError(f"stages: {self.stages!r} is not allowed; allowed: a list of 1..{MAX_STAGES} stages")
        for i, stage in enumerate(self.stages):
            if not isinstance(stage, SequenceStageSpec):
                raise SpaceError(f"stages[{i}]: {stage!r} is not allowed; allowed: a stage table")
            stage.validate(f"stages[{i}]")
        if any(v > self.vocab_size for v in self.vocab_choices):
            raise SpaceError(f"embedding.vocab: {list(self.vocab_choices)} is not allowed; allowed: at most "
                             f"vocab_size = {self.vocab_size}")

    @property
    def vocab_choices(self) -> tuple[int, ...]:
        return self.embedding.vocab or (self.vocab_size,)

    @property
    def space_id(self) -> str:
        """Stable id: sha256 of the canonical JSON of everything but ``name`` (16 hex digits)."""
        data = self.to_dict()
        data.pop("name")
        return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        """Plain nested dict (TOML/JSON-ready) with ``kind = "sequence"``; None overrides left out."""
        data = {"kind": self.kind, **_drop_none(asdict(self))}
        data.pop("fixed")
        if self.fixed:
            data["fixed"] = dict(self.fixed)
        return data


def sequence_from_dict(data: dict) -> SequenceSpace:
    """Build and validate a ``sequence`` space from a nested dict (TOML), naming the faulty field."""
    top = _table("space", data, SequenceSpace, ("kind",), required=("max_length", "vocab_size", "num_classes",
                                                                    "stages"))
    stages = top.get("stages")
    if not isinstance(stages, list) or not stages:
        raise SpaceError(f"stages: {stages!r} is not allowed; allowed: an array of [[stages]] tables")
    parsed = []
    for i, stage in enumerate(stages):
        where = f"stages[{i}]"
        try:
            parsed.append(SequenceStageSpec(**_table(where, stage, SequenceStageSpec, (), required=("block", "depth"))))
        except SpaceError as err:
            raise SpaceError(str(err).replace("stage.", f"{where}.", 1)) from None
    top["stages"] = tuple(parsed)
    for key, cls in (("embedding", EmbeddingSpec), ("classifier", ClassifierSpec), ("compression", CompressionSpec)):
        if key in top:
            top[key] = cls(**_table(key, top[key], cls, ()))
    if "fixed" in top:
        if not isinstance(top["fixed"], dict):
            raise SpaceError(f"fixed: {top['fixed']!r} is not allowed; allowed: a table of gene name = value")
        top["fixed"] = tuple(sorted(top["fixed"].items()))
    return SequenceSpace(**top)


def _table(where: str, data: Any, cls: type, ignored: tuple[str, ...], *, required: tuple[str, ...] = ()) -> dict:
    """``data``'s keys checked against ``cls``'s fields; lists become tuples (except ``stages``)."""
    allowed = [f.name for f in fields(cls)]
    if not isinstance(data, dict):
        raise SpaceError(f"{where}: {data!r} is not allowed; allowed: a table with keys {allowed}")
    out = {}
    for key, value in data.items():
        if key in ignored:
            continue
        if key not in allowed:
            raise SpaceError(f"{where}: unknown key {key!r}; allowed keys: {allowed}")
        out[key] = tuple(value) if isinstance(value, list) and key != "stages" else value
    missing = [key for key in required if key not in out]
    if missing:
        raise SpaceError(f"{where}: missing key {missing[0]!r}; required keys: {list(required)}")
    return out


def default_sequence_space(max_length: int = 32, vocab_size: int = 64, num_classes: int = 2) -> SequenceSpace:
    """A small conv-then-attention space for character- or word-level text classification: the
    vocabulary halved or whole (≥ 16 ids), widths 32–64, one or two blocks per stage."""
    vocab = tuple(sorted({max(3, vocab_size // 2), vocab_size})) if vocab_size >= 16 else None
    return SequenceSpace(
        name=f"default-sequence-{max_length}x{vocab_size}", max_length=max_length, vocab_size=vocab_size,
        num_classes=num_classes, embedding=EmbeddingSpec(width=(32, 48, 64), vocab=vocab),
        stages=(SequenceStageSpec(block="conv", depth=(1, 2), kernel=(3, 5), expansion=(2, 4)),
                SequenceStageSpec(block="attention", depth=(1, 2), heads=(2, 4), head_width=(8, 16),
                                  ffn_expansion=(2, 4))),
    )

