"""Classification datasets behind one small interface: train / validation / test splits.

``load_task(name, root=..., download=..., seed=...)`` returns a :class:`Task`. Names:
``digits`` (scikit-learn's bundled 8×8 digits, offline; the default), ``mnist``,
``fashion-mnist``, ``cifar10``, ``cifar100`` (torchvision, read from ``root``; fetched only
with ``download=True``; ``image_size`` resizes them by area averaging, e.g. Fashion-MNIST at
8×8 shares the digits search space; the task is then named ``fashion-mnist@8x8``), ``npz``
(``root`` is a ``.npz`` file with ``x`` (N, H, W) or (N, C, H, W) and integer ``y`` (N,),
optionally ``x_test``/``y_test``) and ``imagefolder``
(``root`` has ``train/`` and optionally ``test/`` class folders, resized to ``image_size``,
32 by default; decoded once into a uint8 cache (:mod:`nasco.evo.train.image_cache`) and then
served like the in-memory datasets — streamed (:mod:`nasco.evo.train.image_stream`) only when too
large for any cache; a file that is not a readable image stops loading with its name — remove or
replace it, or leave it out with ``skip_bad_files``).

``image_size`` resizes every dataset (digits and npz too); ``train_subset`` keeps a
class-stratified random subset of the training split, for every dataset, and shrinks the
validation split in proportion (a stratified subset of it, as large against the subset as the
whole validation split is against the whole training split: 2,000 of CIFAR-10's 45,000 training
images validate on 222 of its 5,000), so that validation never costs more than training. An option that does
not apply (``download`` for digits, npz or imagefolder; ``root`` for digits; ``num_classes``
beyond npz; a subset as large as the training split) is an error, never ignored.

The validation split is carved from the training data with ``seed``; the test split is
never used by search. Splits are kept as tensors on the training device (on CUDA the whole
dataset lives on the GPU; batches are gathered by index).
"""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasco.evo.errors import NascoError

IMAGE_TASKS = ("digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "npz", "imagefolder")
TEXT_TASKS = ("langid", "text")  # token ids for the sequence space kind (nasco.evo.train.text_data)
TASK_NAMES = (*IMAGE_TASKS, *TEXT_TASKS)


class DatasetError(NascoError, ValueError):
    """A dataset cannot be found, read or does not match what was asked."""


@dataclass
class TensorSplit:
    """One split held in memory: ``x`` (N, C, H, W) raw values (uint8 or float), ``y`` int64 (N,).

    With ``rows`` (int64 (n,)), the split is those rows of ``x`` (a whole decoded image folder,
    possibly memory-mapped, shared by the splits without copying) and ``y`` holds their n labels.
    """

    x: torch.Tensor
    y: torch.Tensor
    rows: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device) -> TensorSplit:
        """On ``device``; rows of a shared array are gathered first unless it stays on the CPU."""
        if self.rows is not None and torch.device(device).type != "cpu":
            return TensorSplit(self.x.index_select(0, self.rows).to(device), self.y.to(device))
        return TensorSplit(self.x.to(device), self.y.to(device), self.rows)

    def labels(self) -> torch.Tensor:
        return self.y.cpu()

    def subset(self, index: torch.Tensor) -> TensorSplit:
        """The split's rows ``index`` (positions in this split)."""
        index = index.to(self.y.device)
        if self.rows is not None:
            return TensorSplit(self.x, self.y.index_select(0, index), self.rows.index_select(0, index.cpu()))
        return TensorSplit(self.x.index_select(0, index), self.y.index_select(0, index))

    def _gather(self, index: torch.Tensor) -> torch.Tensor:
        if self.rows is None:
            return self.x.index_select(0, index)
        return self.x.index_select(0, self.rows.index_select(0, index.cpu())).to(index.device)

    def batches(self, batch_size: int, *, generator: torch.Generator | None = None) -> Iterator[tuple]:
        """(raw x, y) batches; shuffled when a generator is given, in order otherwise."""
        n = len(self.y)
        if generator is None:
            for start in range(0, n, batch_size):
                if self.rows is None:
                    yield self.x[start:start + batch_size], self.y[start:start + batch_size]
                else:
                    yield self.x.index_select(0, self.rows[start:start + batch_size]), self.y[start:start + batch_size]
            return
        order = torch.randperm(n, generator=generator, device=generator.device).to(self.y.device)
        for start in range(0, n - batch_size + 1 if n >= batch_size else 1, batch_size):
            index = order[start:start + batch_size]
            yield self._gather(index), self.y.index_select(0, index)


