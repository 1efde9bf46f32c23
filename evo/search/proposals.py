"""How a generation's genomes to evaluate are chosen (docs/ARCHITECTURE.md §1): all of generation 0, then random
screening until the surrogate has enough records, then the surrogate — screening the asked offspring
(``search.proposal = "screen"``) or an inner NSGA-II on its predictions whose visited genomes are
picked by hypervolume improvement over the archive's true front (``"inner"``,
:mod:`nasco.evo.search.inner`; ``"auto"``, the default, resolved once per campaign by
:meth:`~nasco.evo.search.config.SearchSection.proposal_for`). Archived, duplicate and infeasible genomes are
never chosen."""

from __future__ import annotations

import time

import numpy as np

from nasco.archive import HDF5Archive, RecordTable
from nasco.evo.errors import NascoError
from nasco.evo.search.config import CampaignConfig
from nasco.evo.search.context import CampaignContext, record_values
from nasco.evo.search.nsga import GeneBounds
from nasco.evo.search.plan import objective_matrix
from nasco.evo.search.progress import CampaignMonitor, GenerationStats
from nasco.evo.search.strategies import ProposalInputs
from nasco.evo.search.surrogate_io import from_target, to_target
from nasco.kernels.pareto import non_dominated
from nasco.surrogate import fit_with_transfer, select_predictor


