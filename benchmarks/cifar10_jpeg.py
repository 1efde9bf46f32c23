"""CIFAR-10 (JPEG) for the GPU benchmarks: the shared npz of JPEG files decoded once into uint8 arrays.

The development copy (``shared/benchmarks/cifar10-jpeg/cifar10_jpeg.npz``: every JPEG file of the
public CIFAR-10-images repository, byte for byte) is decoded with Pillow in a process pool and written
as an npz that ``load_task("npz", root=...)`` reads: ``x`` uint8 (N, 3, 32, 32), ``y`` int64 (N,),
``x_test``/``y_test`` (10,000). ``train_images`` keeps a class-stratified subset of the 50,000 training
images (the first of each class in file order), so that the task's validation split, cut from ``x``,
has the size the benchmark asks for. Report results on it as "CIFAR-10 (JPEG)".
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "cifar10-jpeg" / "cifar10_jpeg.npz"
CARRIED = Path(__file__).resolve().parents[1] / ".devdata" / "cifar10_jpeg.npz"  # a device run's copy


def source_file() -> Path:
    """The JPEG npz: the carried copy on a device machine, else the shared one."""
    for path in (CARRIED, SHARED):
        if path.is_file():
            return path
    raise FileNotFoundError(f"cifar10_jpeg.npz: neither {CARRIED} nor {SHARED} exists")


def _decode(chunk: list[bytes]) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in chunk])


def decode_all(path: Path, workers: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (60000, 3, 32, 32), labels int64, split uint8: 0 train, 1 test) of the JPEG npz."""
    with np.load(path, allow_pickle=False) as data:
        jpeg, offsets, labels, split = data["jpeg"], data["offsets"], data["labels"], data["split"]
    files = [jpeg[offsets[i]:offsets[i + 1]].tobytes() for i in range(len(labels))]
    chunks = [files[i:i + 2000] for i in range(0, len(files), 2000)]
    with ProcessPoolExecutor(workers or min(16, os.cpu_count() or 1)) as pool:
        images = np.concatenate(list(pool.map(_decode, chunks)))
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), labels.astype(np.int64), split


def decoded_npz(out: Path, train_images: int = 50_000) -> Path:
    """Write (once) the decoded npz with ``train_images`` stratified training images; returns ``out``."""
    if out.is_file():
        return out
    images, labels, split = decode_all(source_file())
    train = np.flatnonzero(split == 0)
    per_class = train_images // 10
    keep = np.sort(np.concatenate([train[labels[train] == c][:per_class] for c in range(10)]))
    test = np.flatnonzero(split == 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, x=images[keep], y=labels[keep], x_test=images[test], y_test=labels[test])
    os.replace(tmp, out)
    return out
