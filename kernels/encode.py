"""Numba batch encoding of genomes for the surrogate: ordinal genes and compression summaries.

For genomes (N, G) and the compiled tables: each gene listed in ``varying`` becomes
``choice / (n_choices - 1)`` when active and 0 when inactive; then, per genome and for each
field code 1, 2, 3 (the caller's codes: weight bits, activation bits, prune ratio), the mean,
minimum and maximum chosen value over the active genes of that code (0 when none).
``encode_reference`` is the NumPy reference.
"""

from __future__ import annotations

import numba
import numpy as np

from nasco.kernels.tables import CompiledSpace

N_FIELDS = 3
STATS = ("mean", "min", "max")


@numba.njit(cache=True, nogil=True)
def _encode(gene_values, gene_n, gene_active, genomes, varying, field, out):  # pragma: no cover - jitted
    n_genes = gene_n.shape[0]
    n_var = varying.shape[0]
    active = np.empty(n_genes, dtype=np.bool_)
    for n in range(genomes.shape[0]):
        genome = genomes[n]
        for g in range(n_genes):
            depth_gene = gene_active[g, 0]
            active[g] = depth_gene < 0 or gene_values[depth_gene, genome[depth_gene]] > gene_active[g, 1]
        for j in range(n_var):
            g = varying[j]
            out[n, j] = genome[g] / (gene_n[g] - 1) if active[g] else 0.0
        for f in range(1, 4):
            total = 0.0
            low = np.inf
            high = -np.inf
            count = 0
            for g in range(n_genes):
                if field[g] == f and active[g]:
                    v = gene_values[g, genome[g]]
                    total += v
                    low = min(low, v)
                    high = max(high, v)
                    count += 1
            base = n_var + 3 * (f - 1)
            out[n, base] = total / count if count else 0.0
            out[n, base + 1] = low if count else 0.0
            out[n, base + 2] = high if count else 0.0


def encode_genomes(space: CompiledSpace, genomes: np.ndarray, varying: np.ndarray, field: np.ndarray) -> np.ndarray:
    """float64 (N, len(varying) + 9): ordinal active genes, then mean, min, max of field codes 1, 2, 3."""
    genomes = np.ascontiguousarray(genomes, dtype=np.int64)
    out = np.empty((genomes.shape[0], len(varying) + N_FIELDS * len(STATS)))
    _encode(space.gene_values, space.gene_n, space.gene_active, genomes, np.asarray(varying, np.int64),
            np.asarray(field, np.int64), out)
    return out


def encode_reference(space: CompiledSpace, genomes: np.ndarray, varying: np.ndarray, field: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`encode_genomes`."""
    genomes = np.asarray(genomes, dtype=np.int64)
    depth_gene, block = space.gene_active[:, 0], space.gene_active[:, 1]
    safe = np.where(depth_gene >= 0, depth_gene, 0)
    active = (depth_gene < 0) | (space.gene_values[safe, genomes[:, safe]] > block)
    ordinal = np.where(active[:, varying], genomes[:, varying] / (space.gene_n[varying] - 1), 0.0)
    values = space.gene_values[np.arange(len(space.gene_n))[None, :], genomes]
    stats = []
    for f in range(1, N_FIELDS + 1):
        weight = active & (np.asarray(field) == f)
        count = weight.sum(axis=1)
        stats.append((values * weight).sum(axis=1) / np.maximum(count, 1))
        stats.append(np.where(count > 0, np.where(weight, values, np.inf).min(axis=1), 0.0))
        stats.append(np.where(count > 0, np.where(weight, values, -np.inf).max(axis=1), 0.0))
    return np.column_stack([ordinal, *stats])
