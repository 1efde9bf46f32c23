"""Co-optimisation of architecture and compression: narrowing the compression genes' bounds.

Two strategies act on :class:`~nasco.evo.search.nsga.GeneBounds` (the repair clips offspring to them):

- **Sensitivity pre-processing** (:func:`sensitivity_bounds`): one reference network of the
  space (largest architecture, float, unpruned) is trained briefly; the fused quantization ×
  pruning sweep (:mod:`nasco.kernels.sweep`) measures, per layer, the relative weight
  reconstruction error ``mse / mean(w²)`` of every weight bit-width and prune ratio; choices
  above the threshold are removed for every genome (HAQ/APQ-style sensitivity analysis done
  once, in milliseconds, instead of learning it by training bad candidates). Activation bits
  are left alone: the sweep sees weights only.
- **Strict-to-relaxed schedule** (:func:`scheduled_bounds`): during the first half of the
  generations the compression genes are biased towards strong compression — bit-width genes
  capped at the lower half of their choices, prune genes raised towards the middle of theirs —
  relaxing linearly to the full range. Early generations thus explore cheap networks, which
  the accuracy objective alone would leave late.
"""

from __future__ import annotations

import math

import numpy as np

from nasco.evo.search.nsga import GeneBounds
from nasco.evo.space.genome import decode, gene_field, largest_genome
from nasco.evo.space.layout import GenomeLayout
from nasco.kernels.sweep import sweep_layers
from nasco.kernels.tables import L_SLOT, S_PRUNE_GENE, S_WBITS_GENE

BITS_FIELDS = ("weight_bits", "act_bits")


def _field(layout: GenomeLayout, g: int) -> str:
    return gene_field(layout.gene_names[g])


def sensitivity_bounds(layout: GenomeLayout, weights: list[np.ndarray], threshold: float) -> tuple[GeneBounds, dict]:
    """Gene bounds that forbid the compression choices whose simulated weight error exceeds ``threshold``.

    Args:
        layout: the compiled space.
        weights: the trained reference network's weights, one array (C_out, ...) per layer of
            ``decode(layout, largest_genome(layout))``, in table order.
        threshold: largest allowed relative error ``mse / mean(w²)``.

    Returns:
        (bounds, report): report maps gene name → ``{"choice": value, "error": relative error}`` per
        removed choice, for the log.
    """
    table = decode(layout, largest_genome(layout))
    slots = table.array[:, L_SLOT]
    if len(weights) != len(slots):
        raise ValueError(f"sensitivity_bounds: {len(weights)} weight arrays for {len(slots)} layers")
    bits = sorted({int(v) for g in range(layout.n_genes) if _field(layout, g) == "weight_bits"
                   for v in layout.gene_choices[g]})
    ratios = sorted({float(v) for g in range(layout.n_genes) if _field(layout, g) == "prune"
                     for v in layout.gene_choices[g]})
    sweeps = sweep_layers(weights, bits or [32], ratios or [0.0])
    worst_bits: dict[int, dict[int, float]] = {}
    worst_prune: dict[int, dict[float, float]] = {}
    for slot, w, sweep in zip(slots, weights, sweeps, strict=True):
        power = float(np.mean(np.square(w, dtype=np.float64))) or 1.0
        w_gene, p_gene = int(layout.tables.slots[slot, S_WBITS_GENE]), int(layout.tables.slots[slot, S_PRUNE_GENE])
        if w_gene >= 0:
            for b, mse in zip(bits, sweep.quant_mse, strict=True):
                entry = worst_bits.setdefault(w_gene, {})
                entry[b] = max(entry.get(b, 0.0), mse / power)
        if p_gene >= 0:
            for r, mse in zip(ratios, sweep.prune_mse, strict=True):
                entry = worst_prune.setdefault(p_gene, {})
                entry[r] = max(entry.get(r, 0.0), mse / power)
    bounds = GeneBounds(layout)
    report: dict[str, list[dict]] = {}
    for gene, errors in worst_bits.items():
        ok = [i for i, v in enumerate(layout.gene_choices[gene]) if errors.get(int(v), 0.0) <= threshold]
        bounds.low[gene] = min(ok) if ok else bounds.high[gene]
        removed = [{"choice": v, "error": errors.get(int(v), 0.0)}
                   for v in layout.gene_choices[gene][:bounds.low[gene]]]
        if removed:
            report[layout.gene_names[gene]] = removed
    for gene, errors in worst_prune.items():
        ok = [i for i, v in enumerate(layout.gene_choices[gene]) if errors.get(float(v), 0.0) <= threshold]
        bounds.high[gene] = max(ok) if ok else 0
        removed = [{"choice": v, "error": errors.get(float(v), 0.0)}
                   for v in layout.gene_choices[gene][bounds.high[gene] + 1:]]
        if removed:
            report[layout.gene_names[gene]] = removed
    return bounds, report


def scheduled_bounds(base: GeneBounds, generation: int, generations: int) -> GeneBounds:
    """``base`` narrowed by the strict-to-relaxed schedule at ``generation`` (0-based) of ``generations``."""
    layout = base.layout
    half = max(generations / 2.0, 1.0)
    strictness = max(0.0, 1.0 - generation / half)
    bounds = GeneBounds(layout)
    bounds.low, bounds.high = base.low.copy(), base.high.copy()
    for g in range(layout.n_genes):
        span = int(base.high[g] - base.low[g])
        if span <= 0:
            continue
        field = _field(layout, g)
        if field in BITS_FIELDS:
            bounds.high[g] = base.low[g] + math.ceil(span * (1.0 - 0.5 * strictness))
        elif field == "prune":
            bounds.low[g] = base.low[g] + math.floor(span * 0.5 * strictness)
    return bounds
