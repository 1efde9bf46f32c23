"""Gradual structured pruning (Zhu & Gupta 2017) of channel groups, and physical slimming.

Each group's target is the genome's kept channel count. During the pruning window the
number of masked channels follows the cubic schedule ``n(t) = round(n_final · (1 - (1 - p)³))``,
``p`` = progress through the window in [0, 1]; channels are ranked by the L1 norm of all the
group's weights (producer rows, depthwise rows, consumer columns), already-masked channels
stay masked, and masks are frozen after the window. :func:`slim` then removes the masked
channels, giving a smaller network that computes the same function. A padded group
(``ChannelMask.width`` < its channels, :mod:`nasco.evo.train.padding`) prunes among its real
channels only; its padding stays masked and is removed by :func:`slim` like pruned channels (a
padded kernel is cropped to its centre).
"""

from __future__ import annotations

import torch
from torch import nn

from nasco.evo.space.genome import LayerTable
from nasco.evo.train.builder import CandidateNet, ChannelGroup, ChannelMask, ConvUnit, build_model, real_block


def cubic_fraction(progress: float) -> float:
    """Fraction of the final pruning reached at ``progress`` ∈ [0, 1] of the window."""
    p = min(max(progress, 0.0), 1.0)
    return 1.0 - (1.0 - p) ** 3


def group_importance(group: ChannelGroup) -> torch.Tensor:
    """L1 norm per channel of all weights tied to the group, float32 (C,). A mask over units of
    several channels (attention heads: ``head_width`` channels each, in every Q/K/V part of the
    producer's rows) sums its units' channels."""
    n, unit = group.mask.mask.numel(), getattr(group.mask, "head_width", 1)

    def per_unit(channels: torch.Tensor) -> torch.Tensor:
        return channels.float().view(-1, n, unit).sum(dim=(0, 2))

    with torch.no_grad():
        total = sum(per_unit(layer.weight.detach().abs().flatten(1).sum(dim=1)) for layer in group.rows)
        for layer in group.columns:
            total = total + per_unit(layer.weight.detach().abs().transpose(0, 1).flatten(1).sum(dim=1))
    return total


def update_masks(model: CandidateNet, progress: float) -> None:
    """Set every group's mask to the schedule's count at ``progress`` (monotone; no host sync)."""
    fraction = cubic_fraction(progress)
    for group in model.channel_groups():
        mask, width = group.mask.mask, group.mask.width
        n_now = round(fraction * (width - group.mask.kept))
        if n_now == 0:
            continue
        score = group_importance(group)
        score = torch.where(mask == 0, torch.full_like(score, -1.0), score)  # pruned and padding stay masked
        order = torch.argsort(score, stable=True)
        new_mask = torch.ones_like(mask)
        new_mask[order[:n_now + mask.numel() - width]] = 0
        mask.copy_(new_mask)


def _take(t: torch.Tensor, index: torch.Tensor | None, dim: int) -> torch.Tensor:
    return t if index is None else t.index_select(dim, index)


def _copy_unit(src: ConvUnit, dst: ConvUnit, in_idx: torch.Tensor | None, out_idx: torch.Tensor | None) -> None:
    depthwise = src.conv.groups > 1
    weight = _take(src.conv.weight, out_idx, 0)
    if not depthwise:
        weight = _take(weight, in_idx, 1)
    dst.conv.weight.copy_(weight[real_block(weight.shape, dst.conv.weight.shape)])  # a padded kernel's centre
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst.bn, name).copy_(_take(getattr(src.bn, name), out_idx, 0))
    dst.bn.num_batches_tracked.copy_(src.bn.num_batches_tracked)
    dst.conv.act_quant.load_state_dict(src.conv.act_quant.state_dict())


def kept_indices(model: nn.Module) -> dict[int, torch.Tensor]:
    """``id(mask)`` → the kept positions (int64) of every prunable group of ``model`` (any network kind
    with ``channel_groups()``), and of every padding mask outside the groups (its real channels).

    Raises:
        ValueError: a group's mask does not keep exactly the genome's count (pruning has not finished).
    """
    kept = {}
    for group in model.channel_groups():
        index = torch.nonzero(group.mask.mask).flatten()
        if index.numel() != group.mask.kept:
            raise ValueError(f"a channel group keeps {index.numel()} channels, the genome asks {group.mask.kept}: "
                             "pruning has not finished")
        kept[id(group.mask)] = index
    for module in model.modules():
        if isinstance(module, ChannelMask) and id(module) not in kept:
            kept[id(module)] = torch.arange(module.width, device=module.mask.device)
    return kept


def slim(model: CandidateNet, table: LayerTable) -> CandidateNet:
    """A new network with every masked channel removed (same function as the masked ``model``).

    Raises:
        ValueError: a group's mask does not keep exactly the genome's channel count.
    """
    kept = kept_indices(model)
    device = next(model.parameters()).device
    small = build_model(table, slim=True).to(device)
    with torch.no_grad():
        in_idx = None
        for src, dst in zip(model.conv_units(), small.conv_units(), strict=True):
            out_idx = kept[id(src.mask)] if isinstance(src.mask, ChannelMask) else None
            _copy_unit(src, dst, in_idx, out_idx)
            in_idx = out_idx
        small.classifier.weight.copy_(_take(model.classifier.weight, in_idx, 1))
        small.classifier.bias.copy_(model.classifier.bias)
        small.classifier.act_quant.load_state_dict(model.classifier.act_quant.state_dict())
    small.train(model.training)
    return small