@dataclass
class Task:
    """A dataset ready for training.

    Attributes:
        name: task id (e.g. ``"digits"``).
        input_shape: (C, H, W) of images; (T,) token ids of texts.
        num_classes: number of classes; labels are in [0, num_classes).
        train, val, test: the splits.
        scale: raw value × scale gives [0, 1] intensities (1/255 for uint8 images).
        mean, std: per-channel normalisation after scaling, float32 (C,).
        vocabulary: text tasks: the token of each id from 2 on (0 padding, 1 unknown); empty for images.
    """

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    train: TensorSplit
    val: TensorSplit
    test: TensorSplit
    scale: float
    mean: torch.Tensor
    std: torch.Tensor
    vocabulary: tuple[str, ...] = ()

    @property
    def is_text(self) -> bool:
        return bool(self.vocabulary)

    @property
    def vocab_size(self) -> int:
        """Token ids 0..vocab_size−1 of a text task (padding, unknown, the vocabulary)."""
        return len(self.vocabulary) + 2

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Raw batch → network input: float32 normalised images, or the token ids unchanged."""
        if self.is_text:
            return x
        shape = (1, -1, 1, 1)
        return (x.float() * self.scale - self.mean.to(x.device).view(shape)) / self.std.to(x.device).view(shape)

    def to(self, device: torch.device) -> Task:
        """The same task with its in-memory splits and normalisation on ``device`` (a batch then needs no
        copy from the host: on CUDA each such copy waits for the device)."""
        return Task(self.name, self.input_shape, self.num_classes, self.train.to(device), self.val.to(device),
                    self.test.to(device), self.scale, self.mean.to(device), self.std.to(device), self.vocabulary)


def _split_val(x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int) -> tuple[TensorSplit, TensorSplit]:
    if not 0 < val_fraction < 1:
        raise DatasetError(f"val_fraction: {val_fraction} is not allowed; allowed: 0 < val_fraction < 1")
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(val_fraction * len(y)))
    return TensorSplit(x[order[n_val:]], y[order[n_val:]]), TensorSplit(x[order[:n_val]], y[order[:n_val]])


def _check_labels(name: str, y: torch.Tensor, num_classes: int) -> None:
    if len(y) == 0:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_classes:
        raise DatasetError(f"{name}: labels span {lo}..{hi}, which does not match num_classes={num_classes}; "
                           f"allowed: labels in 0..{num_classes - 1}")


def _tensor_task(name, x_train, y_train, x_test, y_test, num_classes, scale, val_fraction, seed) -> Task:
    x_train, y_train = torch.as_tensor(x_train), torch.as_tensor(y_train).long()
    x_test, y_test = torch.as_tensor(x_test), torch.as_tensor(y_test).long()
    if x_train.dim() == 3:
        x_train = x_train.unsqueeze(1)
    if x_test.dim() == 3:
        x_test = x_test.unsqueeze(1)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        _check_labels(f"{name} {split} split", y, num_classes)
        if x.is_floating_point() and not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x)).flatten(1).any(dim=1).sum())
            raise DatasetError(f"{name} {split} split: {bad} images hold NaN or inf pixels; allowed: finite values "
                               "(every candidate would fail on them)")
    train, val = _split_val(x_train, y_train, val_fraction, seed)
    scaled = train.x.double() * scale
    mean = scaled.mean(dim=(0, 2, 3)).float()
    std = scaled.std(dim=(0, 2, 3)).clamp_min(1e-6).float()
    return Task(name, tuple(x_train.shape[1:]), num_classes, train, val, TensorSplit(x_test, y_test),
                scale, mean, std)


def _digits(val_fraction: float, seed: int) -> Task:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float32))
    y = torch.from_numpy(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))  # fixed test split
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    return _tensor_task("digits", x[train], y[train], x[test], y[test], 10, 1 / 16, val_fraction, seed)


def _resized(x: torch.Tensor, size: int | None) -> tuple[torch.Tensor, float]:
    """uint8 images (N, C, H, W) → (area-resized float32 in [0, 1], scale 1), or unchanged (scale 1/255)."""
    if size is None or (x.shape[-2], x.shape[-1]) == (size, size):
        return x, 1 / 255
    resized = torch.nn.functional.interpolate(x.float().div_(255), size=(size, size), mode="area")
    return resized, 1.0


def _torchvision(name: str, root: str | Path | None, download: bool, val_fraction: float, seed: int,
                 image_size: int | None) -> Task:
    from torchvision import datasets

    if root is None:
        raise DatasetError(f"{name}: root is required (the folder torchvision reads, or downloads into)")
    cls = {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST,
           "cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as err:
        hint = "" if download else "; pass download=True to fetch it"
        raise DatasetError(f"{name}: not found under root {str(root)!r} ({err}){hint}") from None
    num_classes = len(train.classes)
    x_train, scale = _resized(_chw(train.data), image_size)
    x_test, _ = _resized(_chw(test.data), image_size)
    task_name = name if image_size is None else f"{name}@{image_size}x{image_size}"
    return _tensor_task(task_name, x_train, train.targets, x_test, test.targets, num_classes, scale,
                        val_fraction, seed)


def _chw(data) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(data))
    return t.permute(0, 3, 1, 2).contiguous() if t.dim() == 4 else t.unsqueeze(1)  # CIFAR arrays are NHWC


def _npz_arrays(root: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``.npz`` file (never unpickled)."""
    try:
        data = np.load(root, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"npz {str(root)!r}: not readable as a .npz of numeric arrays ({err}); allowed: a file "
                           "written by numpy.savez with arrays x and y") from None


