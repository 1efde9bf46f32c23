"""The two latency workflows behind ``nasco latency``: build a table (profile + overhead fit), check one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasco.evo.latency.profile import fit_overhead, measure_networks, profile
from nasco.evo.latency.table import LatencyError, LatencyTable
from nasco.evo.space.genome import sample_genomes
from nasco.evo.space.layout import GenomeLayout
from nasco.evo.train.trainer import resolve_device


def build_latency_table(layout: GenomeLayout, out: str | Path, *, device: str = "cpu", batch: int = 1,
                        threads: int = 1, warmup: int = 3, repeats: int = 10, rounds: int = 7, calibrate: int = 12,
                        budget_s: float = 0.0, seed: int = 0,
                        progress: Callable[[int, int], None] | None = None) -> LatencyTable:
    """Profile every layer configuration of ``layout`` into ``out`` (resuming a table already there),
    then fit the per-network overhead from ``calibrate`` random networks; the table is saved as it
    grows. A table with ``skipped`` entries (the budget ran out) is saved without the overhead fit.

    Raises:
        LatencyError: a count out of range (batch, threads, rounds ≥ 1; repeats ≥ 3; calibrate ≥ 2).
    """
    if batch < 1 or threads < 1 or rounds < 1 or repeats < 3 or calibrate < 2:
        raise LatencyError("batch, threads, rounds ≥ 1, repeats ≥ 3 and calibrate ≥ 2 are required")
    out = Path(out)
    torch_device = resolve_device(device)
    existing = LatencyTable.load(out) if out.exists() else None
    table = profile(layout, torch_device, batch=batch, threads=threads, existing=existing, warmup=warmup,
                    repeats=repeats, rounds=rounds, budget_s=budget_s, progress=progress, save=lambda t: t.save(out))
    table.save(out)
    if table.skipped:
        return table
    genomes = sample_genomes(layout, np.random.default_rng(seed), calibrate)
    measured = measure_networks(layout, genomes, torch_device, batch=batch, threads=threads, warmup=warmup,
                                repeats=repeats, rounds=rounds)
    table.overhead = fit_overhead(table, layout, genomes, measured)
    table.save(out)
    return table


@dataclass
class LatencyCheck:
    """Predicted and measured latency (µs, (N,)) of random networks, Spearman ρ and MAPE (a fraction)."""

    predicted: np.ndarray
    measured: np.ndarray
    rho: float
    mape: float


def check_latency_table(table: LatencyTable, layout: GenomeLayout, *, samples: int = 50, seed: int = 1,
                        repeats: int = 10, rounds: int = 7) -> LatencyCheck:
    """Measure ``samples`` random networks end to end on the table's device and compare with its predictions.

    Raises:
        LatencyError: samples < 3, rounds < 1 or repeats < 3.
    """
    from scipy.stats import spearmanr

    if samples < 3 or rounds < 1 or repeats < 3:
        raise LatencyError("samples ≥ 3, rounds ≥ 1 and repeats ≥ 3 are required")
    genomes = sample_genomes(layout, np.random.default_rng(seed), samples)
    predicted = table.predict(layout, genomes)
    measured = measure_networks(layout, genomes, resolve_device(str(table.device["type"])),
                                batch=table.device["batch"], threads=table.device["threads"], repeats=repeats,
                                rounds=rounds)
    return LatencyCheck(predicted, measured, float(spearmanr(predicted, measured)[0]),
                        float(np.mean(np.abs(predicted - measured) / measured)))
