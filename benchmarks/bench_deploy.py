"""Deployment of searched models: packed bytes vs the size objective, ONNX Runtime accuracy and latency.

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python -u benchmarks/bench_deploy.py``

1. Digits: the default campaign (``nasco run`` without a config; its run folder is kept in
   ``benchmarks/data/deploy_runs/`` and reused) — every front member it retrained at the final
   fidelity is exported
   with ``nasco export``'s code path (exact retraining, ``--format packed,qdq,float``).
2. Fashion-MNIST at 28×28 (Debian's ``dataset-fashion-mnist``, a class-stratified training
   subset of ``--fashion-train`` images, ``--fashion-epochs`` epochs, 5 % validation; the first
   ``--fashion-eval`` test images compared): two candidates of the
   default space, a mixed-precision one (random bit-widths 2–8 and float, as a search visits)
   and the uniform 8-bit one (weights and activations — the case ONNX Runtime has integer
   kernels for), each trained, packed and run like an export.

Per model: mean weight/activation bits, the ``size`` objective in bytes vs the packed file's
tensor bytes (and the whole file with its JSON header), ONNX Runtime's test accuracy for the
QDQ graph vs torch's fake-quantized network (and the largest logit difference), and median
ONNX Runtime latency with 1 intra-op thread at batch 1 and 32 of the plain float graph of the
same network, the QDQ graph, and torch's float export of the fake quantization.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from nasco.archive import HDF5Archive

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import cpu_name, fashion_root, print_results

from nasco.evo import default_space
from nasco.evo.results.export import export_candidate, write_deployables
from nasco.evo.results.front import load_front
from nasco.evo.space.genome import as_genomes, decode, fixed_genome, gene_field, sample_genomes
from nasco.evo.space.layout import compile_space
from nasco.evo.train.candidate_io import load_candidate
from nasco.evo.train.datasets import load_task
from nasco.evo.train.trainer import TrainConfig, train_candidate

WORK = Path(__file__).parent / "data" / "deploy_runs"
DIGITS_RUN = WORK / "digits-default"


def bits_summary(layout, genome) -> tuple[float, float]:
    table = decode(layout, genome)
    return float(table.column("w_bits").mean()), float(table.column("a_bits").mean())


def quantized_genome(layout, rng) -> np.ndarray:
    """A random genome whose every weight and activation is quantized (random bits among the space's < 32)."""
    genome = sample_genomes(layout, rng, 1, canonical=False)[0]
    for g, (name, choices) in enumerate(zip(layout.gene_names, layout.gene_choices, strict=True)):
        if gene_field(name) in ("weight_bits", "act_bits"):
            genome[g] = rng.choice([i for i, c in enumerate(choices) if c < 32])
    return as_genomes(layout, genome)[0]


def row(label, layout, genome, packed, checks) -> dict:
    w, a = bits_summary(layout, genome)
    by = {c.label: c for c in checks}
    return {"model": label, "w": w, "a": a, "objective": packed.objective_bytes, "tensor": packed.tensor_bytes,
            "file": packed.file_bytes, "excess": packed.tensor_excess, "file_excess": packed.file_excess,
            "n": by["qdq"].n, "acc_torch": by["qdq"].torch_accuracy, "acc_qdq": by["qdq"].ort_accuracy,
            "gap_pp": by["qdq"].accuracy_gap_pp, "gap_float_pp": by["float"].accuracy_gap_pp,
            "max_diff": by["qdq"].max_abs_diff,
            **{f"{name}_{b}": by[name].latency_ms[b] for name in ("plain float", "qdq", "float") for b in (1, 32)}}


def digits_rows() -> list[dict]:
    print(f"the default campaign in {DIGITS_RUN} (run once: 4–10 minutes; resumed or reused after) …", flush=True)
    DIGITS_RUN.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "nasco.evo.cli.main", "run", "--out", str(DIGITS_RUN)]
    subprocess.run(command + (["--resume"] if (DIGITS_RUN / "archive.h5").is_file() else []), check=True,
                   stdout=subprocess.DEVNULL)
    front, rows = load_front(DIGITS_RUN / "archive.h5")
    with HDF5Archive(DIGITS_RUN / "archive.h5") as archive:
        final = archive.table().filter(status="ok", fidelity=front.fidelity)
    hashes = np.char.decode(final.rows["genome_hash"], "utf-8").tolist()
    print(f"digits: the {len(hashes)} front members the default campaign retrained at {front.fidelity} epochs "
          f"({len(rows)} on its final error–BitOps front)", flush=True)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, genome_hash in enumerate(hashes):
            result = export_candidate(DIGITS_RUN / "archive.h5", genome_hash, Path(tmp) / str(i),
                                      formats=["packed", "qdq", "float"])
            print(f"  {genome_hash}: retraining {'reproduced' if result.reproduced else 'did NOT reproduce'} the "
                  f"archived error", flush=True)
            layout, genome, _ = load_candidate(result.folder)
            out.append(row(f"digits {genome_hash[:8]}", layout, genome, result.packed, result.checks))
    return out