def _npz(root: str | Path | None, num_classes: int | None, val_fraction: float, seed: int) -> Task:
    if root is None:
        raise DatasetError("npz: root is required: the path of a .npz file with arrays x and y")
    if not Path(root).is_file():
        raise DatasetError(f"npz: file {str(root)!r} does not exist; allowed: a .npz with arrays x and y")
    data = _npz_arrays(root)
    missing = [k for k in ("x", "y") if k not in data]
    if missing:
        raise DatasetError(f"npz {str(root)!r}: missing arrays {missing}; it has {sorted(data)}; "
                           "required: x (N, H, W) or (N, C, H, W) and y (N,)")
    x, y = data["x"], data["y"]
    x_test, y_test = (data["x_test"], data["y_test"]) if "x_test" in data else (x[:0], y[:0])
    if x.ndim not in (3, 4) or y.ndim != 1 or len(x) != len(y) or len(y) < 2:
        raise DatasetError(f"npz {str(root)!r}: x {x.shape} and y {y.shape} are not allowed; "
                           "allowed: x (N, H, W) or (N, C, H, W), y (N,), N ≥ 2")
    for key, array in (("x", x), ("x_test", x_test)):
        if array.dtype.kind not in "uif" or array.dtype.kind == "b":
            raise DatasetError(f"npz {str(root)!r}: {key} has dtype {array.dtype}; allowed: numbers (uint8 or float)")
    for key, labels in (("y", y), ("y_test", y_test)):
        if not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(f"npz {str(root)!r}: {key} has dtype {labels.dtype}; allowed: integer class labels")
    classes = num_classes if num_classes is not None else _classes_from_labels(str(root), y)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) if x.dtype != np.uint8 else x
    x_test = x_test.astype(x.dtype)
    return _tensor_task("npz", x, y, x_test, y_test, classes, scale, val_fraction, seed)


def _classes_from_labels(root: str, y: np.ndarray) -> int:
    """K from training labels that are exactly 0..K−1, each with examples (a label of 50 among
    four classes would otherwise make a 51-class model)."""
    present = np.unique(y)
    k = int(present.max()) + 1
    if present.min() < 0 or len(present) != k:
        missing = sorted(set(range(max(k, 0))) - set(present.tolist()))
        gaps = f" (no example of classes {missing[:8]}{' …' if len(missing) > 8 else ''})" if missing else ""
        raise DatasetError(f"npz {root!r}: y holds {len(present)} distinct labels from {present.min()} to "
                           f"{present.max()}{gaps}; allowed: labels 0..K−1 with examples of every class (remap "
                           "them, e.g. with numpy.unique(y, return_inverse=True))")
    return k


