"""pymoo NSGA-II on the integer genome, driven by ask/tell, with a checkpointable state.

The pymoo variables are the genes with more than one choice (fixed genes stay 0). Offspring
come from pymoo's SBX crossover and polynomial mutation on the ordinal gene values; a
:class:`GenomeRepair` rounds, clips to the (possibly narrowed) gene bounds and canonicalizes
them, and :class:`CanonicalDuplicates` removes offspring whose canonical genome already exists
(two genomes with the same canonical form are the same network). The algorithm's state —
population genomes, objectives, constraint values, rank and crowding, and its random
generator — round-trips through plain JSON/NumPy (:func:`export_state`, :func:`restore_state`).
"""

from __future__ import annotations

import math

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.termination import NoTermination
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM

from nasco.evo.space.base import SpaceLayout


class GeneBounds:
    """Per-gene allowed index ranges ``[low, high]`` (inclusive), narrowed by compression strategies."""

    def __init__(self, layout: SpaceLayout) -> None:
        self.layout = layout
        self.low = np.zeros(layout.n_genes, dtype=np.int64)
        self.high = np.asarray(layout.upper_bounds, dtype=np.int64) - 1

    def clip(self, genomes: np.ndarray) -> np.ndarray:
        return np.clip(genomes, self.low, self.high)

    @property
    def size(self) -> int:
        """Genomes within the bounds (before canonicalisation), an exact Python integer."""
        return math.prod(int(n) for n in self.high - self.low + 1)


class GenomeProblem(Problem):
    """The variable genes of a layout as a pymoo problem (objectives come from outside: ask/tell)."""

    def __init__(self, layout: SpaceLayout, n_obj: int) -> None:
        self.variable = np.flatnonzero(np.asarray(layout.upper_bounds) > 1)
        self.n_genes = layout.n_genes
        xu = np.asarray(layout.upper_bounds, dtype=np.float64)[self.variable] - 1
        super().__init__(n_var=len(self.variable), n_obj=n_obj, n_ieq_constr=1, xl=np.zeros(len(xu)), xu=xu,
                         vtype=float)

    def to_genomes(self, X: np.ndarray) -> np.ndarray:
        """pymoo variables (N, V) → full genomes int64 (N, G)."""
        genomes = np.zeros((len(X), self.n_genes), dtype=np.int64)
        genomes[:, self.variable] = np.rint(np.asarray(X, dtype=np.float64)).astype(np.int64)
        return genomes

    def to_variables(self, genomes: np.ndarray) -> np.ndarray:
        return np.asarray(genomes, dtype=np.float64)[:, self.variable]


class GenomeRepair(Repair):
    """Round to integers, clip to :class:`GeneBounds`, canonicalize."""

    def __init__(self, bounds: GeneBounds) -> None:
        super().__init__()
        self.bounds = bounds

    def _do(self, problem: GenomeProblem, X, **kwargs):
        genomes = self.bounds.layout.canonicalize(self.bounds.clip(problem.to_genomes(X)))
        return problem.to_variables(genomes)


class CanonicalDuplicates(DuplicateElimination):
    """Duplicates by canonical genome (exact integer rows after repair)."""

    def _do(self, pop, other, is_duplicate):
        X = np.rint(pop.get("X")).astype(np.int64)
        seen: set[bytes] = set()
        if other is not None:
            seen = {row.tobytes() for row in np.rint(other.get("X")).astype(np.int64)}
        for i, row in enumerate(X):
            key = row.tobytes()
            if key in seen:
                is_duplicate[i] = True
            elif other is None:
                seen.add(key)
        return is_duplicate


def latin_hypercube(layout: SpaceLayout, bounds: GeneBounds, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` canonical genomes from a Latin hypercube over the gene indices (McKay et al. 1979).

    Every gene's range is cut into ``n`` equal strata; each stratum is used once per gene.
    """
    width = bounds.high - bounds.low + 1
    strata = np.stack([rng.permutation(n) for _ in range(layout.n_genes)], axis=1)
    u = (strata + rng.random((n, layout.n_genes))) / n
    genomes = bounds.low + np.minimum(np.floor(u * width), width - 1).astype(np.int64)
    return layout.canonicalize(genomes)


def make_nsga2(problem: GenomeProblem, bounds: GeneBounds, initial: np.ndarray, n_offspring: int,
               seed: int) -> NSGA2:
    """NSGA-II (Deb et al. 2002) with SBX/PM on ordinal genes, set up for ask/tell."""
    algorithm = NSGA2(
        pop_size=len(initial), n_offsprings=n_offspring,
        sampling=problem.to_variables(initial),
        crossover=SBX(prob=0.9, eta=15, vtype=float),
        mutation=PM(prob=1.0, eta=20, vtype=float),
        repair=GenomeRepair(bounds), eliminate_duplicates=CanonicalDuplicates(),
    )
    algorithm.setup(problem, termination=NoTermination(), seed=seed, verbose=False)
    return algorithm


def set_evaluated(pop: Population, F: np.ndarray, failed: np.ndarray) -> Population:
    """Give ``pop`` its objectives (N, M) and the constraint ``G`` = 1 for failed/infeasible, 0 otherwise."""
    pop.set("F", np.asarray(F, dtype=np.float64), "G", np.where(failed, 1.0, 0.0)[:, None])
    return pop


def export_state(algorithm: NSGA2) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON-ready scalars, arrays) of the algorithm after a tell."""
    pop = algorithm.pop
    arrays = {"X": pop.get("X"), "F": pop.get("F"), "G": pop.get("G"),
              "rank": pop.get("rank").astype(np.float64), "crowding": pop.get("crowding").astype(np.float64)}
    return {"n_iter": int(algorithm.n_iter), "rng": algorithm.random_state.bit_generator.state}, arrays


def restore_state(algorithm: NSGA2, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
    """Put an algorithm fresh from :func:`make_nsga2` into the exported state."""
    pop = Population.new("X", arrays["X"])
    pop.set("F", arrays["F"], "G", arrays["G"], "rank", arrays["rank"].astype(int), "crowding", arrays["crowding"])
    algorithm.pop = pop
    algorithm.n_iter = scalars["n_iter"]
    algorithm.is_initialized = True
    algorithm.random_state.bit_generator.state = scalars["rng"]
    algorithm._set_optimum()
