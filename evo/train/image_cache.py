"""An image folder decoded once: uint8 arrays cached on disk, served like the built-in datasets.

The first load decodes every file (PIL, RGB, resized to ``image_size`` × ``image_size`` with
bilinear antialiasing, as torchvision's ``Resize`` does on PIL images) in worker processes, with
a progress bar on a terminal, straight into ``KEY.x.npy`` (N, C, S, S) uint8 (a memory-mapped
file: the decoded folder is never held in memory whole) and ``KEY.y.npy`` (N,) int64 in the
cache folder. The key hashes the folder's file list, sizes and modification times, the classes
and the image size, so a changed folder is decoded again. Later loads memory-map the arrays, so
the worker processes of a campaign share one copy (the OS page cache) instead of holding one
each: read in whole when they fit the memory budget, otherwise page by page as batches touch them.

Where: ``$NASCO_CACHE_DIR``, else ``$XDG_CACHE_HOME/nasco`` or ``~/.cache/nasco``; memory
budget: ``$NASCO_CACHE_MB`` MiB (2048 by default); disk budget: ``$NASCO_CACHE_DISK_MB`` MiB
(default: the cache folder's free space less 1 GiB). A folder whose decoded arrays exceed the
disk budget (or whose cache folder cannot be written) is decoded into memory when it fits the
memory budget, and otherwise streamed (:class:`nasco.evo.train.image_stream.StreamSplit`): every
epoch decodes its files again in worker processes — said when it is loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import shutil
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasco.evo.errors import NascoError

CACHE_VERSION = 1  # bump when decoding changes: old cache files are then never read
CHUNK = 256  # files per worker task
PAGE = 4096  # bytes: touching one byte per page reads a memory-mapped file in
DISK_HEADROOM = 2**30  # bytes of free space the default disk budget leaves on the cache's file system


def cache_dir() -> Path:
    """The folder holding decoded image folders."""
    if os.environ.get("NASCO_CACHE_DIR"):
        return Path(os.environ["NASCO_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nasco"


def env_number(name: str, default: float, *, integer: bool = False) -> float:
    """``$name`` as a number ≥ 0 (``default`` when unset or empty).

    Raises:
        NascoError: naming the variable, its value and what is allowed.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0:
        kind = "whole numbers" if integer else "numbers"
        raise NascoError(f"${name}: {text!r} is not allowed; allowed: {kind} ≥ 0")
    return value


def memory_budget_bytes() -> int:
    """Cached arrays up to this size are read in whole when loaded; larger ones page by page."""
    return int(env_number("NASCO_CACHE_MB", 2048) * 2**20)


def disk_budget_bytes() -> int:
    """The largest decoded folder written to the cache: ``$NASCO_CACHE_DISK_MB`` MiB, else the cache
    folder's free space less :data:`DISK_HEADROOM`."""
    if os.environ.get("NASCO_CACHE_DISK_MB", "").strip():
        return int(env_number("NASCO_CACHE_DISK_MB", 0) * 2**20)
    existing = next(p for p in (cache_dir(), *cache_dir().parents) if p.exists())
    return max(0, shutil.disk_usage(existing).free - DISK_HEADROOM)


def folder_key(samples: list[tuple[str, int]], classes: list[str], image_size: int, skip_bad: bool = False) -> str:
    """A hash of the files (path, size, mtime, label), the classes, the image size and whether
    unreadable files are left out."""
    digest = hashlib.sha256(f"v{CACHE_VERSION} {image_size} {classes}{' skip-bad' if skip_bad else ''}".encode())
    for path, label in samples:
        stat = os.stat(path)
        digest.update(f"\n{path}\t{stat.st_size}\t{stat.st_mtime_ns}\t{label}".encode())
    return digest.hexdigest()[:32]


def decode_chunk(job: tuple[list[str], int]) -> tuple[np.ndarray, list[tuple[int, str]]]:
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


def bad_files_message(bad: list[str], total: int) -> str:
    return (f"{len(bad)} of {total} files are not readable images: {'; '.join(bad[:5])}{' …' if len(bad) > 5 else ''}; "
            "remove or replace them (or skip_bad_files = true)")


