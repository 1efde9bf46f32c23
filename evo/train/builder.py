"""Torch network builder: layer table → classification ``nn.Module``.

Every conv/linear layer carries a weight and an input-activation quantizer
(:mod:`nasco.evo.train.quant`) at the genome's bit-widths (32 = float, identity), and every
prunable channel group a :class:`ChannelMask` holding the number of channels the genome
keeps; masks start at all ones (identity) and the trainer's pruning schedule sets them.

``slim=True`` builds the pruned network with the kept channels physically removed (what
costs are counted on); ``slim=False`` builds the full-width network with masks, as trained.

``channel_multiple=m`` (with ``slim=False``) rounds every layer's channel count up to a multiple
of ``m`` and masks the added channels for good, and ``depthwise_kernel=K`` runs every smaller
depthwise kernel as a K×K one with the genome's taps in its centre and the others masked:
networks of different genomes then share layer shapes (on a GPU, cuDNN plans a new shape once),
and the padded network computes the same logits as the unpadded one when its added weights are
zero (:mod:`nasco.evo.train.padding`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nasco.evo.space.genome import LayerTable
from nasco.evo.train.quant import ActQuantizer, WeightQuantizer
from nasco.kernels.tables import (
    KIND_DEPTHWISE,
    L_A_BITS,
    L_C_IN,
    L_C_OUT,
    L_KEPT_C_IN,
    L_KEPT_C_OUT,
    L_KERNEL,
    L_KIND,
    L_RESIDUAL,
    L_STRIDE,
    L_W_BITS,
)


def padded(channels: int, multiple: int) -> int:
    """``channels`` rounded up to a multiple of ``multiple`` (≤ 1: unchanged)."""
    return channels if multiple <= 1 else -(-channels // multiple) * multiple


def real_block(padded_shape: tuple[int, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    """Where a tensor of ``shape`` sits in its padded twin of ``padded_shape``: the leading channels along
    the first two dims, the centre along the others (kernel taps)."""
    return tuple(slice(0, n) if d < 2 else slice((m - n) // 2, (m - n) // 2 + n)
                 for d, (m, n) in enumerate(zip(padded_shape, shape, strict=True)))


class ChannelMask(nn.Module):
    """Multiplies channel ``c`` by ``mask[c]`` (ones on the real channels: identity).

    Attributes:
        kept: channels the genome keeps in this group (pruning targets it).
        width: the group's real channels; the ones after them are padding, masked for good.
        mask: float buffer (C,), C ≥ width.
    """

    def __init__(self, channels: int, kept: int, width: int | None = None) -> None:
        super().__init__()
        self.kept = int(kept)
        self.width = channels if width is None else int(width)
        mask = torch.zeros(channels)
        mask[:self.width] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * self.mask.view(shape)

    def extra_repr(self) -> str:
        padding = self.mask.numel() - self.width
        return f"channels={self.mask.numel()}, kept={self.kept}" + (f", padding={padding}" if padding else "")


def _masked_weight(layer: QuantConv2d | QuantLinear) -> torch.Tensor:
    """The weight with the input columns of pruned channels zeroed (``layer.input_mask``), and the
    taps outside a padded kernel's centre (``layer.tap_mask``).

    Zeroing the columns, not just their inputs, keeps per-channel quantization scales equal to
    those of the slim network, where those columns do not exist.
    """
    weight = layer.weight
    if layer.input_mask is not None:
        weight = weight * layer.input_mask.mask.view((1, -1) + (1,) * (weight.dim() - 2))
    tap_mask = getattr(layer, "tap_mask", None)  # QuantLinear has none
    return weight if tap_mask is None else weight * tap_mask


class QuantConv2d(nn.Conv2d):
    """Conv2d (no bias, padding k//2) whose input and weight pass through quantizers.

    ``taps`` < ``kernel``: a ``taps``×``taps`` kernel run as a ``kernel``×``kernel`` one, the other taps
    masked (``tap_mask`` (1, 1, kernel, kernel)); the same output size, as both are odd.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, *, stride: int, groups: int,
                 w_bits: int, a_bits: int, taps: int | None = None) -> None:
        super().__init__(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
        self.weight_quant = WeightQuantizer(w_bits)
        self.act_quant = ActQuantizer(a_bits)
        self.input_mask: ChannelMask | None = None
        mask = None
        if taps is not None and taps < kernel:
            mask = torch.zeros(1, 1, kernel, kernel)
            mask[real_block(mask.shape, (1, 1, taps, taps))] = 1
        self.register_buffer("tap_mask", mask)  # None: not in the state dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(self.act_quant(x), self.weight_quant(_masked_weight(self)), None)


class QuantLinear(nn.Linear):
    """Linear layer whose input and weight pass through quantizers."""

    def __init__(self, c_in: int, c_out: int, *, w_bits: int, a_bits: int) -> None:
        super().__init__(c_in, c_out)
        self.weight_quant = WeightQuantizer(w_bits)
        self.act_quant = ActQuantizer(a_bits)
        self.input_mask: ChannelMask | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(self.act_quant(x), self.weight_quant(_masked_weight(self)), self.bias)


class ConvUnit(nn.Module):
    """QuantConv2d → BatchNorm → optional ReLU6 → optional channel mask.

    ``multiple`` pads the output channels and, with ``pad_in``, the input channels; a depthwise unit's
    kernel runs as a ``depthwise_kernel``-sized one when that is larger (see the module docstring).
    """

    def __init__(self, row, *, slim: bool, act: bool, mask: ChannelMask | None, multiple: int = 0,
                 pad_in: bool = True, depthwise_kernel: int = 0) -> None:
        super().__init__()
        c_in, c_out = (int(row[L_KEPT_C_IN]), int(row[L_KEPT_C_OUT])) if slim else (int(row[L_C_IN]), int(row[L_C_OUT]))
        c_in, c_out = padded(c_in, multiple if pad_in else 0), padded(c_out, multiple)
        depthwise = row[L_KIND] == KIND_DEPTHWISE
        taps = int(row[L_KERNEL])
        kernel = max(taps, depthwise_kernel) if depthwise else taps
        self.conv = QuantConv2d(c_in, c_out, kernel, stride=int(row[L_STRIDE]), groups=c_in if depthwise else 1,
                                w_bits=int(row[L_W_BITS]), a_bits=int(row[L_A_BITS]), taps=taps)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()
        self.mask = mask if mask is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mask(self.act(self.bn(self.conv(x))))


def _mask(row, slim: bool, multiple: int = 0) -> ChannelMask:
    kept = int(row[L_KEPT_C_OUT])
    width = kept if slim else int(row[L_C_OUT])
    return ChannelMask(padded(width, multiple), kept, width)


def _padding_mask(row, multiple: int) -> ChannelMask | None:
    """The mask of a unit's padded output channels when it has no prunable group (None: no padding)."""
    width = int(row[L_C_OUT])
    channels = padded(width, multiple)
    return ChannelMask(channels, width, width) if channels > width else None


@dataclass
class ChannelGroup:
    """Channels removed together: output rows of ``rows`` layers, input columns of ``columns``.

    A depthwise layer appears in ``rows`` (its channel c is row c of its weight).
    """

    mask: ChannelMask
    rows: list[nn.Module]
    columns: list[nn.Module]


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1×1 expand, k×k depthwise, 1×1 linear project (+ input if residual).

    The hidden channels are one prunable group; its mask follows the expand and the
    depthwise units (the depthwise BN bias would otherwise revive pruned channels). Padded, the
    project unit's added outputs are masked too.
    """

    def __init__(self, rows, *, slim: bool, multiple: int = 0, depthwise_kernel: int = 0) -> None:
        super().__init__()
        expand, depthwise, project = rows
        self.residual = bool(expand[L_RESIDUAL])
        self.hidden_mask = _mask(expand, slim, multiple)
        self.expand = ConvUnit(expand, slim=slim, act=True, mask=self.hidden_mask, multiple=multiple)
        self.depthwise = ConvUnit(depthwise, slim=slim, act=True, mask=self.hidden_mask, multiple=multiple,
                                  depthwise_kernel=depthwise_kernel)
        self.project = ConvUnit(project, slim=slim, act=False, mask=_padding_mask(project, multiple),
                                multiple=multiple)
        self.project.conv.input_mask = self.hidden_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return x + out if self.residual else out


class CandidateNet(nn.Module):
    """Stem → inverted-residual blocks → head 1×1 conv → global average pool → classifier."""

    def __init__(self, table: LayerTable, *, slim: bool = True, channel_multiple: int = 0,
                 depthwise_kernel: int = 0) -> None:
        super().__init__()
        rows = list(table.array)
        roles = table.roles
        if roles[0] != "stem" or roles[-2:] != ("head", "classifier"):
            raise ValueError(f"layer table roles {roles} do not describe a stem/blocks/head network")
        if slim and (channel_multiple > 1 or depthwise_kernel):
            raise ValueError("channel_multiple and depthwise_kernel pad the masked network (slim=False) only")
        if depthwise_kernel and depthwise_kernel % 2 == 0:
            raise ValueError(f"depthwise_kernel {depthwise_kernel}: allowed: odd sizes (0: off)")
        m = channel_multiple
        self.stem = ConvUnit(rows[0], slim=slim, act=True, mask=_mask(rows[0], slim, m), multiple=m, pad_in=False)
        self.blocks = nn.Sequential(*(InvertedResidual(rows[i:i + 3], slim=slim, multiple=m,
                                                       depthwise_kernel=depthwise_kernel)
                                      for i in range(1, len(rows) - 2, 3)))
        self.head = ConvUnit(rows[-2], slim=slim, act=True, mask=_mask(rows[-2], slim, m), multiple=m)
        cls = rows[-1]
        c_in = int(cls[L_KEPT_C_IN]) if slim else padded(int(cls[L_C_IN]), m)
        self.classifier = QuantLinear(c_in, int(cls[L_C_OUT]), w_bits=int(cls[L_W_BITS]), a_bits=int(cls[L_A_BITS]))
        outputs = [self.stem.mask, *(block.project.mask for block in self.blocks)]
        for block, previous in zip(self.blocks, outputs[:-1], strict=True):  # padded inputs: zero columns
            block.expand.conv.input_mask = previous if isinstance(previous, ChannelMask) else None
        if isinstance(outputs[-1], ChannelMask):
            self.head.conv.input_mask = outputs[-1]
        self.classifier.input_mask = self.head.mask

    def conv_units(self) -> list[ConvUnit]:
        """Every conv unit in execution order (stem, expand, depthwise, project …, head)."""
        units = [self.stem]
        for block in self.blocks:
            units += [block.expand, block.depthwise, block.project]
        return [*units, self.head]

    def channel_groups(self) -> list[ChannelGroup]:
        """The prunable channel groups: stem outputs, each block's hidden channels, head outputs."""
        groups = [ChannelGroup(self.stem.mask, rows=[self.stem.conv], columns=[self.blocks[0].expand.conv])]
        for block in self.blocks:
            groups.append(ChannelGroup(block.hidden_mask, rows=[block.expand.conv, block.depthwise.conv],
                                       columns=[block.project.conv]))
        groups.append(ChannelGroup(self.head.mask, rows=[self.head.conv], columns=[self.classifier]))
        return groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def build_model(table: LayerTable, *, slim: bool = True, channel_multiple: int = 0,
                depthwise_kernel: int = 0) -> CandidateNet:
    """Build the network of a decoded genome (see the module docstring for ``slim``, ``channel_multiple`` and
    ``depthwise_kernel``)."""
    return CandidateNet(table, slim=slim, channel_multiple=channel_multiple, depthwise_kernel=depthwise_kernel)
