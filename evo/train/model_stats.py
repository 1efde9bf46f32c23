"""Costs counted on a built torch model (forward hooks and parameter shapes).

Independent of the Numba kernels, which work from the layer table: the trainer counts the
slim model's MACs this way, and the tests compare both counts.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def per_layer_macs(model: nn.Module, input_shape: tuple[int, ...], device: str = "meta",
                   input_dtype: torch.dtype = torch.float32) -> dict[nn.Module, int]:
    """MACs of every conv/linear module (and every module with a ``count_macs(inputs, output)``
    method, e.g. attention matmuls) for one input of ``input_shape`` (token ids: ``input_dtype``
    int64), from forward hooks.

    Per conv (1-D or 2-D): output elements × (in_channels / groups) × kernel elements, with the
    output size read from the tensor the hook sees; per linear: output elements × in_features.
    """
    macs: dict[nn.Module, int] = {}

    def hook(module: nn.Module, inputs, output) -> None:
        if hasattr(module, "count_macs"):
            macs[module] = module.count_macs(inputs, output)
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            macs[module] = output[0].numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
        else:
            macs[module] = output[0].numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) or hasattr(m, "count_macs")]
    was_training = model.training
    model.eval()  # a counting pass must not touch BN statistics or activation ranges
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device, dtype=input_dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return macs


def count_macs_params(model: nn.Module, input_shape: tuple[int, ...], device: str = "meta",
                      input_dtype: torch.dtype = torch.float32) -> tuple[int, int]:
    """(MACs, weight + bias elements of the counted layers) of ``model`` for one input of ``input_shape``."""
    layers = per_layer_macs(model, input_shape, device, input_dtype)
    params = sum(p.numel() for m in layers for p in m.parameters(recurse=False))
    return sum(layers.values()), params