def _refuse_link_loops(path: Path) -> None:
    """Walk ``path`` as the listing will (following links) and refuse a link to a folder that contains
    it (``ln -s .. train/a/loop``), which would make the listing endless."""
    for here, folders, _ in os.walk(path, followlinks=True):
        for name in folders:
            real = os.path.realpath(os.path.join(here, name))
            if Path(os.path.realpath(here)).is_relative_to(real):
                raise DatasetError(f"imagefolder {str(path)!r}: {os.path.join(here, name)} links to {real}, a folder "
                                   "that contains it (a symbolic link loop: listing would never end); allowed: links "
                                   "to folders outside their own path — remove that link")


def _imagefolder(root: str | Path | None, image_size: int, val_fraction: float, seed: int,
                 skip_bad_files: bool = False) -> Task:
    """ROOT/train/CLASS/* (and optionally ROOT/test/CLASS/*) decoded once into uint8 arrays
    (:mod:`nasco.evo.train.image_cache`), then split and served like the built-in datasets — or,
    too large for any cache, streamed (:mod:`nasco.evo.train.image_stream`); unreadable files stop
    it, or are left out and named with ``skip_bad_files``."""
    from torchvision import datasets

    from nasco.evo.train.image_cache import cached_folder
    from nasco.evo.train.image_stream import StreamSplit, stream_workers

    if root is None or not (Path(root) / "train").is_dir():
        raise DatasetError(f"imagefolder: {str(root)!r} has no train/ folder; allowed: ROOT/train/CLASS/*.png "
                           "(and optionally ROOT/test/CLASS/*)")

    def folder(path: Path) -> tuple[TensorSplit | StreamSplit, list[str]]:
        """The whole folder as one split (a TensorSplit over the decoded array, or a StreamSplit)."""
        _refuse_link_loops(path)
        try:
            listing = datasets.ImageFolder(str(path))  # lists files and classes; decodes nothing
        except (FileNotFoundError, NotADirectoryError) as err:
            raise DatasetError(f"imagefolder {str(path)!r}: {err}; allowed: one folder per class, each holding "
                               "images (.png, .jpg …)") from None
        try:
            decoded = cached_folder(listing.samples, listing.classes, image_size, label=str(path),
                                    skip_bad=skip_bad_files)
        except ValueError as err:
            raise DatasetError(f"imagefolder {str(path)!r}: {err}") from None
        if decoded.x is None:
            print(f"imagefolder {path}: streaming — {decoded.how}: every epoch decodes the {len(listing.samples)} "
                  f"files again in {stream_workers()} worker processes ($NASCO_STREAM_WORKERS; pinned memory on "
                  "CUDA); give the cache more room to train at full speed", file=sys.stderr)
            split = StreamSplit([p for p, _ in listing.samples], torch.tensor(listing.targets, dtype=torch.long),
                                image_size, skip_bad_files)
            return split, listing.classes
        print(f"imagefolder {path}: {decoded.how}", file=sys.stderr)
        return TensorSplit(decoded.x, decoded.y, torch.arange(len(decoded.y))), listing.classes

    whole, classes = folder(Path(root) / "train")
    test_dir = Path(root) / "test"
    test, test_classes = folder(test_dir) if test_dir.is_dir() else (whole.subset(torch.arange(0)), classes)
    if test_classes != classes:
        raise DatasetError(f"imagefolder {str(root)!r}: test/ has classes {test_classes}, train/ has {classes}; "
                           "allowed: the same class folders")
    if not 0 < val_fraction < 1:
        raise DatasetError(f"val_fraction: {val_fraction} is not allowed; allowed: 0 < val_fraction < 1")
    order = torch.randperm(len(whole), generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(val_fraction * len(order)))
    train, val = whole.subset(order[n_val:]), whole.subset(order[:n_val])
    if isinstance(train, StreamSplit):
        mean, std = _channel_stats(torch.from_numpy(train.images(STREAM_STATS_IMAGES, seed)))
    else:
        mean, std = _channel_stats(train.x, train.rows)
    return Task("imagefolder", (3, image_size, image_size), len(classes), train, val, test, 1 / 255, mean, std)


