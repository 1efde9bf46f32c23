"""Costs counted on a built torch model (forward hooks and parameter shapes).

Independent of the Numba kernels, which work from the layer table: the trainer counts the
slim model's MACs this way, and the tests compare both counts.
"""

from __future__ import annotations

import torch
from torch import nn


def per_layer_macs(model: nn.Module, input_shape: tuple[int, int, int], device: str = "meta") -> dict[nn.Module, int]:
    """MACs of every conv/linear module for one input of ``input_shape``, from forward hooks.

    Per conv: output elements × (in_channels / groups) × kH × kW, with the output size read
    from the tensor the hook sees; per linear: output elements × in_features.
    """
    macs: dict[nn.Module, int] = {}

    def hook(module: nn.Module, inputs, output) -> None:
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs[module] = output[0].numel() * (module.in_channels // module.groups) * kh * kw
        else:
            macs[module] = output[0].numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()  # a counting pass must not touch BN statistics or activation ranges
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return macs


def count_macs_params(model: nn.Module, input_shape: tuple[int, int, int], device: str = "meta") -> tuple[int, int]:
    """(MACs, conv/linear weight + bias elements) of ``model`` for one input of ``input_shape``."""
    layers = per_layer_macs(model, input_shape, device)
    params = sum(p.numel() for m in layers for p in m.parameters(recurse=False))
    return sum(layers.values()), params