class Proposer:
    """Chooses one generation's genomes to evaluate (a function of the seed, the generation and the
    records known before it, so that a resumed campaign chooses the same)."""

    def __init__(self, config: CampaignConfig, ctx: CampaignContext, monitor: CampaignMonitor) -> None:
        self.config, self.ctx, self.monitor = config, ctx, monitor

    def select(self, archive: HDF5Archive, genomes: np.ndarray, generation: int, stats: GenerationStats, k: int,
               bounds: GeneBounds, population: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(at most ``k`` genomes to evaluate, their indices in the asked ``genomes`` — None when the inner
        search proposed them): all of generation 0; screened (or proposed by the inner search, which starts
        from the archive's front, the outer ``population`` (P, G) and the asked genomes) afterwards."""
        c, ctx = self.config, self.ctx
        known = ctx.known_records(archive, generation)
        feasible, exclude = self._admissible(genomes, known)
        allowed = feasible & ~exclude
        stats.screened = min(k, int(allowed.sum()))
        if generation == 0 or c.search.screen_factor == 1 or c.search.algorithm == "random" or not allowed.any():
            stats.screening = "none"  # the random baseline evaluates its uniform draws as they come
            # generation 0 keeps known genomes (an archived or warm-start initial population): reused, not evaluated
            picked = np.flatnonzero(feasible if generation == 0 else allowed)[:k]
            return genomes[picked], picked
        ok = known.filter(status="ok")
        if not c.search.surrogate or len(ok) < c.search.surrogate_min_records:
            if c.search.surrogate:
                self.monitor.log(f"gen {generation}: {len(ok)} records < surrogate_min_records="
                                 f"{c.search.surrogate_min_records}; random screening")
            rng = np.random.default_rng([c.campaign.seed, generation])
            picked = np.sort(rng.permutation(np.flatnonzero(allowed))[:k])
            return genomes[picked], picked
        started = time.perf_counter()
        model = self._fit_surrogate(ok, generation, stats)
        stats.selection_s = time.perf_counter() - started
        started = time.perf_counter()
        self._known, self._ok, self._last_admissible = known, ok, (None, None)
        inputs = ProposalInputs(genomes, population, feasible, exclude, k, generation, bounds, c.campaign.seed)
        candidates, picked, mean = ctx.proposal.propose(model, inputs, self)
        if candidates is not genomes:
            stats.screening += f"+{ctx.proposal.name}"
            feasible, exclude = self._last_admissible[1] if self._last_admissible[0] is candidates else \
                self.admissible(candidates)  # the proposal's own call, when it asked about these candidates
            stats.screened = min(k, int((feasible & ~exclude).sum()))
        picked = np.asarray(picked, dtype=np.int64)
        if len(picked) > k or (len(picked) and not (feasible[picked] & ~exclude[picked]).all()):
            raise NascoError(f"search.proposal = {ctx.proposal.name!r} picked {len(picked)} genomes (at most {k} "
                             "allowed), or a known or infeasible one; allowed: indices of admissible candidates")
        stats.proposal_s = time.perf_counter() - started
        stats.predicted = {ctx.layout.hash(candidates[i]): float(from_target(mean[i])) for i in picked}
        return candidates[picked], (picked if candidates is genomes else None)

    # ------------------------------------------------------------- what a proposal may ask (strategies.Proposal)
    @property
    def layout(self):
        return self.ctx.layout

    def features(self, genomes: np.ndarray) -> np.ndarray:
        """(N, F) the surrogate's features of genomes."""
        return self.ctx.features(genomes)

    def feasible(self, genomes: np.ndarray) -> np.ndarray:
        """(N,) bool: within the campaign's cost limits."""
        return self.ctx.feasible(self.ctx.costs(genomes))

    def admissible(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(feasible (N,), excluded (N,): known before this generation) of genomes (the last answer is kept:
        hashing every candidate of a whole-space pool costs seconds)."""
        answer = self._admissible(genomes, self._known)
        self._last_admissible = (genomes, answer)
        return answer

    def true_front(self) -> np.ndarray:
        """(P, 1 + C) the known acceptable records' non-dominated (surrogate target, cheap objectives)."""
        return self._true_front(self._ok)

    def front_genomes(self) -> np.ndarray:
        """(P, G) genomes of the non-dominated known records."""
        return self._front_genomes(self._ok)

    def _admissible(self, genomes: np.ndarray, known: RecordTable) -> tuple[np.ndarray, np.ndarray]:
        """(feasible (N,), excluded (N,): already known) of genomes."""
        feasible = self.ctx.feasible(self.ctx.costs(genomes))
        hashes = np.array([self.ctx.layout.hash(g) for g in genomes], dtype=str)
        return feasible, np.isin(hashes, known.column("genome_hash"))  # both decoded text (bytes ≠ str in isin)

    def _fit_surrogate(self, ok: RecordTable, generation: int, stats: GenerationStats):
        """The surrogate of this generation, selected and fitted on the records known before it."""
        c, ctx = self.config, self.ctx
        X = ctx.features(ok.genome_matrix())
        y = to_target(ok.column("error"))
        seed = (c.campaign.seed * 1000 + generation) % 2**32  # scikit-learn takes seeds below 2**32
        families = ctx.proposal.families(c.search, len(ok))
        if ctx.source is not None:
            model, scores = fit_with_transfer(X, y, source=ctx.source, families=families, seed=seed)
            best = scores["transfer" if model.uses_transfer else "plain"][0]
            stats.screening = f"{best.family}{'+transfer' if model.uses_transfer else ''}"
        else:
            model, family_scores = select_predictor(X, y, families=families, seed=seed)
            best = family_scores[0]
            stats.screening = best.family
        stats.tau = best.tau_mean
        return model

    def cheap_objectives(self, genomes: np.ndarray) -> np.ndarray:
        """(N, C) the objectives known before evaluation (metrics are not), as minimised."""
        ctx = self.ctx
        cheap = [o for o in ctx.plan.objectives if o.source == "cost"]
        if not cheap:
            return np.zeros((len(genomes), 0))
        return objective_matrix(cheap, dict(zip(ctx.plan.cost_columns, ctx.costs(genomes).T, strict=True)))

    def _true_front(self, ok: RecordTable) -> np.ndarray:
        """(P, 1 + C) the acceptable known records' non-dominated (surrogate target, cheap objectives)."""
        ok = ok.select(np.flatnonzero(self.ctx.acceptable(record_values(ok))))
        points = np.column_stack([to_target(ok.column("error")), self.cheap_objectives(ok.genome_matrix())])
        points = points[np.all(np.isfinite(points), axis=1)]
        return points[non_dominated(points)] if len(points) else points

    def _front_genomes(self, ok: RecordTable) -> np.ndarray:
        """Genomes of the non-dominated known records (where the inner search starts)."""
        F = self.ctx.objective_matrix(record_values(ok))
        return ok.genome_matrix()[non_dominated(np.nan_to_num(F, nan=np.inf))]
