"""Inner search on the surrogate (NSGANetV2/MSuNAS, Lu et al. 2020): propose genomes from a whole
NSGA-II run on predicted error and exact cheap costs, instead of only filtering the outer offspring.

Each outer generation, an inner NSGA-II (pymoo, the same repair and duplicate elimination as the
outer one) starts from the archive's front, the outer population and offspring and random
genomes, and runs ``generations`` generations of ``population`` genomes scored by the fitted
surrogate — no evaluation. Every genome it visits joins the candidate pool. A space of at most
``exhaustive`` genomes (within the gene bounds) is scored whole instead: predicting every genome
costs less than the inner search and misses nothing. The campaign then picks the ``K`` to
evaluate from the pool by hypervolume improvement
(:func:`nasco.surrogate.hypervolume_picks`), never an archived, duplicate or infeasible genome.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nasco.evo.search.nsga import GeneBounds, GenomeProblem, make_nsga2, set_evaluated
from nasco.evo.space.base import SpaceLayout


def every_genome(layout: SpaceLayout, bounds: GeneBounds) -> np.ndarray:
    """All distinct canonical genomes (P, G) within the bounds (for small spaces: see ``exhaustive``)."""
    axes = [np.arange(lo, hi + 1, dtype=np.int64) for lo, hi in zip(bounds.low, bounds.high, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, layout.n_genes)
    return np.unique(layout.canonicalize(grid), axis=0)


def inner_pool(layout: SpaceLayout, bounds: GeneBounds, start: np.ndarray,
               score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], *, generations: int, population: int,
               seed: int, exhaustive: int = 0) -> np.ndarray:
    """Distinct canonical genomes (P, G) visited by an inner NSGA-II on the surrogate — or every genome
    of the space when it holds at most ``exhaustive`` of them.

    Args:
        start: genomes (S, G) the inner population starts from (first ``population`` distinct ones;
            random genomes fill the rest).
        score: genomes (N, G) → (objectives F (N, M) to minimise, infeasible (N,) bool).
        generations: inner generations after the start population; ``population``: its size.
        seed: seeds the random fill and pymoo's operators (a proposal is a function of the seed,
            the start genomes and the surrogate).
        exhaustive: the largest space scored whole (0: always the inner NSGA-II).
    """
    if bounds.size <= exhaustive:
        return every_genome(layout, bounds)
    rng = np.random.default_rng(seed)
    population = int(min(population, max(4, bounds.size // 4)))
    start = np.unique(layout.canonicalize(bounds.clip(np.asarray(start, np.int64).reshape(-1, layout.n_genes))),
                      axis=0)
    chosen = start[rng.permutation(len(start))][:population]
    for _ in range(100):
        if len(chosen) >= population:
            break
        extra = layout.canonicalize(bounds.clip(layout.sample(rng, population)))
        chosen = np.unique(np.vstack([chosen, extra]), axis=0)[:population] if len(chosen) else extra
    n_obj = score(chosen[:1])[0].shape[1]
    problem = GenomeProblem(layout, n_obj)
    algorithm = make_nsga2(problem, bounds, chosen, population, int(rng.integers(2**31)))
    algorithm.mating.n_max_iterations = 5  # a crowded space gives fewer new offspring, not minutes of retries
    visited = []
    for _ in range(generations + 1):
        offspring = algorithm.ask()
        if offspring is None or not len(offspring):
            break
        genomes = problem.to_genomes(offspring.get("X"))
        F, infeasible = score(genomes)
        algorithm.tell(infills=set_evaluated(offspring, F, infeasible))
        visited.append(genomes)
    return np.unique(np.vstack(visited), axis=0) if visited else np.zeros((0, layout.n_genes), np.int64)
