"""Training from a folder of JPEGs at the speed of in-memory data: the decode-once image cache.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_imagefolder.py [--images 2000]``.

Data: the first N Fashion-MNIST training images (Debian's ``dataset-fashion-mnist``; synthetic
28×28 images when it is not installed, said in the output) written as JPEG files in
``train/CLASS/`` folders (the most common way users hold their own images), and the same
decoded pixels as an ``npz`` file. The cache lives in a temporary folder.

Measured: the first load of the folder (decoding every JPEG in worker processes, writing the
cache), the cache's size, a second load (read from the cache), and training throughput
(images/s: training images × epochs over ``train_candidate``'s wall time) of the same network
(the default 3×28×28 space's middle architecture, 8-bit, one torch thread) from the folder and
from the npz, measured after a first epoch of each (warm caches); and, for comparison, from the
same folder streamed (no cache allowed: the last resort for folders too large for any cache).
Target (issue 16): folder ≥ 0.9 × npz images/s.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import DEBIAN_FASHION, cpu_name, print_results

EPOCHS = 2


def fashion_images(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(uint8 (n, 28, 28), labels (n,), source)."""
    images, labels = DEBIAN_FASHION / "train-images-idx3-ubyte.gz", DEBIAN_FASHION / "train-labels-idx1-ubyte.gz"
    if images.is_file() and labels.is_file():
        with gzip.open(images) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
        with gzip.open(labels) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)
        return x, y, "Fashion-MNIST (Debian package)"
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n),
            "synthetic 28×28 (dataset-fashion-mnist not installed)")


def write_folder(root: Path, x: np.ndarray, y: np.ndarray) -> int:
    """JPEG files ROOT/train/CLASS/i.jpg; their total size in bytes."""
    from PIL import Image

    total = 0
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = root / "train" / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(image).save(path, quality=90)
        total += path.stat().st_size
    return total


def images_per_s(task) -> float:
    """Training throughput of the benchmark network on ``task`` after one warm-up epoch."""
    from nasco.evo import compile_space, default_space
    from nasco.evo.space.genome import fixed_genome
    from nasco.evo.train.trainer import TrainConfig, train_candidate

    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = fixed_genome(layout, weight_bits=8, act_bits=8)
    train_candidate(layout, genome, task, TrainConfig(epochs=1), seed=0)  # warm-up
    result, _ = train_candidate(layout, genome, task, TrainConfig(epochs=EPOCHS), seed=0)
    if result.status != "ok":
        raise SystemExit(f"training failed: {result.reason}")
    return len(task.train) * EPOCHS / result.wall_time_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from nasco.evo.train.datasets import load_task
    from nasco.evo.train.image_stream import stream_workers

    x, y, source = fashion_images(args.images)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NASCO_CACHE_DIR"] = str(Path(tmp) / "cache")
        jpeg_bytes = write_folder(Path(tmp) / "jpegs", x, y)
        started = time.perf_counter()
        folder = load_task("imagefolder", root=Path(tmp) / "jpegs", image_size=28)
        first_load = time.perf_counter() - started
        started = time.perf_counter()
        folder = load_task("imagefolder", root=Path(tmp) / "jpegs", image_size=28)
        second_load = time.perf_counter() - started
        cache_bytes = sum(p.stat().st_size for p in (Path(tmp) / "cache").glob("*.npy"))
        decoded = torch.cat([folder.train.x.index_select(0, folder.train.rows),
                             folder.val.x.index_select(0, folder.val.rows)])
        labels = torch.cat([folder.train.y, folder.val.y])
        npz_path = Path(tmp) / "same.npz"
        np.savez(npz_path, x=decoded.numpy(), y=labels.numpy())
        npz = load_task("npz", root=npz_path)
        rate_folder, rate_npz = images_per_s(folder), images_per_s(npz)
        os.environ.update(NASCO_CACHE_DIR=str(Path(tmp) / "no-cache"), NASCO_CACHE_DISK_MB="0", NASCO_CACHE_MB="0")
        streamed = load_task("imagefolder", root=Path(tmp) / "jpegs", image_size=28)  # too large for any cache
        rate_streamed = images_per_s(streamed)
    print(f"# bench_imagefolder — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, {os.cpu_count()} cores "
          f"(decoding in worker processes), 1 torch thread for training; {source}, {args.images} images")
    print(f"JPEG folder: {args.images} files, {jpeg_bytes / 2**20:.1f} MiB")
    print(f"first load (decode every JPEG, write the cache): {first_load:.2f} s "
          f"({args.images / first_load:,.0f} images/s); cache {cache_bytes / 2**20:.1f} MiB")
    print(f"second load (read the cache): {second_load:.3f} s")
    print(f"training images/s, {EPOCHS} epochs after a warm-up epoch: imagefolder {rate_folder:,.0f}, "
          f"npz {rate_npz:,.0f} (ratio {rate_folder / rate_npz:.3f})")
    print(f"streamed (no cache allowed: every epoch decodes the JPEGs again in {stream_workers()} worker processes): "
          f"{rate_streamed:,.0f} images/s (ratio to npz {rate_streamed / rate_npz:.3f})")
    ok = print_results([("imagefolder_vs_npz_train_images_per_s_ratio", rate_folder / rate_npz, ">=", 0.9)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
