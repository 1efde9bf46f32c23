"""Torch networks of the ``sequence`` space kind, built from a genome's layer table.

Inputs are token ids int64 (B, T') with T' ≤ the space's ``max_length``; id 0 is padding, 1
unknown, ids at or beyond the genome's kept vocabulary read as unknown. Every linear and
depthwise layer quantizes its weight and input (:mod:`nasco.evo.train.quant`), the embedding
table its weight (one scale per token row), each attention block the operands of its two
matmuls (Q, K, softmax probabilities, V) at its attention bits. Padding never changes a result:
padded positions are zeroed after every block, masked out of attention keys and of the mean.

``slim=False`` builds the full-width network with masks on every prunable group (conv hidden
channels, whole attention heads, FFN units), as trained with gradual pruning; ``slim=True`` the
pruned network with those channels removed. :func:`slim_sequence` copies a masked network's
kept channels into its slim network (same logits).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nasco.evo.space.sequence_layout import SequenceTable
from nasco.evo.train.builder import ChannelGroup, ChannelMask, QuantLinear
from nasco.evo.train.model_stats import per_layer_macs
from nasco.evo.train.models import NetworkKind
from nasco.evo.train.pruning import kept_indices
from nasco.evo.train.quant import ActQuantizer, WeightQuantizer
from nasco.evo.train.text_data import PAD, UNKNOWN
from nasco.kernels.sequence_cost import SEQUENCE_LAYER_COLUMNS

_COL = {name: i for i, name in enumerate(SEQUENCE_LAYER_COLUMNS)}


class FeatureMask(ChannelMask):
    """A channel mask over the last dimension (B, T, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class HeadMask(ChannelMask):
    """A mask over whole heads of (B, H, T, h) tensors; ``columns`` repeats it per head width for
    the output projection's input columns."""

    def __init__(self, heads: int, kept: int, head_width: int) -> None:
        super().__init__(heads, kept)
        self.head_width = head_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask.view(1, -1, 1, 1)

    def columns(self) -> ChannelMask:
        return _RepeatedMask(self)


class _RepeatedMask(nn.Module):
    """``mask`` = a head mask repeated per head width (what a layer's ``input_mask`` reads)."""

    def __init__(self, heads: HeadMask) -> None:
        super().__init__()
        self.heads = [heads]  # a list: not a submodule (the head mask belongs to its attention)

    @property
    def mask(self) -> torch.Tensor:
        return self.heads[0].mask.repeat_interleave(self.heads[0].head_width)


class QuantEmbedding(nn.Embedding):
    """Token embedding whose table is fake-quantized per token row."""

    def __init__(self, vocab: int, width: int, *, w_bits: int) -> None:
        super().__init__(vocab, width)
        self.weight_quant = WeightQuantizer(w_bits)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(ids, self.weight_quant(self.weight))


class QuantDepthwise1d(nn.Conv1d):
    """Depthwise 1-D convolution (with bias, 'same' padding) over (B, C, T), input and weight quantized."""

    def __init__(self, channels: int, kernel: int, *, w_bits: int, a_bits: int) -> None:
        super().__init__(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.weight_quant = WeightQuantizer(w_bits)
        self.act_quant = ActQuantizer(a_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self.act_quant(x), self.weight_quant(self.weight), self.bias)


class QuantMatMul(nn.Module):
    """``a @ b`` with both operands fake-quantized at ``bits`` (an attention matmul)."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.a_quant, self.b_quant = ActQuantizer(bits), ActQuantizer(bits)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.a_quant(a) @ self.b_quant(b)

    @staticmethod
    def count_macs(inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
        """Output elements × the inner dimension (for the hook counts of :mod:`model_stats`)."""
        return output.numel() * inputs[0].shape[-1]


def _linear(row, slim: bool) -> QuantLinear:
    c_in, c_out = (row[_COL["kept_c_in"]], row[_COL["kept_c_out"]]) if slim else (row[_COL["c_in"]], row[_COL["c_out"]])
    return QuantLinear(int(c_in), int(c_out), w_bits=int(row[_COL["w_bits"]]), a_bits=int(row[_COL["a_bits"]]))


def _feature_mask(row, slim: bool) -> FeatureMask:
    kept = int(row[_COL["kept_c_out"]])
    return FeatureMask(kept if slim else int(row[_COL["c_out"]]), kept)


class ConvBlock1d(nn.Module):
    """x + project(GELU(depthwise(GELU(expand(LN(x)))))); the hidden channels are one prunable group."""

    def __init__(self, rows, *, slim: bool) -> None:
        super().__init__()
        _, expand, depthwise, project = rows
        self.norm = nn.LayerNorm(int(expand[_COL["c_in"]]))
        self.expand = _linear(expand, slim)
        self.hidden_mask = _feature_mask(expand, slim)
        channels = int(depthwise[_COL["kept_c_in"]] if slim else depthwise[_COL["c_in"]])
        self.depthwise = QuantDepthwise1d(channels, int(depthwise[_COL["kernel"]]),
                                          w_bits=int(depthwise[_COL["w_bits"]]), a_bits=int(depthwise[_COL["a_bits"]]))
        self.project = _linear(project, slim)
        self.project.input_mask = self.hidden_mask

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = self.hidden_mask(nn.functional.gelu(self.expand(self.norm(x) * keep))) * keep  # the conv reads zeros there
        h = self.hidden_mask(nn.functional.gelu(self.depthwise(h.transpose(1, 2)).transpose(1, 2)))
        return (x + self.project(h)) * keep

    def channel_groups(self) -> list[ChannelGroup]:
        return [ChannelGroup(self.hidden_mask, rows=[self.expand, self.depthwise], columns=[self.project])]


class AttentionBlock(nn.Module):
    """Pre-norm multi-head self-attention and FFN, each added to its input; heads and FFN units prunable."""

    def __init__(self, rows, *, slim: bool) -> None:
        super().__init__()
        _, qkv, scores, _, out, _, ffn_up, ffn_down = rows
        width = int(qkv[_COL["c_in"]])
        self.head_width = int(scores[_COL["c_in"]])
        kept_heads = int(scores[_COL["heads"]])
        self.heads = kept_heads if slim else int(qkv[_COL["c_out"]]) // (3 * self.head_width)
        self.norm = nn.LayerNorm(width)
        self.qkv = _linear(qkv, slim)
        self.head_mask = HeadMask(self.heads, kept_heads, self.head_width)
        self.scores = QuantMatMul(int(scores[_COL["a_bits"]]))
        self.context = QuantMatMul(int(scores[_COL["a_bits"]]))
        self.out = _linear(out, slim)
        self.out.input_mask = self.head_mask.columns()
        self.ffn_norm = nn.LayerNorm(width)
        self.ffn_up = _linear(ffn_up, slim)
        self.ffn_mask = _feature_mask(ffn_up, slim)
        self.ffn_down = _linear(ffn_down, slim)
        self.ffn_down.input_mask = self.ffn_mask

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (self.head_mask(part.view(b, t, self.heads, self.head_width).transpose(1, 2))
                   for part in self.qkv(self.norm(x) * keep).chunk(3, dim=-1))
        logits = self.scores(q, k.transpose(-2, -1)) / math.sqrt(self.head_width)
        logits = logits.masked_fill(keep.view(b, 1, 1, t) == 0, torch.finfo(logits.dtype).min)
        context = self.head_mask(self.context(logits.softmax(dim=-1), v))
        x = (x + self.out(context.transpose(1, 2).reshape(b, t, -1))) * keep
        h = self.ffn_mask(nn.functional.gelu(self.ffn_up(self.ffn_norm(x) * keep)))
        return (x + self.ffn_down(h)) * keep

    def channel_groups(self) -> list[ChannelGroup]:
        return [ChannelGroup(self.head_mask, rows=[self.qkv], columns=[self.out]),
                ChannelGroup(self.ffn_mask, rows=[self.ffn_up], columns=[self.ffn_down])]


def sinusoids(length: int, width: int) -> torch.Tensor:
    """Fixed positional encodings float32 (length, width) (Vaswani et al. 2017)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class SequenceNet(nn.Module):
    """Embedding + positions → blocks → LayerNorm → masked mean over positions → classifier."""

    def __init__(self, table: SequenceTable, *, slim: bool = True) -> None:
        super().__init__()
        rows, roles = list(table.array), table.roles
        embedding = rows[0]
        self.vocab = int(embedding[_COL["kept_c_in"]])
        width = int(embedding[_COL["c_out"]])
        self.embedding = QuantEmbedding(self.vocab, width, w_bits=int(embedding[_COL["w_bits"]]))
        self.register_buffer("positions", sinusoids(int(embedding[_COL["positions"]]), width), persistent=False)
        blocks, i = [], 1
        while i < len(rows) - 2:  # the blocks lie between the embedding and the final norm and classifier
            conv = roles[i + 1] == "expand"
            size = 4 if conv else 8
            blocks.append((ConvBlock1d if conv else AttentionBlock)(rows[i:i + size], slim=slim))
            i += size
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(width)
        self.classifier = _linear(rows[-1], slim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.shape[1] > len(self.positions):
            raise ValueError(f"token ids of shape {list(ids.shape)}: allowed (batch, T) with T ≤ max_length = "
                             f"{len(self.positions)} (truncate longer texts, as the text loaders do)")
        keep = (ids != PAD).unsqueeze(-1).to(self.positions.dtype)  # (B, T, 1)
        ids = torch.where(ids < self.vocab, ids, torch.full_like(ids, UNKNOWN))
        x = (self.embedding(ids) + self.positions[: ids.shape[1]]) * keep
        for block in self.blocks:
            x = block(x, keep)
        pooled = (self.norm(x) * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)
        return self.classifier(pooled)

    def channel_groups(self) -> list[ChannelGroup]:
        """Every prunable group in execution order."""
        return [group for block in self.blocks for group in block.channel_groups()]


def build_sequence_model(table: SequenceTable, *, slim: bool = True) -> SequenceNet:
    """The network of a decoded genome (see the module docstring for ``slim``)."""
    return SequenceNet(table, slim=slim)


def count_costs(model: SequenceNet, length: int) -> tuple[int, int, int, int]:
    """(MACs, parameters, BitOps, weight bits) counted on a built network for one input of ``length``
    tokens, independently of the cost kernel: MACs from forward hooks (linear, depthwise, attention
    matmuls), every parameter, BitOps and weight storage from each layer's quantizers and shapes (the
    definitions of :mod:`nasco.kernels.sequence_cost`). Meta-device models are counted without compute."""
    layer_macs = per_layer_macs(model, (length,), device=str(next(model.parameters()).device),
                                input_dtype=torch.long)
    bitops = size_bits = 0
    for module, macs in layer_macs.items():
        if isinstance(module, QuantMatMul):
            bitops += macs * module.a_quant.bits * module.b_quant.bits
            continue
        w_bits, a_bits, rows = module.weight_quant.bits, module.act_quant.bits, module.weight.shape[0]
        bitops += macs * w_bits * a_bits
        size_bits += module.weight.numel() * w_bits + module.bias.numel() * 32 + (rows * 32 if w_bits < 32 else 0)
    for module in model.modules():
        if isinstance(module, nn.LayerNorm):
            size_bits += 64 * module.normalized_shape[0]
        elif isinstance(module, QuantEmbedding):
            bits = module.weight_quant.bits
            size_bits += module.weight.numel() * bits + (module.weight.shape[0] * 32 if bits < 32 else 0)
    return sum(layer_macs.values()), sum(p.numel() for p in model.parameters()), bitops, size_bits


def slim_sequence(model: SequenceNet, table: SequenceTable) -> SequenceNet:
    """A new slim network holding the masked ``model``'s kept channels (the same function).

    Raises:
        ValueError: a group's mask does not keep exactly the genome's count.
    """
    kept = kept_indices(model)
    small = build_sequence_model(table, slim=True).to(next(model.parameters()).device)
    with torch.no_grad():
        _copy(model.embedding, small.embedding)
        _copy(model.norm, small.norm)
        _copy(model.classifier, small.classifier)
        for src, dst in zip(model.blocks, small.blocks, strict=True):
            if isinstance(src, ConvBlock1d):
                hidden = kept[id(src.hidden_mask)]
                _copy(src.norm, dst.norm)
                _copy(src.expand, dst.expand, rows=hidden)
                _copy(src.depthwise, dst.depthwise, rows=hidden)
                _copy(src.project, dst.project, columns=hidden)
            else:
                heads, width = kept[id(src.head_mask)], src.head_width
                per_head = (heads[:, None] * width + torch.arange(width, device=heads.device)).flatten()
                qkv_rows = torch.cat([part * src.heads * width + per_head for part in range(3)])
                ffn = kept[id(src.ffn_mask)]
                for name in ("norm", "scores", "context", "ffn_norm"):
                    _copy(getattr(src, name), getattr(dst, name))
                _copy(src.qkv, dst.qkv, rows=qkv_rows)
                _copy(src.out, dst.out, columns=per_head)
                _copy(src.ffn_up, dst.ffn_up, rows=ffn)
                _copy(src.ffn_down, dst.ffn_down, columns=ffn)
    small.train(model.training)
    return small


def _copy(src: nn.Module, dst: nn.Module, *, rows: torch.Tensor | None = None,
          columns: torch.Tensor | None = None) -> None:
    """Copy ``src``'s own parameters and every quantizer state into ``dst``: weight rows ``rows``
    (and the bias's), weight columns ``columns``; everything else whole."""
    for name, tensor in src.named_parameters(recurse=False):
        if rows is not None:
            tensor = tensor.index_select(0, rows)
        if columns is not None and name == "weight":
            tensor = tensor.index_select(1, columns)
        getattr(dst, name).copy_(tensor)
    for name, module in src.named_children():
        if isinstance(module, ActQuantizer):
            getattr(dst, name).load_state_dict(module.state_dict())


# ----------------------------------------------------------------------------- the kind's NetworkKind
def _sequence_mismatch(space, task) -> str | None:
    if not getattr(task, "is_text", False):
        return f"task {task.name!r} holds images; the space is a sequence space (a text task: langid or text)"
    if (tuple(task.input_shape), task.vocab_size, task.num_classes) != ((space.max_length,), space.vocab_size,
                                                                         space.num_classes):
        return (f"task {task.name!r} has {task.input_shape[0]} tokens per text, {task.vocab_size} token ids and "
                f"{task.num_classes} classes; the space expects max_length {space.max_length}, vocab_size "
                f"{space.vocab_size} and {space.num_classes} classes")
    return None


SEQUENCE_NETWORK = NetworkKind(
    build=lambda layout, genome, slim: build_sequence_model(layout.decode(genome), slim=slim),
    slim=lambda model, layout, genome: slim_sequence(model, layout.decode(genome)),
    example=lambda space: ((space.max_length,), torch.long),
    mismatch=_sequence_mismatch,
    export_formats=("float",))
