"""Throughput of the Numba cost kernel against counting built torch models with thop and fvcore.

Run: ``PYTHONSAFEPATH=1 .venv/bin/python benchmarks/bench_costs.py`` (or ``make bench``).

Measured in one run, single thread (torch and Numba): the batch kernel on 100,000 random
genomes of the default space at 3×32×32 (compile time excluded: a warm-up call first; best
of 5 repeats), the pure-Python reference, and per-genome counting on built CPU torch models
(build + profile, batch 1) with thop and fvcore on a sample of 50 genomes, whose MAC counts
must equal the kernel's. Conventions: thop and fvcore both count one multiply-accumulate as
one op ("FLOP" in fvcore's naming); both count BatchNorm by default (thop 2·numel, fvcore
numel) and fvcore also counts adaptive average pooling — those counts are left out here,
since nasco's MACs cover conv and linear layers only.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results
from torch import nn

from nasco.evo import build_model, compile_space, decode, default_space, sample_genomes
from nasco.evo.space.genome import genome_costs
from nasco.evo.train.builder import QuantConv2d, QuantLinear
from nasco.kernels.reference import costs_reference, decode_reference

N_KERNEL = 100_000
N_SAMPLE = 50
N_REFERENCE = 2_000
TARGET_THROUGHPUT = 500_000
TARGET_RATIO = 10_000




def time_kernel(layout, genomes) -> float:
    genome_costs(layout, genomes[:10])  # compile or load the cache, outside the measurement
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        genome_costs(layout, genomes)
        best = min(best, time.perf_counter() - start)
    return best


def thop_macs(model: nn.Module, shape) -> int:
    """thop matches module types exactly, so nasco's Conv2d/Linear subclasses are mapped to its
    conv/linear counters, and BatchNorm to zero."""
    from thop import profile
    from thop.vision.basic_hooks import count_convNd, count_linear, zero_ops

    custom = {QuantConv2d: count_convNd, QuantLinear: count_linear, nn.BatchNorm2d: zero_ops}
    macs, _ = profile(model, inputs=(torch.zeros(1, *shape),), custom_ops=custom, verbose=False)
    return int(macs)


def fvcore_macs(model: nn.Module, shape) -> int:
    """fvcore's conv + linear counts (its ``set_op_handle(name, None)`` does not remove a
    default handler in 0.1.5, so BN and pooling are dropped by reading ``by_operator``)."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = analysis.by_operator()
    return int(by_op["conv"] + by_op["linear"])


def time_torch_counter(layout, genomes, counter) -> tuple[float, list[int]]:
    shape = layout.space.input_shape
    counter(build_model(decode(layout, genomes[0])).eval(), shape)  # warm-up
    counts = []
    start = time.perf_counter()
    for genome in genomes:
        model = build_model(decode(layout, genome)).eval()
        counts.append(counter(model, shape))
    return (time.perf_counter() - start) / len(genomes), counts


def main() -> int:
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    layout = compile_space(default_space((3, 32, 32), 10))
    rng = np.random.default_rng(0)
    genomes = sample_genomes(layout, rng, N_KERNEL)

    kernel_s = time_kernel(layout, genomes)
    kernel_rate = N_KERNEL / kernel_s
    kernel_costs = genome_costs(layout, genomes)

    start = time.perf_counter()
    for genome in genomes[:N_REFERENCE]:
        costs_reference(decode_reference(layout.tables, genome))
    reference_per = (time.perf_counter() - start) / N_REFERENCE

    sample = genomes[:N_SAMPLE]
    thop_per, thop_counts = time_torch_counter(layout, sample, thop_macs)
    fvcore_per, fvcore_counts = time_torch_counter(layout, sample, fvcore_macs)
    expected = kernel_costs[:N_SAMPLE, 0].tolist()
    thop_equal = sum(a == b for a, b in zip(thop_counts, expected, strict=True))
    fvcore_equal = sum(a == b for a, b in zip(fvcore_counts, expected, strict=True))

    print(f"# bench_costs  {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")
    print(f"# machine: {cpu_name()}, {os.cpu_count()} cores; threads: torch {torch.get_num_threads()}, "
          f"numba kernel single-threaded; python {sys.version.split()[0]}, torch {torch.__version__}")
    print(f"# space: default 3x32x32, {layout.n_genes} genes; {N_KERNEL:,} random canonical genomes")
    print()
    print(f"{'method':<34}{'genomes':>9}{'s/genome':>14}{'genomes/s':>14}{'kernel is ×':>14}")
    rows = [
        ("numba batch kernel (5 costs)", N_KERNEL, kernel_s / N_KERNEL),
        ("python reference (decode + costs)", N_REFERENCE, reference_per),
        ("build model + thop.profile", N_SAMPLE, thop_per),
        ("build model + fvcore FlopCount", N_SAMPLE, fvcore_per),
    ]
    for name, n, per in rows:
        print(f"{name:<34}{n:>9,}{per:>14.3e}{1 / per:>14,.0f}{per / (kernel_s / N_KERNEL):>14,.0f}")
    print()
    print(f"MACs equal to the kernel on the {N_SAMPLE}-genome sample: thop {thop_equal}/{N_SAMPLE}, "
          f"fvcore {fvcore_equal}/{N_SAMPLE}")
    print(f"sample MACs range: {min(expected):,} .. {max(expected):,}")
    print()
    ratio_thop = thop_per * kernel_rate
    ratio_fvcore = fvcore_per * kernel_rate
    results = [
        ("cost_genomes_per_s", kernel_rate, ">=", TARGET_THROUGHPUT),
        ("speedup_vs_thop", ratio_thop, ">=", TARGET_RATIO),
        ("speedup_vs_fvcore", ratio_fvcore, ">=", TARGET_RATIO),
        ("macs_equal_thop", thop_equal, ">=", N_SAMPLE),
        ("macs_equal_fvcore", fvcore_equal, ">=", N_SAMPLE),
    ]
    return 0 if print_results(results, digits=0) else 1


if __name__ == "__main__":
    sys.exit(main())