def decode_images(paths: list[str], size: int, *, workers: int | None = None, label: str = "",
                  skip_bad: bool = False, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(uint8 (N, 3, size, size), indices of the files decoded (N,), 'path (error)' of each file left out):
    every image decoded in worker processes, with a progress bar, into ``out`` (len(paths), 3, size,
    size) when given (e.g. a memory-mapped file; its rows of unreadable files stay as they were), else
    into memory; unreadable files are left out with ``skip_bad``.

    Raises:
        ValueError: some files are not readable images (the first five named), without ``skip_bad``.
    """
    from rich.progress import Progress

    workers = max(1, min(workers or os.cpu_count() or 1, -(-len(paths) // CHUNK)))
    jobs = [(paths[i:i + CHUNK], size) for i in range(0, len(paths), CHUNK)]
    x = np.zeros((len(paths), 3, size, size), np.uint8) if out is None else out
    bad_rows, bad = [], []
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"decoding {label or 'images'}", total=len(paths))
        with ProcessPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
            results = (pool.map if pool else map)(decode_chunk, jobs)
            for start, (arrays, failed) in zip(range(0, len(paths), CHUNK), results, strict=True):
                x[start:start + len(arrays)] = arrays
                bad_rows += [start + i for i, _ in failed]
                bad += [message for _, message in failed]
                progress.advance(task, len(arrays))
    if bad and not skip_bad:
        raise ValueError(bad_files_message(bad, len(paths)))
    kept = np.setdiff1d(np.arange(len(paths)), bad_rows)
    return (x[kept] if bad and out is None else x), kept, bad


@dataclass
class Decoded:
    """A folder's images as obtained: ``x`` uint8 (N, 3, S, S) and ``y`` int64 (N,), or both None
    when it is too large for any cache (stream it); ``how`` says which, for the user."""

    x: torch.Tensor | None
    y: torch.Tensor | None
    how: str


def cached_folder(samples: list[tuple[str, int]], classes: list[str], size: int, *, label: str = "",
                  skip_bad: bool = False) -> Decoded:
    """An image folder's samples read from the cache when its key matches; otherwise decoded into the
    cache (a memory-mapped file) when it fits the disk budget, into memory when it fits the memory
    budget, or left to stream. Unreadable files are an error, or left out (and named) with ``skip_bad``."""
    key = folder_key(samples, classes, size, skip_bad)
    x_path, y_path = cache_dir() / f"{key}.x.npy", cache_dir() / f"{key}.y.npy"
    if x_path.is_file() and y_path.is_file():
        return _read_cache(x_path, y_path, len(samples))
    nbytes = len(samples) * 3 * size * size
    started = time.perf_counter()
    try:
        if nbytes > disk_budget_bytes():
            raise OSError(f"{_gib(nbytes)} decoded, more than the disk budget of {_gib(disk_budget_bytes())} "
                          "($NASCO_CACHE_DISK_MB, default the free space less 1 GiB)")
        bad = _decode_to_cache(samples, size, x_path, y_path, label, skip_bad)
    except OSError as err:
        if nbytes > memory_budget_bytes():
            return Decoded(None, None, f"not cached ({err}) and larger than the memory budget of "
                                       f"{_gib(memory_budget_bytes())} ($NASCO_CACHE_MB)")
        x, kept, bad = decode_images([p for p, _ in samples], size, label=label, skip_bad=skip_bad)
        y = np.array([c for _, c in samples], dtype=np.int64)[kept]
        how = (f"decoded {len(x)} images in {time.perf_counter() - started:.1f} s ({x.nbytes / 2**20:.1f} MiB) "
               f"into memory; not cached ({err}): decoded again next time")
        return Decoded(torch.from_numpy(x), torch.from_numpy(y), how + _left_out(bad))
    decoded = _read_cache(x_path, y_path, len(samples))
    how = (f"decoded {len(decoded.y)} images in {time.perf_counter() - started:.1f} s "
           f"({x_path.stat().st_size / 2**20:.1f} MiB), cached in {x_path}")
    return Decoded(decoded.x, decoded.y, how + _left_out(bad))


def _decode_to_cache(samples, size: int, x_path: Path, y_path: Path, label: str, skip_bad: bool) -> list[str]:
    """Decode straight into the cache files (x last: its presence marks a complete entry); the files
    left out."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    partial = x_path.with_suffix(f".{os.getpid()}.partial.npy")
    compact = x_path.with_suffix(f".{os.getpid()}.compact.npy")
    try:
        x = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(samples), 3, size, size))
        _, kept, bad = decode_images([p for p, _ in samples], size, label=label, skip_bad=skip_bad, out=x)
        if bad:  # rewrite without the unreadable files' rows
            kept_x = np.lib.format.open_memmap(compact, mode="w+", dtype=np.uint8, shape=(len(kept), 3, size, size))
            for start in range(0, len(kept), CHUNK):
                kept_x[start:start + CHUNK] = x[kept[start:start + CHUNK]]
            kept_x.flush()
            del x, kept_x
            os.replace(compact, partial)
        else:
            x.flush()
            del x
        y_partial = y_path.with_suffix(f".{os.getpid()}.partial.npy")
        np.save(y_partial, np.array([c for _, c in samples], dtype=np.int64)[kept])
        os.replace(y_partial, y_path)
        os.replace(partial, x_path)
    finally:
        partial.unlink(missing_ok=True)
        compact.unlink(missing_ok=True)
    return bad


def _read_cache(x_path: Path, y_path: Path, n_files: int) -> Decoded:
    x = np.load(x_path, mmap_mode="r")  # one copy in the page cache, shared by every worker process
    y = np.load(y_path)
    if x_path.stat().st_size <= memory_budget_bytes():
        x.reshape(-1)[::PAGE].max(initial=0)  # touch every page: resident before training starts
        how = f"read from the cache {x_path} (memory-mapped and paged in, shared by every process)"
    else:
        how = f"read from the cache {x_path} (memory-mapped: pages read as batches touch them)"
    if len(y) < n_files:
        how += f"; {n_files - len(y)} unreadable files left out when it was decoded"
    return Decoded(_tensor(x), torch.from_numpy(y), how)


def _left_out(bad: list[str]) -> str:
    return f"; left out {len(bad)} unreadable files: {'; '.join(bad[:5])}{' …' if len(bad) > 5 else ''}" if bad else ""


def _gib(nbytes: int) -> str:
    """A size for people: MiB below 1 GiB, GiB above."""
    return f"{nbytes / 2**20:.1f} MiB" if nbytes < 2**30 else f"{nbytes / 2**30:.2f} GiB"


def _tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over an array, memory-mapped ones included (read-only: never written to)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "non-writable array": nasco never writes the data
        return torch.from_numpy(array)
