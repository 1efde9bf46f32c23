"""An image folder decoded once: uint8 arrays cached on disk, served like the built-in datasets.

The first load decodes every file (PIL, RGB, resized to ``image_size`` × ``image_size`` with
bilinear antialiasing, as torchvision's ``Resize`` does on PIL images) in worker processes, with
a progress bar on a terminal, and writes ``KEY.x.npy`` (N, C, S, S) uint8 and ``KEY.y.npy`` (N,)
int64 to the cache folder. The key hashes the folder's file list, sizes and modification times,
the classes and the image size, so a changed folder is decoded again. Later loads memory-map
the arrays, so the worker processes of a campaign share one copy (the OS page cache) instead of
holding one each: read in whole when they fit the memory budget, otherwise page by page as
batches touch them.

Where: ``$NASCO_CACHE_DIR``, else ``$XDG_CACHE_HOME/nasco`` or ``~/.cache/nasco``; memory
budget: ``$NASCO_CACHE_MB`` MiB (2048 by default). A cache folder that cannot be written is
said once, and the decoded arrays are used from memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

CACHE_VERSION = 1  # bump when decoding changes: old cache files are then never read
CHUNK = 256  # files per worker task
PAGE = 4096  # bytes: touching one byte per page reads a memory-mapped file in


def cache_dir() -> Path:
    """The folder holding decoded image folders."""
    if os.environ.get("NASCO_CACHE_DIR"):
        return Path(os.environ["NASCO_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nasco"


def memory_budget_bytes() -> int:
    """Cached arrays up to this size are read in whole when loaded; larger ones page by page."""
    return int(float(os.environ.get("NASCO_CACHE_MB", 2048)) * 2**20)


def folder_key(samples: list[tuple[str, int]], classes: list[str], image_size: int, skip_bad: bool = False) -> str:
    """A hash of the files (path, size, mtime, label), the classes, the image size and whether
    unreadable files are left out."""
    digest = hashlib.sha256(f"v{CACHE_VERSION} {image_size} {classes}{' skip-bad' if skip_bad else ''}".encode())
    for path, label in samples:
        stat = os.stat(path)
        digest.update(f"\n{path}\t{stat.st_size}\t{stat.st_mtime_ns}\t{label}".encode())
    return digest.hexdigest()[:32]


def _decode_chunk(job: tuple[list[str], int]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """(uint8 (n, 3, S, S), (index in the chunk, 'path (error)') of each file that is not a readable image)."""
    from PIL import Image

    paths, size = job
    out = np.zeros((len(paths), 3, size, size), dtype=np.uint8)
    bad = []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                out[i] = np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            bad.append((i, f"{path} ({err})"))
    return out, bad


def decode_images(paths: list[str], size: int, *, workers: int | None = None, label: str = "",
                  skip_bad: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(uint8 (N, 3, size, size), indices of the files decoded (N,), 'path (error)' of each file left out):
    every image decoded in worker processes, with a progress bar; unreadable files are left out with
    ``skip_bad``.

    Raises:
        ValueError: some files are not readable images (the first five named), without ``skip_bad``.
    """
    from rich.progress import Progress

    workers = max(1, min(workers or os.cpu_count() or 1, -(-len(paths) // CHUNK)))
    jobs = [(paths[i:i + CHUNK], size) for i in range(0, len(paths), CHUNK)]
    parts, bad_rows, bad = [], [], []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"decoding {label or 'images'}", total=len(paths))
        with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
            results = (pool.map if pool else map)(_decode_chunk, jobs)
            for start, (arrays, failed) in zip(range(0, len(paths), CHUNK), results, strict=True):
                parts.append(arrays)
                bad_rows += [start + i for i, _ in failed]
                bad += [message for _, message in failed]
                progress.advance(task, len(arrays))
    if bad and not skip_bad:
        raise ValueError(f"{len(bad)} of {len(paths)} files are not readable images: {'; '.join(bad[:5])}"
                         f"{' …' if len(bad) > 5 else ''}; remove or replace them (or skip_bad_files = true)")
    kept = np.setdiff1d(np.arange(len(paths)), bad_rows)
    x = np.concatenate(parts) if parts else np.zeros((0, 3, size, size), np.uint8)
    return (x[kept] if bad else x), kept, bad



def cached_folder(samples: list[tuple[str, int]], classes: list[str], size: int, *, label: str = "",
                  skip_bad: bool = False) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(x uint8 (N, 3, size, size), y int64 (N,), how they were obtained) of an image folder's samples:
    read from the cache when its key matches, decoded (and cached) otherwise; unreadable files are
    an error, or left out (and named) with ``skip_bad``."""
    key = folder_key(samples, classes, size, skip_bad)
    x_path, y_path = cache_dir() / f"{key}.x.npy", cache_dir() / f"{key}.y.npy"
    if x_path.is_file() and y_path.is_file():
        x = np.load(x_path, mmap_mode="r")  # one copy in the page cache, shared by every worker process
        y = np.load(y_path)
        if x_path.stat().st_size <= memory_budget_bytes():
            x.reshape(-1)[::PAGE].max(initial=0)  # touch every page: resident before training starts
            how = f"read from the cache {x_path} (memory-mapped and paged in, shared by every process)"
        else:
            how = f"read from the cache {x_path} (memory-mapped: pages read as batches touch them)"
        if len(y) < len(samples):
            how += f"; {len(samples) - len(y)} unreadable files left out when it was decoded"
        return _tensor(x), torch.from_numpy(y), how
    started = time.perf_counter()
    x, kept, bad = decode_images([p for p, _ in samples], size, label=label, skip_bad=skip_bad)
    y = np.array([c for _, c in samples], dtype=np.int64)[kept]
    seconds = time.perf_counter() - started
    how = f"decoded {len(x)} images in {seconds:.1f} s ({x.nbytes / 2**20:.1f} MiB)"
    if bad:
        how += f"; left out {len(bad)} unreadable files: {'; '.join(bad[:5])}{' …' if len(bad) > 5 else ''}"
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        for path, array in ((y_path, y), (x_path, x)):  # x last: its presence marks a complete entry
            partial = path.with_suffix(f".{os.getpid()}.partial.npy")
            np.save(partial, array)
            os.replace(partial, path)
        how += f", cached in {x_path}"
    except OSError as err:
        how += f"; not cached ({err}): decoded again next time"
    return torch.from_numpy(x), torch.from_numpy(y), how


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over an array, memory-mapped ones included (read-only: never written to)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "non-writable array": nasco never writes the data
        return torch.from_numpy(array)
