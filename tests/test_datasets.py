"""Datasets: splits, offline torchvision path on tiny IDX files, npz files, and clear errors."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
import torch

from nasco.evo.train.datasets import DatasetError, TensorSplit, load_task


def test_digits_splits_are_disjoint_and_seeded():
    a, b, c = load_task("digits", seed=0), load_task("digits", seed=0), load_task("digits", seed=1)
    assert a.input_shape == (1, 8, 8) and a.num_classes == 10
    assert len(a.train) + len(a.val) + len(a.test) == 1797
    assert torch.equal(a.val.y, b.val.y) and not torch.equal(a.val.x, c.val.x)
    assert torch.equal(a.test.x, c.test.x)  # the test split never depends on the search seed
    train_rows = {tuple(r.flatten().tolist()) for r in a.train.x}
    assert not any(tuple(r.flatten().tolist()) in train_rows for r in a.test.x[:50])
    x = a.normalize(a.train.x)
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 0.05


def _write_idx(path, array: np.ndarray) -> None:
    magic = 0x0801 if array.ndim == 1 else 0x0803
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_torchvision_path_reads_idx_files_offline(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 50), ("t10k", 20)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    task = load_task(name, root=tmp_path, download=False, val_fraction=0.2)
    assert task.input_shape == (1, 28, 28) and task.num_classes == 10
    assert (len(task.train), len(task.val), len(task.test)) == (40, 10, 20)
    assert task.train.x.dtype == torch.uint8 and task.scale == 1 / 255


def test_missing_root_without_download(tmp_path):
    with pytest.raises(DatasetError, match=r"mnist: not found under root .* pass download=True"):
        load_task("mnist", root=tmp_path / "nothing", download=False)


def test_unknown_name():
    with pytest.raises(DatasetError, match=r"dataset 'imagenet22k' is unknown; allowed: \['digits'"):
        load_task("imagenet22k")


def test_npz_round_trip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "good.npz"
    np.savez(good, x=rng.random((30, 6, 6)).astype(np.float32), y=np.arange(30) % 3)
    task = load_task("npz", root=good)
    assert task.input_shape == (1, 6, 6) and task.num_classes == 3 and len(task.train) + len(task.val) == 30

    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, x=np.zeros((4, 2, 2)), labels=np.zeros(4))
    with pytest.raises(DatasetError, match=r"missing arrays \['y'\]; it has \['labels', 'x'\]"):
        load_task("npz", root=no_y)
    with pytest.raises(DatasetError, match=r"labels span 0\.\.2, which does not match num_classes=2"):
        load_task("npz", root=good, num_classes=2)
    negative = tmp_path / "neg.npz"
    np.savez(negative, x=np.zeros((4, 2, 2)), y=np.array([0, 1, -1, 1]))
    with pytest.raises(DatasetError, match=r"3 distinct labels from -1 to 1; allowed: labels 0\.\.K−1"):
        load_task("npz", root=negative)
    with pytest.raises(DatasetError, match="does not exist"):
        load_task("npz", root=tmp_path / "missing.npz")


def test_imagefolder_trains_alike_cached_or_streamed(tmp_path, monkeypatch):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "train" / cls / f"{i}.png")
    task = load_task("imagefolder", root=tmp_path, image_size=8, val_fraction=0.25)
    assert task.input_shape == (3, 8, 8) and task.num_classes == 2 and len(task.train) == 9
    x, y = next(iter(task.train.batches(4, generator=torch.Generator().manual_seed(0))))
    assert x.shape == (4, 3, 8, 8) and y.shape == (4,)
    with pytest.raises(DatasetError, match="has no train/ folder"):
        load_task("imagefolder", root=tmp_path / "train")
    from nasco.evo import compile_space, default_space
    from nasco.evo.space.genome import fixed_genome
    from nasco.evo.train.trainer import TrainConfig, train_candidate

    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genome = fixed_genome(layout, arch="min", weight_bits=8, act_bits=8)
    result, _ = train_candidate(layout, genome, task, TrainConfig(epochs=1, batch_size=4), seed=0)
    assert result.status == "ok", result.reason
    for name, value in (("NASCO_CACHE_DIR", str(tmp_path / "no-cache")), ("NASCO_CACHE_DISK_MB", "0"),
                        ("NASCO_CACHE_MB", "0"), ("NASCO_STREAM_WORKERS", "1")):
        monkeypatch.setenv(name, value)
    streamed = load_task("imagefolder", root=tmp_path, image_size=8, val_fraction=0.25)
    assert type(streamed.train).__name__ == "StreamSplit"
    again, _ = train_candidate(layout, genome, streamed, TrainConfig(epochs=1, batch_size=4), seed=0)
    assert again.val_error == result.val_error and again.train_loss == result.train_loss


def test_torchvision_resize_shares_the_digits_space(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for prefix, n in (("train", 30), ("t10k", 10)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    task = load_task("fashion-mnist", root=tmp_path, image_size=8)
    assert task.name == "fashion-mnist@8x8" and task.input_shape == (1, 8, 8) == load_task("digits").input_shape
    assert task.train.x.dtype == torch.float32 and float(task.train.x.min()) >= 0 and float(task.train.x.max()) <= 1
    with pytest.raises(DatasetError, match="image_size: 2 is not allowed"):
        load_task("fashion-mnist", root=tmp_path, image_size=2)


def test_bad_npz_data_is_refused_at_load(tmp_path):
    """Labels far out of range used to train a 51-class model, NaN pixels made every candidate fail,
    and a file that is not an .npz (or holds object arrays) raised a traceback."""
    x = np.random.default_rng(0).random((8, 4, 4)).astype(np.float32)
    cases = {
        "gap": (dict(x=x, y=np.array([0, 1, 2, 50] * 2)), r"4 distinct labels from 0 to 50 \(no example of classes "
                                                          r"\[3, 4, 5, 6, 7, 8, 9, 10\] …\)"),
        "nan": (dict(x=np.where(np.arange(8)[:, None, None] == 3, np.nan, x), y=np.arange(8) % 2),
                r"train split: 1 images hold NaN or inf"),
        "inf_test": (dict(x=x, y=np.arange(8) % 2, x_test=np.full((2, 4, 4), np.inf), y_test=np.array([0, 1])),
                     r"test split: 2 images hold NaN or inf"),
        "objects": (dict(x=np.array([object()] * 8, dtype=object), y=np.arange(8) % 2), r"not readable as a \.npz"),
        "strings": (dict(x=np.full((8, 4, 4), "a"), y=np.arange(8) % 2), r"x has dtype <U1; allowed: numbers"),
    }
    for name, (arrays, pattern) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, **arrays)
        with pytest.raises(DatasetError, match=pattern):
            load_task("npz", root=path)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    np.save(tmp_path / "single.npy", x)
    for path in (text, tmp_path / "single.npy"):
        with pytest.raises(DatasetError, match=r"not readable as a \.npz of numeric arrays"):
            load_task("npz", root=path)


def test_missing_test_split_gives_nan_test_error_not_zero(tmp_path):
    from nasco.evo import compile_space, default_space
    from nasco.evo.search.evaluators import EvalJob
    from nasco.evo.search.train_evaluator import WorkerSpec, run_job
    from nasco.evo.space.genome import fixed_genome

    rng = np.random.default_rng(0)
    path = tmp_path / "no_test.npz"
    np.savez(path, x=rng.random((40, 8, 8)).astype(np.float32), y=np.arange(40) % 2)
    task = load_task("npz", root=path)
    assert len(task.test) == 0
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    spec = WorkerSpec({}, layout.space.to_dict(), {"batch_size": 16, "device": "cpu"})
    done = run_job(spec, EvalJob(fixed_genome(layout, arch="min"), 0, 1, test=True), (layout, task, None))
    assert done.result.status == "ok" and np.isnan(done.test_error)


def _png_folder(root, classes=("cat", "dog"), n=3):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in classes:
        (root / "train" / cls).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(root / "train" / cls / f"{i}.png")


def test_imagefolder_problems_are_named(tmp_path):
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"train'.*Couldn't find any class folder"):
        load_task("imagefolder", root=tmp_path / "empty")
    _png_folder(tmp_path / "hollow")
    (tmp_path / "hollow" / "train" / "bird").mkdir()
    with pytest.raises(DatasetError, match=r"no valid file for the classes bird"):
        load_task("imagefolder", root=tmp_path / "hollow")
    _png_folder(tmp_path / "corrupt")
    good = (tmp_path / "corrupt" / "train" / "cat" / "0.png").read_bytes()
    (tmp_path / "corrupt" / "train" / "cat" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "corrupt" / "train" / "dog" / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError, match=r"2 of 8 files are not readable images: .*bad\.jpg.*cut\.png"):
        load_task("imagefolder", root=tmp_path / "corrupt")


def test_imagefolder_with_a_link_loop_is_refused_not_listed_forever(tmp_path):
    _png_folder(tmp_path / "loop")
    (tmp_path / "loop" / "train" / "cat" / "up").symlink_to("..")  # ln -s .. train/cat/up
    with pytest.raises(DatasetError, match=r"train/cat/up links to .*loop/train, a folder that contains it"):
        load_task("imagefolder", root=tmp_path / "loop", image_size=8)
    _png_folder(tmp_path / "elsewhere")  # a link to a folder outside its own path is listed as usual
    _png_folder(tmp_path / "linked", classes=("cat",))
    (tmp_path / "linked" / "train" / "dog").symlink_to(tmp_path / "elsewhere" / "train" / "dog")
    task = load_task("imagefolder", root=tmp_path / "linked", image_size=8, val_fraction=0.25)
    assert len(task.train) + len(task.val) == 6


def test_imagefolder_can_leave_unreadable_files_out(tmp_path, capfd):
    _png_folder(tmp_path)
    (tmp_path / "train" / "cat" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    task = load_task("imagefolder", root=tmp_path, image_size=8, val_fraction=0.25, skip_bad_files=True)
    assert re.search(r"left out 1 unreadable files: \S*bad\.jpg", capfd.readouterr().err)
    again = load_task("imagefolder", root=tmp_path, image_size=8, val_fraction=0.25, skip_bad_files=True)
    assert "1 unreadable files left out when it was decoded" in capfd.readouterr().err
    assert len(task.train) + len(task.val) == len(again.train) + len(again.val) == 6
    with pytest.raises(DatasetError, match="skip_bad_files: applies to imagefolder only"):
        load_task("digits", skip_bad_files=True)


def _idx_root(tmp_path, n_train=60):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for prefix, n in (("train", n_train), ("t10k", 10)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 3 + (np.arange(n) % 5 == 0) * 3)
    return tmp_path


def _image_folder(tmp_path, counts=(12, 6)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, n in zip(("cat", "dog"), counts, strict=True):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "train" / cls / f"{i}.png")
    return tmp_path


def _split_images(split):
    return torch.cat([x for x, _ in split.batches(64)]), torch.cat([y for _, y in split.batches(64)])


@pytest.mark.parametrize("dataset", ["digits", "npz", "fashion-mnist", "imagefolder"])
def test_train_subset_is_a_stratified_seeded_subset_for_every_dataset(tmp_path, dataset):
    root = {"digits": None, "fashion-mnist": None, "imagefolder": None, "npz": tmp_path / "d.npz"}[dataset]
    if dataset == "npz":
        np.savez(root, x=np.random.default_rng(0).random((90, 5, 5)).astype(np.float32), y=np.arange(90) % 4 // 3)
    elif dataset == "fashion-mnist":
        root = _idx_root(tmp_path)
    elif dataset == "imagefolder":
        root = _image_folder(tmp_path)
    options = {"root": root, "image_size": 8 if dataset == "imagefolder" else None}
    whole = load_task(dataset, seed=0, **options)
    n = len(whole.train) // 2
    half, again, other = (load_task(dataset, seed=s, train_subset=n, **options) for s in (0, 0, 1))
    n_val = max(1, round(n * len(whole.val) / len(whole.train)))
    assert len(half.train) == n and len(half.val) == n_val
    assert half.name == (f"{whole.name}:train{n}:val{n_val}" if n_val < len(whole.val) else f"{whole.name}:train{n}")
    x_whole, y_whole = _split_images(whole.train)
    x_half, y_half = _split_images(half.train)
    assert torch.equal(x_half, _split_images(again.train)[0])  # seeded
    counts, whole_counts = (torch.bincount(y, minlength=whole.num_classes) for y in (y_half, y_whole))
    assert torch.all((counts - whole_counts * n / len(y_whole)).abs() < 1)  # each class keeps its share
    rows = {tuple(r.flatten().tolist()) for r in x_whole}
    assert all(tuple(r.flatten().tolist()) in rows for r in x_half)  # a subset of the training split …
    val_rows = {tuple(r.flatten().tolist()) for r in _split_images(whole.val)[0]}
    assert all(tuple(r.flatten().tolist()) in val_rows for r in _split_images(half.val)[0])  # … validation too
    kept = load_task(dataset, seed=0, train_subset=n, val_follows_subset=False, **options)
    assert kept.name == f"{whole.name}:train{n}"
    assert torch.equal(_split_images(kept.val)[0], _split_images(whole.val)[0])
    assert len(other.train) == n and not torch.equal(_split_images(other.train)[0], x_half)  # another seed


def test_stratified_subset_keeps_every_class_share():
    from nasco.evo.train.datasets import stratified_subset

    labels = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    picked = stratified_subset(labels, 10, seed=0)
    assert torch.equal(torch.bincount(labels[picked]), torch.tensor([5, 3, 2]))
    assert torch.equal(picked, torch.sort(picked).values) and len(set(picked.tolist())) == 10
    assert not torch.equal(picked, stratified_subset(labels, 10, seed=1))
    odd = stratified_subset(labels, 7, seed=0)  # 3.5, 2.1, 1.4: the largest remainder gets the seventh
    assert torch.equal(torch.bincount(labels[odd]), torch.tensor([4, 2, 1]))


def test_options_that_do_not_apply_are_errors_and_image_size_resizes_any_dataset(tmp_path):
    with pytest.raises(DatasetError, match="download: digits cannot be downloaded"):
        load_task("digits", download=True)
    with pytest.raises(DatasetError, match="does not apply to digits"):
        load_task("digits", root=tmp_path)
    with pytest.raises(DatasetError, match="num_classes: applies to npz only"):
        load_task("digits", num_classes=10)
    with pytest.raises(DatasetError, match="train_subset: 5000 is not allowed; allowed: fewer than the 1294"):
        load_task("digits", train_subset=5000)
    with pytest.raises(DatasetError, match="train_subset: -1 is not allowed"):
        load_task("digits", train_subset=-1)
    big = load_task("digits", image_size=16)
    assert big.name == "digits@16x16" and big.input_shape == (1, 16, 16) and big.train.x.shape[-1] == 16
    npz = tmp_path / "d.npz"
    np.savez(npz, x=np.random.default_rng(0).integers(0, 256, (20, 12, 12), dtype=np.uint8), y=np.arange(20) % 2)
    small = load_task("npz", root=npz, image_size=6)
    assert small.input_shape == (1, 6, 6) and float(small.train.x.max()) <= 255 and small.scale == 1 / 255


def test_the_validation_split_follows_the_subset_and_archived_descriptions_keep_theirs():
    from nasco.evo.search.config import TaskSection
    from nasco.evo.search.task import load_task_spec, task_spec

    whole = load_task("digits")
    spec = task_spec(TaskSection(train_subset=300), seed=0)
    small = load_task_spec(spec)
    n_val = round(300 * len(whole.val) / len(whole.train))  # 300 · 144 / 1294 = 33
    assert spec["val"] == "follows_subset" and len(small.val) == n_val == 33
    assert small.name == "digits:train300:val33"
    share = torch.bincount(whole.val.y, minlength=10) * n_val / len(whole.val)
    assert torch.all((torch.bincount(small.val.y, minlength=10) - share).abs() < 1)  # stratified: each digit's share
    before = load_task_spec({k: v for k, v in spec.items() if k != "val"})  # archived before the change
    assert before.name == "digits:train300" and torch.equal(before.val.x, whole.val.x)
    assert torch.equal(before.train.x, small.train.x)  # the same training subset either way
    assert "val" not in task_spec(TaskSection(), seed=0)  # a task without a subset: description unchanged


def test_an_archived_first_n_task_still_loads_as_it_trained():
    from nasco.evo.search.config import TaskSection
    from nasco.evo.search.task import load_task_spec, task_spec

    spec = task_spec(TaskSection(train_subset=300), seed=0)
    assert spec["subset"] == "stratified"
    assert "skip_bad_files" not in spec and task_spec(TaskSection(skip_bad_files=True), seed=0)["skip_bad_files"]
    old = {k: v for k, v in spec.items() if k not in ("subset", "val")}  # archived before stratification
    whole, first, stratified = load_task("digits"), load_task_spec(old), load_task_spec(spec)
    assert torch.equal(first.train.x, whole.train.x[:300]) and first.name == "digits:train300"
    assert stratified.name == "digits:train300:val33" and not torch.equal(stratified.train.x, first.train.x)


def test_an_image_folder_is_decoded_once_cached_and_decoded_again_when_it_changes(tmp_path, monkeypatch, capfd):
    import os

    from PIL import Image

    from nasco.evo.train import image_cache

    root = _image_folder(tmp_path / "data", counts=(10, 6))
    first = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25)
    assert "decoded 16 images" in capfd.readouterr().err
    assert isinstance(first.train, TensorSplit) and first.train.x.dtype == torch.uint8 and first.scale == 1 / 255
    again = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25)
    assert "memory-mapped and paged in, shared by every process" in capfd.readouterr().err
    assert torch.equal(_split_images(again.train)[0], _split_images(first.train)[0])
    # the arrays are what PIL decodes: RGB, bilinear resize to 8×8
    path = sorted(str(p) for p in (root / "train" / "cat").iterdir())[0]
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BILINEAR)).transpose(2, 0, 1)
    assert any(np.array_equal(row.numpy(), expected) for row in first.train.x)
    monkeypatch.setenv("NASCO_CACHE_MB", "0")  # beyond the memory budget: paged in as batches touch it
    mapped = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25)
    assert "pages read as batches touch them" in capfd.readouterr().err
    x, _ = next(iter(mapped.train.batches(4, generator=torch.Generator().manual_seed(0))))
    assert x.shape == (4, 3, 8, 8) and torch.equal(_split_images(mapped.val)[0], _split_images(first.val)[0])
    os.utime(path, ns=(1, 1))  # a changed file: decoded again
    load_task("imagefolder", root=root, image_size=8, val_fraction=0.25)
    assert "decoded 16 images" in capfd.readouterr().err
    load_task("imagefolder", root=root, image_size=6, val_fraction=0.25)  # another size: another entry
    assert "decoded 16 images" in capfd.readouterr().err
    assert len(list(image_cache.cache_dir().glob("*.x.npy"))) >= 3


def test_decoding_in_worker_processes_equals_one_process(tmp_path):
    from PIL import Image

    from nasco.evo.train.image_cache import CHUNK, decode_images

    rng = np.random.default_rng(3)
    paths = []
    for i in range(CHUNK + 5):  # two chunks
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8)).save(path)  # grayscale → RGB
        paths.append(str(path))
    one, kept, bad = decode_images(paths, 5, workers=1)
    assert one.shape == (CHUNK + 5, 3, 5, 5) and np.array_equal(one, decode_images(paths, 5, workers=2)[0])
    assert np.array_equal(kept, np.arange(CHUNK + 5)) and bad == []


def test_a_folder_too_large_for_the_disk_cache_is_decoded_into_memory_or_streamed(tmp_path, monkeypatch, capfd):
    from nasco.evo.train.image_stream import StreamSplit

    root = _image_folder(tmp_path / "data", counts=(13, 7))
    cached = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25, seed=3)
    capfd.readouterr()
    monkeypatch.setenv("NASCO_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("NASCO_CACHE_DISK_MB", "0")
    in_memory = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25, seed=3)
    assert "into memory; not cached (0.0 MiB decoded, more than the disk budget of 0.0 MiB" in capfd.readouterr().err
    assert isinstance(in_memory.train, TensorSplit) and not list((tmp_path / "empty-cache").glob("*.npy"))
    monkeypatch.setenv("NASCO_CACHE_MB", "0")
    monkeypatch.setenv("NASCO_STREAM_WORKERS", "2")
    streamed = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25, seed=3, train_subset=10)
    assert "streaming — not cached" in capfd.readouterr().err
    assert isinstance(streamed.train, StreamSplit) and len(streamed.train) == 10
    assert streamed.name.endswith(":train10:val3")
    streamed_all = load_task("imagefolder", root=root, image_size=8, val_fraction=0.25, seed=3)
    assert streamed_all.train.to("cuda").pin and not streamed_all.train.pin  # pinned batches for CUDA
    for split in ("train", "val"):  # the same images, labels and order as the cached folder's
        for seed in (None, 11):
            generators = (None, None) if seed is None else (torch.Generator().manual_seed(seed) for _ in "ab")
            mine, theirs = (list(getattr(task, split).batches(4, generator=gen))
                            for task, gen in zip((streamed_all, cached), generators, strict=True))
            assert len(mine) == len(theirs) > 0, (split, seed)
            assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                       for a, b in zip(mine, theirs, strict=True)), (split, seed)
    assert len(streamed_all.test) == len(cached.test) == 0
    assert torch.allclose(streamed_all.mean, cached.mean) and torch.allclose(streamed_all.std, cached.std)


def test_a_streamed_folder_names_or_leaves_out_files_that_turn_unreadable(tmp_path, monkeypatch):
    from nasco.evo.train.image_stream import StreamSplit

    root = _image_folder(tmp_path, counts=(3, 2))
    paths = sorted(str(p) for p in (root / "train").rglob("*.png"))
    (tmp_path / "train" / "cat" / "0.png").write_bytes(b"not a png")
    monkeypatch.setenv("NASCO_STREAM_WORKERS", "0")
    split = StreamSplit(paths, torch.arange(5), 6)
    with pytest.raises(ValueError, match=r"1 of 5 files are not readable images: \S*cat/0\.png"):
        list(split.batches(8))
    with pytest.warns(UserWarning, match=r"left out 1 unreadable files: \S*cat/0\.png"):
        (x, y), = StreamSplit(paths, torch.arange(5), 6, skip_bad=True).batches(8)
    assert x.shape == (4, 3, 6, 6) and y.tolist() == [1, 2, 3, 4]
