"""Shared fixtures: single-threaded torch, compiled default spaces at the four input shapes."""

from __future__ import annotations

import pytest
import torch

from nasco.evo import compile_space, default_space

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 224, 224)]

torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=SHAPES, ids=lambda s: "x".join(map(str, s)))
def layout(request):
    return compile_space(default_space(request.param, 10))
