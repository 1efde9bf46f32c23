"""Streaming an image folder too large for any cache: every epoch decodes its files again.

A :class:`StreamSplit` serves the same batches as a cached
:class:`~nasco.evo.train.datasets.TensorSplit` of the same files (same order for the same
generator, same pixels: both decode with :func:`~nasco.evo.train.image_cache.decode_chunk`), but
decodes each batch in a torch ``DataLoader``'s worker processes (``$NASCO_STREAM_WORKERS``, by
default one per CPU up to 8), into pinned memory when training on CUDA. It is the last resort of
:mod:`nasco.evo.train.image_cache`: decoding is then the training's bottleneck on most machines.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Iterator

import numpy as np
import torch

from nasco.evo.train.image_cache import bad_files_message, decode_chunk, decode_images, env_number


def stream_workers() -> int:
    """Decoding processes per streamed split: ``$NASCO_STREAM_WORKERS``, else min(CPUs, 8); 0 decodes in
    the training process."""
    return int(env_number("NASCO_STREAM_WORKERS", min(os.cpu_count() or 1, 8), integer=True))


class _Batches(torch.utils.data.Dataset):
    """Item = a list of positions → (uint8 (b, 3, S, S), int64 (b,)), decoded on the spot."""

    def __init__(self, paths: list[str], y: torch.Tensor, size: int, skip_bad: bool):
        self.paths, self.y, self.size, self.skip_bad = paths, y, size, skip_bad

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, positions: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        x, bad = decode_chunk(([self.paths[i] for i in positions], self.size))
        y = self.y[positions]
        if bad:
            if not self.skip_bad:
                raise ValueError(bad_files_message([message for _, message in bad], len(positions)))
            keep = np.setdiff1d(np.arange(len(positions)), [i for i, _ in bad])
            warnings.warn(f"streamed batch: left out {len(bad)} unreadable files: "
                          f"{'; '.join(m for _, m in bad[:5])}", stacklevel=1)
            x, y = x[keep], y[torch.from_numpy(keep)]
        return torch.from_numpy(x), y


@dataclasses.dataclass
class StreamSplit:
    """One split as image files decoded on the fly: ``paths`` (N,), labels ``y`` int64 (N,), images
    resized to ``size`` × ``size``; ``pin``: batches in pinned memory (for CUDA)."""

    paths: list[str]
    y: torch.Tensor
    size: int
    skip_bad: bool = False
    pin: bool = False

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> StreamSplit:
        """Batches stay on the CPU (the trainer moves them), pinned when ``device`` is CUDA."""
        return dataclasses.replace(self, pin=torch.device(device).type == "cuda")

    def labels(self) -> torch.Tensor:
        return self.y

    def subset(self, index: torch.Tensor) -> StreamSplit:
        """The split's rows ``index`` (positions in this split)."""
        index = torch.as_tensor(index).cpu()
        return dataclasses.replace(self, paths=[self.paths[i] for i in index.tolist()], y=self.y[index])

    def images(self, limit: int, seed: int) -> np.ndarray:
        """uint8 (min(limit, N), 3, S, S): a seeded random sample of the split's images, decoded."""
        pick = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:limit].sort().values
        return decode_images([self.paths[i] for i in pick.tolist()], self.size, skip_bad=True)[0]

    def batches(self, batch_size: int, *, generator: torch.Generator | None = None) -> Iterator[tuple]:
        """(uint8 x, y) batches in the order a TensorSplit of the same images gives: shuffled full
        batches with a generator, every image in order without."""
        n = len(self.y)
        if generator is None:
            groups = [list(range(start, min(start + batch_size, n))) for start in range(0, n, batch_size)]
        else:
            order = torch.randperm(n, generator=generator, device=generator.device).cpu().tolist()
            groups = [order[start:start + batch_size]
                      for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size)]
        workers = min(stream_workers(), len(groups))
        loader = torch.utils.data.DataLoader(_Batches(self.paths, self.y, self.size, self.skip_bad),
                                             batch_size=None, sampler=groups, num_workers=workers,
                                             pin_memory=self.pin, prefetch_factor=4 if workers else None)
        yield from loader