def fashion_rows(train: int, epochs: int, eval_images: int) -> list[dict]:
    root = fashion_root(WORK)
    if root is None:
        print("Fashion-MNIST not found (apt-get install dataset-fashion-mnist): skipped")
        return []
    task = load_task("fashion-mnist", root=root, seed=0, train_subset=train, val_fraction=0.05)
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    mixed = quantized_genome(layout, np.random.default_rng(2))
    out = []
    x, y = next(task.test.batches(eval_images))  # the first test images, in order
    images, labels = task.normalize(x), y
    for label, genome in (("fashion mixed", mixed), ("fashion w8a8", fixed_genome(layout, weight_bits=8, act_bits=8))):
        result, model = train_candidate(layout, genome, task, TrainConfig(epochs=epochs), seed=0)
        print(f"{label}: trained {epochs} epochs on {train} images in {result.wall_time_s:.0f} s, val error "
              f"{result.val_error:.4f}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            size, checks = write_deployables(Path(tmp), layout, genome, model, images, labels, split="test",
                                             formats=["packed", "qdq", "float"])
        out.append(row(label, layout, genome, size, checks))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="digits,fashion")
    parser.add_argument("--fashion-train", type=int, default=4000)
    parser.add_argument("--fashion-epochs", type=int, default=3)
    parser.add_argument("--fashion-eval", type=int, default=2000, help="test images run by torch and ONNX Runtime")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# bench_deploy — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, torch 1 thread, ONNX Runtime "
          f"1 intra-op thread (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})", flush=True)
    tasks = args.tasks.split(",")
    rows = (digits_rows() if "digits" in tasks else []) + \
        (fashion_rows(args.fashion_train, args.fashion_epochs, args.fashion_eval) if "fashion" in tasks else [])
    print(f"\n{'model':18} {'w bits':>6} {'a bits':>6} {'size obj B':>10} {'tensor B':>9} {'Δ':>7} {'file B':>8} "
          f"{'Δ file':>7} {'acc torch':>9} {'acc QDQ':>8} {'Δ pp':>5} {'max|Δ|':>7}")
    for r in rows:
        print(f"{r['model']:18} {r['w']:6.1f} {r['a']:6.1f} {r['objective']:10.0f} {r['tensor']:9d} "
              f"{r['excess']:+7.2%} {r['file']:8d} {r['file_excess']:+7.1%} {r['acc_torch']:9.2%} "
              f"{r['acc_qdq']:8.2%} {r['gap_pp']:5.2f} {r['max_diff']:7.3f}")
    print(f"\nmedian ms per ONNX Runtime run (1 thread)\n{'model':18} {'float b1':>9} {'QDQ b1':>8} {'ratio':>6} "
          f"{'sim b1':>8} {'float b32':>10} {'QDQ b32':>9} {'ratio':>6} {'sim b32':>9}")
    for r in rows:
        print(f"{r['model']:18} {r['plain float_1']:9.3f} {r['qdq_1']:8.3f} {r['plain float_1'] / r['qdq_1']:6.2f} "
              f"{r['float_1']:8.3f} {r['plain float_32']:10.3f} {r['qdq_32']:9.3f} "
              f"{r['plain float_32'] / r['qdq_32']:6.2f} {r['float_32']:9.3f}")
    print("(float: the plain float graph of the same network; QDQ: model.qdq.onnx; sim: model.onnx, torch's export "
          "of the fake quantization as float ops; ratio: float / QDQ, above 1 when QDQ is faster)")
    speed_1 = float(np.median([r["plain float_1"] / r["qdq_1"] for r in rows]))
    speed_32 = float(np.median([r["plain float_32"] / r["qdq_32"] for r in rows]))
    print_results([("packed_tensor_bytes_excess_max_pct", max(r["excess"] for r in rows) * 100, "<=", 5.0),
                   ("qdq_accuracy_gap_max_pp", max(r["gap_pp"] for r in rows), "<=", 0.5),
                   ("qdq_speedup_vs_float_b1_median", speed_1, ">=", 1.0),
                   ("qdq_speedup_vs_float_b32_median", speed_32, ">=", 1.0)], digits=3)


if __name__ == "__main__":
    main()
