"""The sequence space kind: cost-kernel throughput and agreement with counts on built torch models.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_sequence.py``.

Measured in one run, single thread, at two sequence lengths (the default sequence space for 60
token ids and 8 classes at T = 24 and T = 128): the Numba batch kernel on 200,000 random
genomes (compile time excluded: a warm-up call first; best of 5 repeats), the layer-by-layer
Python reference, and counting on built torch models (meta device: MACs from forward hooks on
linear, depthwise-conv and attention-matmul modules, every parameter, BitOps and weight storage
from each layer's quantizers) on 100 genomes per length. Targets (issue 18): ≥ 500,000
genomes/s single thread; the kernel equal to the reference (every cost) and to the torch counts
(MACs, params, BitOps, size) for every sampled genome.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results

from nasco.evo.space.genome import sample_genomes
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.sequence import default_sequence_space
from nasco.evo.train.sequence_model import build_sequence_model, count_costs
from nasco.kernels.sequence_cost import sequence_costs_reference

LENGTHS = (24, 128)
N_KERNEL = 200_000
N_REFERENCE = 2_000
N_TORCH = 100
TARGET_THROUGHPUT = 500_000


def torch_counts(layout, genome) -> tuple[int, int, int, int]:
    """(MACs, params, BitOps, size bits) counted on the built slim model (meta device)."""
    with torch.device("meta"):
        model = build_sequence_model(layout.decode(genome))
    return count_costs(model, layout.space.max_length)


def measure(length: int) -> dict:
    layout = compile_any(default_sequence_space(length, 60, 8))
    genomes = sample_genomes(layout, np.random.default_rng(length), N_KERNEL)
    layout.exact_costs(genomes[:10])  # compile or load the cache, outside the measurement
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        costs = layout.exact_costs(genomes)
        best = min(best, time.perf_counter() - start)
    start = time.perf_counter()
    reference_equal = 0
    for genome, row in zip(genomes[:N_REFERENCE], costs, strict=False):
        table = layout.decode(genome)
        reference_equal += list(sequence_costs_reference(table.array, list(table.roles)).values()) == row.tolist()
    reference_per = (time.perf_counter() - start) / N_REFERENCE
    start = time.perf_counter()
    torch_equal = sum(torch_counts(layout, genome) == tuple(row[:4])
                      for genome, row in zip(genomes[:N_TORCH], costs, strict=False))
    torch_per = (time.perf_counter() - start) / N_TORCH
    return dict(length=length, genes=layout.n_genes, kernel_rate=N_KERNEL / best, reference_per=reference_per,
                reference_equal=reference_equal, torch_per=torch_per, torch_equal=torch_equal,
                median_macs=float(np.median(costs[:, 0])), median_peak_kib=float(np.median(costs[:, 4])) / 8192)


def main() -> int:
    torch.set_num_threads(1)
    rows = [measure(length) for length in LENGTHS]
    print(f"# bench_sequence  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; threads: torch {torch.get_num_threads()}, numba kernel "
          f"single-threaded; python {sys.version.split()[0]}, torch {torch.__version__}")
    print("# space: default sequence space, 60 token ids, 8 classes (conv stage + attention stage)")
    print()
    print(f"{'T':>5}{'genes':>7}{'kernel genomes/s':>18}{'reference s/genome':>20}{'kernel is ×':>13}"
          f"{'= reference':>13}{'torch s/genome':>16}{'= torch':>9}{'median MACs':>13}{'peak KiB':>10}")
    for r in rows:
        print(f"{r['length']:>5}{r['genes']:>7}{r['kernel_rate']:>18,.0f}{r['reference_per']:>20.2e}"
              f"{r['kernel_rate'] * r['reference_per']:>13,.0f}{r['reference_equal']:>8}/{N_REFERENCE:<4}"
              f"{r['torch_per']:>16.2e}{r['torch_equal']:>5}/{N_TORCH:<3}{r['median_macs']:>13,.0f}"
              f"{r['median_peak_kib']:>10.1f}")
    print()
    results = [(f"sequence_cost_genomes_per_s_T{r['length']}", r["kernel_rate"], ">=", TARGET_THROUGHPUT)
               for r in rows]
    results += [(f"sequence_kernel_equals_reference_T{r['length']}", r["reference_equal"] / N_REFERENCE, ">=", 1.0)
                for r in rows]
    results += [(f"sequence_kernel_equals_torch_counts_T{r['length']}", r["torch_equal"] / N_TORCH, ">=", 1.0)
                for r in rows]
    return 0 if print_results(results) else 1


if __name__ == "__main__":
    sys.exit(main())