STREAM_STATS_IMAGES = 4096  # a streamed folder's channel statistics come from this many random training images


def _channel_stats(x: torch.Tensor, rows: torch.Tensor | None = None,
                   chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (float32 (C,)) of uint8 images ``x[rows]`` (all of ``x`` without rows)
    scaled to [0, 1], in chunks (a memory-mapped folder is never held whole)."""
    rows = torch.arange(len(x)) if rows is None else rows
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros(x.shape[1], dtype=torch.float64)
    for start in range(0, len(rows), chunk):
        block = x.index_select(0, torch.sort(rows[start:start + chunk]).values).double() / 255
        total += block.sum(dim=(0, 2, 3))
        squares += (block * block).sum(dim=(0, 2, 3))
    n = max(len(rows) * x.shape[2] * x.shape[3], 2)
    mean = total / n
    std = ((squares - n * mean * mean) / (n - 1)).clamp_min(1e-12).sqrt()
    return mean.float(), std.clamp_min(1e-6).float()


def stratified_subset(labels: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Sorted indices (n,) of a class-stratified random subset of ``labels`` (N,): each class keeps its
    share of n (largest remainders round), drawn at random within the class with ``seed``."""
    labels = torch.as_tensor(labels).long().cpu()
    counts = torch.bincount(labels).double()
    quota = counts * n / len(labels)
    take = quota.floor().long()
    remainder = int(n - take.sum())
    if remainder:
        take[torch.argsort(quota - take, descending=True, stable=True)[:remainder]] += 1
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for cls in torch.nonzero(take).flatten().tolist():
        members = torch.nonzero(labels == cls).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:int(take[cls])]])
    return torch.sort(torch.cat(picked)).values


def load_task(name: str = "digits", *, root: str | Path | None = None, download: bool = False,
              val_fraction: float = 0.1, seed: int = 0, num_classes: int | None = None,
              image_size: int | None = None, train_subset: int = 0, skip_bad_files: bool = False,
              max_length: int | None = None, tokenizer: str | None = None, val_follows_subset: bool = True) -> Task:
    """Load a task by name (see the module docstring).

    Args:
        train_subset: train on this many training examples (0: all), a class-stratified random
            subset drawn with ``seed``; the task is then named ``NAME:trainN:valM`` (M validation
            examples, see the module docstring).
        val_follows_subset: shrink the validation split with ``train_subset`` (the default); False
            keeps the whole validation split and the name ``NAME:trainN`` (tasks archived before).
        skip_bad_files: imagefolder only: leave out (and name) files that are not readable images
            instead of stopping.
        max_length, tokenizer: text tasks only: tokens per text (longer ones truncated) and
            ``"char"`` or ``"word"`` (None: the dataset's default, see :mod:`text_data`).

    Raises:
        DatasetError: unknown name, missing files (with ``download=False``), malformed npz or
            text files, labels outside ``num_classes``, or an option that does not apply.
    """
    if name not in TASK_NAMES:
        raise DatasetError(f"dataset {name!r} is unknown; allowed: {list(TASK_NAMES)}")
    offline = ("digits", "npz", "imagefolder", *TEXT_TASKS)
    if download and name in offline:
        raise DatasetError(f"download: {name} cannot be downloaded; allowed: download only with "
                           f"{', '.join(n for n in TASK_NAMES if n not in offline)}")
    if name == "digits" and root:
        raise DatasetError(f"root: {str(root)!r} does not apply to digits (bundled with scikit-learn); allowed: empty")
    if num_classes is not None and name != "npz":
        raise DatasetError(f"num_classes: applies to npz only; {name} knows its classes")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 4):
        raise DatasetError(f"image_size: {image_size!r} is not allowed; allowed: an integer ≥ 4, or None")
    if isinstance(train_subset, bool) or not isinstance(train_subset, int) or train_subset < 0:
        raise DatasetError(f"train_subset: {train_subset!r} is not allowed; allowed: an integer ≥ 0 (0: all)")
    if skip_bad_files and name != "imagefolder":
        raise DatasetError(f"skip_bad_files: applies to imagefolder only; {name} is read whole or not at all")
    if name in TEXT_TASKS:
        if image_size is not None:
            raise DatasetError(f"image_size: applies to image datasets; {name} holds texts (max_length sets their "
                               "length)")
        task = _text_task(name, root, max_length, tokenizer, val_fraction, seed)
        return _train_subset(task, train_subset, seed, val_follows_subset) if train_subset else task
    if max_length is not None or tokenizer is not None:
        raise DatasetError(f"max_length / tokenizer: apply to text datasets ({', '.join(TEXT_TASKS)}); {name} holds "
                           "images")
    if name == "digits":
        task = _resized_task(_digits(val_fraction, seed), image_size)
    elif name == "npz":
        task = _resized_task(_npz(root, num_classes, val_fraction, seed), image_size)
    elif name == "imagefolder":
        task = _imagefolder(root, image_size or 32, val_fraction, seed, skip_bad_files)
    else:
        task = _torchvision(name, root, download, val_fraction, seed, image_size)
    return _train_subset(task, train_subset, seed, val_follows_subset) if train_subset else task


