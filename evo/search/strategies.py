"""The search's pluggable strategies, in the registry style of :mod:`nasco.evo.registry`: surrogate
families (``search.surrogate_families``, ``search.inner_family``; entry-point group
``nasco.surrogate_families``) and proposals (``search.proposal``; group ``nasco.proposals``).

A surrogate family is a :class:`nasco.surrogate.Predictor` subclass; a proposal is a :class:`Proposal`:
given the fitted surrogate and one generation's asked genomes, it returns the candidates and which of
them to evaluate. The built-ins are ``screen`` (filter the asked offspring by their predictions) and
``inner`` (an inner NSGA-II on the surrogate proposes from every genome it visits; docs/ARCHITECTURE.md
§6). :class:`~nasco.evo.search.proposals.Proposer` decides *when* the surrogate proposes; these decide
*how*.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.registry import Registry, instance_of
from nasco.evo.search.inner import inner_pool
from nasco.evo.search.nsga import GeneBounds
from nasco.surrogate import FAMILIES, Predictor, hypervolume_picks, register_family, screen


# ----------------------------------------------------------------------------- surrogate families
def _as_family(obj: Any, name: str) -> type[Predictor]:
    """A plugin's entry as a family: a Predictor subclass, known to nasco.surrogate under ``name``."""
    if not (isinstance(obj, type) and issubclass(obj, Predictor)):
        raise NascoError(f"search.surrogate_families: {name!r} names {type(obj).__name__}; allowed: a subclass of "
                         "nasco.surrogate.Predictor")
    register_family(name, obj)
    return obj


SURROGATE_FAMILIES: Registry[type[Predictor]] = Registry("search.surrogate_families", "nasco.surrogate_families",
                                                         dict(FAMILIES), check=_as_family)


def register_surrogate_family(name: str, cls: type[Predictor]) -> None:
    """Make ``name`` usable in ``search.surrogate_families`` / ``inner_family`` (a Predictor subclass)."""
    SURROGATE_FAMILIES.register(name, _as_family(cls, name))


def load_families(names: list[str], field: str) -> list[str]:
    """``names``, each loaded (plugins imported and known to nasco.surrogate) and checked.

    Raises:
        NascoError: naming ``field``, the unknown or unloadable name and the allowed ones.
    """
    for name in names:
        try:
            SURROGATE_FAMILIES.get(name)
        except NascoError as err:
            raise NascoError(f"{field}: {err}") from None
    return list(names)


# ----------------------------------------------------------------------------- proposals
@dataclass
class ProposalInputs:
    """What a proposal sees of one generation.

    Attributes:
        genomes: (N, G) the genomes NSGA-II asked; ``population``: (P, G) the outer population (None at first).
        feasible, exclude: (N,) bool of ``genomes``: within the limits; already known (never to evaluate).
        k: at most this many picks; ``generation``; ``bounds``: the genes' bounds this generation.
        seed: the campaign's seed.
    """

    genomes: np.ndarray
    population: np.ndarray | None
    feasible: np.ndarray
    exclude: np.ndarray
    k: int
    generation: int
    bounds: GeneBounds
    seed: int


class Proposal(ABC):
    """How a fitted surrogate chooses a generation's genomes to evaluate.

    Attributes:
        name: the ``search.proposal`` value.
        scores_many: it predicts far more genomes than asked (refused with ``supernet.surrogate_feature``,
            whose every prediction costs a supernet inference).
    """

    name: str = ""
    scores_many: bool = False

    def families(self, search: Any, n_records: int) -> list[str]:
        """The surrogate families cross-validated on ``n_records`` records (``search``: the config's [search])."""
        return search.screen_families(n_records)

    @abstractmethod
    def propose(self, model: Predictor, inputs: ProposalInputs,
                helper: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(candidates (M, G), indices of at most ``inputs.k`` of them to evaluate — never a known, duplicate
        or infeasible genome —, the surrogate's predicted mean (M,) of the candidates). Returning
        ``inputs.genomes`` itself as candidates marks the picks as asked offspring. ``helper`` is the
        campaign's :class:`~nasco.evo.search.proposals.Proposer`: ``features(G)``, ``cheap_objectives(G)``,
        ``feasible(G)``, ``admissible(G)``, ``true_front()``, ``front_genomes()``, ``config`` and ``layout``."""


class ScreenProposal(Proposal):
    """Filter the asked offspring: rank their predicted (error, cheap objectives) by non-dominated sorting
    (``search.acquisition = "front"``) or by hypervolume improvement over the true front."""

    name = "screen"

    def propose(self, model, inputs, helper):
        s = helper.config.search
        mean, std = model.predict(helper.features(inputs.genomes))
        cheap = helper.cheap_objectives(inputs.genomes)
        if s.acquisition == "hypervolume":
            picked = hypervolume_picks(mean, std, cheap, helper.true_front(), inputs.k, exploration=s.exploration,
                                       feasible=inputs.feasible, exclude=inputs.exclude)
        else:
            picked = screen(mean, std, cheap, inputs.k, exploration=s.exploration, feasible=inputs.feasible,
                            exclude=inputs.exclude)
        return inputs.genomes, np.sort(picked), mean


class InnerProposal(Proposal):
    """An inner NSGA-II on the surrogate (started from the archive's front, the outer population and the
    asked genomes; a small space is scored whole) proposes every genome it visits; the picks maximise
    hypervolume improvement over the true front."""

    name = "inner"
    scores_many = True

    def families(self, search, n_records):
        return [search.inner_family] if search.inner_family != "auto" else search.screen_families(n_records)

    def propose(self, model, inputs, helper):
        s = helper.config.search
        start = [helper.front_genomes(), inputs.genomes] if inputs.population is None else \
            [helper.front_genomes(), inputs.population, inputs.genomes]

        def score(genomes):
            mean, std = model.predict(helper.features(genomes))
            F = np.column_stack([mean - s.inner_kappa * std, helper.cheap_objectives(genomes)])
            return np.nan_to_num(F, nan=np.inf), ~helper.feasible(genomes)

        pool = inner_pool(helper.layout, inputs.bounds, np.vstack(start), score, generations=s.inner_generations,
                          population=s.inner_population, seed=(inputs.seed * 1000 + inputs.generation) % 2**32,
                          exhaustive=s.inner_exhaustive)
        candidates = np.unique(np.vstack([inputs.genomes, pool]), axis=0)
        feasible, exclude = helper.admissible(candidates)
        mean, std = model.predict(helper.features(candidates))
        picked = hypervolume_picks(mean, std, helper.cheap_objectives(candidates), helper.true_front(), inputs.k,
                                   exploration=s.inner_exploration, feasible=feasible, exclude=exclude)
        return candidates, np.sort(picked), mean


_as_proposal = instance_of(Proposal, "search.proposal")
PROPOSALS: Registry[Proposal] = Registry("search.proposal", "nasco.proposals",
                                         {p.name: p for p in (ScreenProposal(), InnerProposal())}, check=_as_proposal)


def register_proposal(proposal: Proposal) -> Proposal:
    """Make ``search.proposal = proposal.name`` use ``proposal`` (replacing one of that name)."""
    PROPOSALS.register(proposal.name, _as_proposal(proposal, proposal.name))
    return proposal
