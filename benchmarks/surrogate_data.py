"""Make the surrogate benchmark's archive by really training candidates (cached in benchmarks/data/).

``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/surrogate_data.py [--digits N] [--fashion N] [--workers W]``

Random canonical genomes of the default 1×8×8 space (mixed bit-widths and prune ratios) are
trained with :func:`nasco.evo.train.trainer.train_candidate` on ``digits`` (8 epochs) and on
Fashion-MNIST resized to 8×8 (same space; 3,000 training images, 8 epochs; from Debian's
dataset-fashion-mnist package), and appended to one archive with their exact costs. Runs
add to an existing file, so it can be stopped and continued. Workers use one torch thread each.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ARCHIVE = Path(__file__).with_name("data") / "surrogate_8x8.h5"
COLUMNS = ("error", "macs", "params", "bitops", "size_bits", "peak_act_bits")
EPOCHS = 8
FASHION_TRAIN = 3000
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
_TASK = None


def _load(task_id: str):
    from nasco.evo.train.datasets import TensorSplit, load_task

    if task_id == "digits":
        return load_task("digits", seed=0)
    root = Path(tempfile.mkdtemp())
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in DEBIAN_FASHION.glob("*.gz"):
        with gzip.open(gz) as src, open(raw / gz.name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    task = load_task("fashion-mnist", root=root, image_size=8, seed=0)
    shutil.rmtree(root)
    task.train = TensorSplit(task.train.x[:FASHION_TRAIN], task.train.y[:FASHION_TRAIN])
    task.val = TensorSplit(task.val.x[:1000], task.val.y[:1000])
    return task


def _init(task_id: str) -> None:
    import torch

    global _TASK
    torch.set_num_threads(1)
    _TASK = _load(task_id)


def _train(args):
    from nasco.evo import compile_space, default_space
    from nasco.evo.train.trainer import TrainConfig, train_candidate

    genome, seed = args
    layout = compile_space(default_space(_TASK.input_shape, _TASK.num_classes))
    result, _ = train_candidate(layout, genome, _TASK, TrainConfig(epochs=EPOCHS), seed=seed)
    return genome, seed, result


def generate(task_id: str, n: int, workers: int, seed: int) -> None:
    from nasco.archive import HDF5Archive, Record
    from nasco.evo import compile_space, default_space, sample_genomes
    from nasco.evo.space.genome import genome_costs
    from nasco.kernels.tables import COST_NAMES

    layout = compile_space(default_space((1, 8, 8), 10))
    ARCHIVE.parent.mkdir(exist_ok=True)
    with HDF5Archive(ARCHIVE, "a", columns=COLUMNS) as archive:
        archive.register_space(layout.space.space_id, layout.space.to_dict(), layout.n_genes)
        archive.register_task(task_id, {"name": task_id, "input_shape": [1, 8, 8], "num_classes": 10,
                                        "epochs": EPOCHS})
        have = len(archive.read(task=task_id))
        if have >= n:
            return
        genomes = sample_genomes(layout, np.random.default_rng(seed), n)[have:]
        jobs = [(g, seed * 100_000 + have + i) for i, g in enumerate(genomes)]
        started = time.perf_counter()
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(task_id,)) as pool:
            for done, (genome, train_seed, result) in enumerate(pool.map(_train, jobs), have + 1):
                costs = dict(zip(COST_NAMES, genome_costs(layout, genome)[0].astype(float).tolist(), strict=True))
                archive.append([Record(
                    genome=genome, space_id=layout.space.space_id, task_id=task_id, fidelity=EPOCHS,
                    values={"error": result.val_error, **costs}, status=result.status, reason=result.reason,
                    wall_time_s=result.wall_time_s, device=result.device, seed=train_seed,
                    campaign_id="surrogate-bench", curve=np.array(result.val_error_curve, np.float32))])
                rate = (done - have) / (time.perf_counter() - started)
                print(f"{task_id}: {done}/{n} error {result.val_error:.3f} ({rate:.2f}/s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=320, help="records on digits (320)")
    parser.add_argument("--fashion", type=int, default=120, help="records on Fashion-MNIST at 8×8 (120)")
    parser.add_argument("--workers", type=int, default=2, help="training processes (2)")
    args = parser.parse_args()
    generate("digits", args.digits, args.workers, seed=1)
    if args.fashion:
        if not DEBIAN_FASHION.is_dir():
            print("Fashion-MNIST not found: apt-get install dataset-fashion-mnist", file=sys.stderr)
            return 1
        generate("fashion-mnist@8x8", args.fashion, args.workers, seed=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
