"""Shape padding: the masked network of a genome with every channel count rounded up to a multiple
and every depthwise kernel run at one size.

On a GPU, a new genome's first steps pay for planning each new layer shape (cuDNN); a campaign
trains a stream of new genomes, so it keeps paying (``benchmarks/bench_gpu.py``). Most of a
space's shapes are depthwise (channels × kernel × stride × map size): rounding every channel count
up to a multiple and running every depthwise kernel as the largest makes genomes share shapes.
:func:`pad_network` copies an unpadded masked network into its padded twin with every added weight
zero and every added channel and tap masked: its logits are the unpadded network's (to float
rounding), and training keeps it so: an added channel's outputs are masked, so its weights get
zero gradients; an added input column multiplies zeros and an added tap is masked in the weight,
so they get none either (AdamW leaves a zero weight with zero gradients at zero). Per-channel
weight scales see the same largest magnitude, and activation ranges are unchanged because fake
quantization's range always includes 0. :func:`~nasco.evo.train.pruning.slim` removes the
padding with the pruned channels and crops the kernels, so the slim network is exactly the genome's.
"""

from __future__ import annotations

import torch

from nasco.evo.space.genome import LayerTable
from nasco.evo.train.builder import CandidateNet, ChannelMask, ConvUnit, build_model, real_block


def _copy_into(dst: torch.Tensor, src: torch.Tensor) -> None:
    """``dst`` zero except its :func:`~nasco.evo.train.builder.real_block`, which becomes ``src``."""
    dst.zero_()
    dst[real_block(dst.shape, src.shape)].copy_(src)


def _copy_unit(src: ConvUnit, dst: ConvUnit) -> None:
    _copy_into(dst.conv.weight, src.conv.weight)
    for name in ("weight", "bias", "running_mean", "running_var"):
        value = getattr(dst.bn, name)
        fill = 1.0 if name in ("weight", "running_var") else 0.0
        value.fill_(fill)
        value[:src.bn.num_features].copy_(getattr(src.bn, name))
    dst.bn.num_batches_tracked.copy_(src.bn.num_batches_tracked)
    dst.conv.act_quant.load_state_dict(src.conv.act_quant.state_dict())
    if isinstance(src.mask, ChannelMask):
        dst.mask.mask[:src.mask.mask.numel()].copy_(src.mask.mask)


def pad_network(model: CandidateNet, table: LayerTable, *, channel_multiple: int = 0,
                depthwise_kernel: int = 0) -> CandidateNet:
    """A new masked network of ``table`` with channel counts rounded up to ``channel_multiple`` and depthwise
    kernels run at ``depthwise_kernel`` (odd; a larger kernel stays), computing ``model``'s logits
    (``model``: the unpadded masked network, ``slim=False``, of the same table).

    Raises:
        ValueError: nothing to pad (``channel_multiple`` < 2 and no ``depthwise_kernel``), an even
            ``depthwise_kernel``, or ``model`` is padded already.
    """
    if channel_multiple < 2 and not depthwise_kernel:
        raise ValueError(f"channel multiple {channel_multiple} and depthwise kernel {depthwise_kernel} pad nothing")
    if any((isinstance(m, ChannelMask) and m.width != m.mask.numel()) or getattr(m, "tap_mask", None) is not None
           for m in model.modules()):
        raise ValueError("the network is padded already")
    big = build_model(table, slim=False, channel_multiple=channel_multiple, depthwise_kernel=depthwise_kernel)
    big = big.to(next(model.parameters()).device)
    with torch.no_grad():
        for src, dst in zip(model.conv_units(), big.conv_units(), strict=True):
            _copy_unit(src, dst)
        _copy_into(big.classifier.weight, model.classifier.weight)
        big.classifier.bias.copy_(model.classifier.bias)
        big.classifier.act_quant.load_state_dict(model.classifier.act_quant.state_dict())
    big.train(model.training)
    return big