def _text_task(name: str, root, max_length: int | None, tokenizer: str | None, val_fraction: float,
               seed: int) -> Task:
    """A text task (:mod:`nasco.evo.train.text_data`) as token ids; named NAME, with @T and the
    tokenizer when they are not the dataset's defaults."""
    from nasco.evo.train.text_data import DEFAULT_LENGTH, DEFAULT_TOKENIZER, TOKENIZERS, load_text_arrays

    length = DEFAULT_LENGTH[name] if max_length is None else max_length
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 65_536:
        raise DatasetError(f"max_length: {max_length!r} is not allowed; allowed: an integer 1..65536 (tokens per text)")
    tokens = tokenizer or DEFAULT_TOKENIZER[name]
    if tokens not in TOKENIZERS:
        raise DatasetError(f"tokenizer: {tokenizer!r} is not allowed; allowed: {', '.join(TOKENIZERS)}")
    try:
        data = load_text_arrays(name, root, length, tokens)
    except (ValueError, OSError) as err:
        raise DatasetError(str(err)) from None
    train, val = _split_val(data["x"], data["y"], val_fraction, seed)
    label = name + ("" if max_length is None else f"@{length}") + ("" if tokenizer is None else f"-{tokens}")
    return Task(label, (length,), len(data["classes"]), train, val, TensorSplit(data["x_test"], data["y_test"]),
                1.0, torch.zeros(1), torch.ones(1), data["vocabulary"])


def _resized_task(task: Task, size: int | None) -> Task:
    """An in-memory task resized to size × size (area averaging down, bilinear up), named NAME@SxS."""
    if size is None or task.input_shape[1:] == (size, size):
        return task

    def resize(split: TensorSplit) -> TensorSplit:
        x = split.x.float()
        if not len(x):
            return TensorSplit(x.new_zeros((0, x.shape[1], size, size)), split.y)
        mode = "area" if size <= min(x.shape[-2:]) else "bilinear"
        resized = torch.nn.functional.interpolate(x, size=(size, size), mode=mode,
                                                  **({"align_corners": False} if mode == "bilinear" else {}))
        return TensorSplit(resized, split.y)

    return Task(f"{task.name}@{size}x{size}", (task.input_shape[0], size, size), task.num_classes,
                resize(task.train), resize(task.val), resize(task.test), task.scale, task.mean, task.std)


def _train_subset(task: Task, n: int, seed: int, val_follows: bool) -> Task:
    """The task with a class-stratified subset of n training images and, with ``val_follows``, of
    round(n · |val| / |train|) validation images (at least one; see :func:`load_task`)."""
    n_train = len(task.train)
    if n >= n_train:
        raise DatasetError(f"train_subset: {n} is not allowed; allowed: fewer than the {n_train} training "
                           f"images of {task.name} (0: all)")
    task.train = task.train.subset(stratified_subset(task.train.labels(), n, seed))
    task.name = f"{task.name}:train{n}"
    n_val = max(1, round(n * len(task.val) / n_train))
    if val_follows and n_val < len(task.val):
        task.val = task.val.subset(stratified_subset(task.val.labels(), n_val, seed))
        task.name = f"{task.name}:val{n_val}"
    return task
