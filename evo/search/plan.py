"""What a campaign resolves from its config before touching the archive: the space, the evaluator,
the objectives and the value columns. Every check that can fail before any evaluation is here:
an unknown objective, a metric the evaluator never returns, a cost the space does not have."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasco.evo.search.config import CampaignConfig, ConfigError
from nasco.evo.search.evaluators import TEST_METRIC, Evaluator, PythonEvaluator, evaluator_traits, make_evaluator
from nasco.evo.search.objectives import BUILTIN, NETWORK_COSTS, Objective, objective
from nasco.evo.search.task import load_task_spec, task_spec
from nasco.evo.space.base import SpaceLayout, missing_features
from nasco.evo.space.kinds import compile_any, kind_of, space_kind
from nasco.evo.space.toml_io import load_space
from nasco.kernels.tables import COST_NAMES

NETWORK_COST_COLUMNS = (*COST_NAMES, "latency_us")  # a network kind's exact costs, then the LUT's latency
RESULT_COLUMNS = ("error", *NETWORK_COST_COLUMNS, TEST_METRIC)  # the columns of a mobilenet + train campaign


@dataclass
class CampaignPlan:
    """A campaign's resolved pieces.

    Attributes:
        layout: the compiled space; ``evaluator``: bound to it.
        task: the loaded data (``train`` evaluator, or a default network space), else None.
        objectives: registry entries of ``objectives.names``, in order.
        cost_columns: cheap values known for any genome: the space's, then the evaluator's.
        columns: the archive's value columns: error, costs, other metrics, test error.
    """

    layout: SpaceLayout
    evaluator: Evaluator
    task: Any
    objectives: list[Objective]
    cost_columns: tuple[str, ...]
    columns: tuple[str, ...]


def campaign_space(config: CampaignConfig, task: Any) -> Any:
    """The declared space: a file, inline genes, or the default of the kind for the task's input."""
    s = config.space
    if s.file:
        return load_space(s.file)
    if s.genes:  # declared inline (config validation allows this for the genes kind only)
        return space_kind(s.kind).from_dict({"kind": s.kind, "genes": s.genes, "costs": s.costs,
                                             "encoding": s.encoding})
    return space_kind(s.kind).default_for(task)


def plan_campaign(config: CampaignConfig, *, evaluator: Evaluator | Callable | None = None,
                  space: Any = None) -> CampaignPlan:
    """Resolve space, evaluator, objectives and columns (see the module docstring).

    Raises:
        ConfigError (or another NascoError): naming the field, the value and what is allowed.
    """
    c = config
    traits = evaluator_traits(c.evaluator.kind) if evaluator is None else None
    if traits is not None and c.supernet.surrogate_feature and not traits.surrogate_feature:
        raise ConfigError(f"supernet.surrogate_feature: True is not allowed with evaluator.kind = "
                          f"{c.evaluator.kind!r}, whose factory declares no such feature; allowed: true with an "
                          "evaluator kind that gives it (built-in: evaluator.kind = 'train')")
    needs_task = (traits is not None and traits.needs_task) or \
        (space is None and not c.space.file and not c.space.genes)  # the kind's default space follows the task
    task = load_task_spec(task_spec(c.task, c.campaign.seed)) if needs_task else None
    if isinstance(space, Mapping):
        from nasco.evo.space.toml_io import space_from_dict

        space = space_from_dict(dict(space))
    layout = compile_any(space if space is not None else campaign_space(c, task))
    _check_space_size(c, layout)
    _check_network_only(c, layout)
    if evaluator is None:
        if traits.needs_network and not layout.network:
            raise ConfigError(f"evaluator.kind = {c.evaluator.kind!r} needs a network space kind; space kind "
                              f"{kind_of(layout.space)!r} has no network (use evaluator.kind = python or table)")
        evaluator = make_evaluator(c, layout, task)
    else:
        if c.supernet.surrogate_feature:
            raise ConfigError("supernet.surrogate_feature: True is not allowed with an evaluator passed to the "
                              "campaign; allowed: true only with nasco's trainer (evaluator.kind = 'train')")
        if not isinstance(evaluator, Evaluator):
            evaluator = PythonEvaluator(evaluator, tuple(c.evaluator.metrics) or ("error",))
        evaluator.bind(layout)
    cost_columns = (*(NETWORK_COST_COLUMNS if layout.network else layout.cost_names), *evaluator.cheap)
    clash = sorted({*cost_columns} & {*evaluator.metrics}) or sorted(
        n for n in set(cost_columns) if list(cost_columns).count(n) > 1)
    if clash:
        raise ConfigError(f"value names {clash} are both cheap costs (space {list(layout.cost_names)}, evaluator "
                          f"cheap {list(evaluator.cheap)}) and metrics {list(evaluator.metrics)}; allowed: distinct")
    if "error" not in evaluator.metrics:
        raise ConfigError(f"objectives.names includes error, but the evaluator returns {list(evaluator.metrics)}; "
                          "allowed: an evaluator whose metrics include error (evaluator.metrics)")
    objectives = [objective(name, cost_columns) for name in c.objectives.names]
    for o in (*objectives, *(objective(n, cost_columns) for n in c.constraints.limits)):
        if o.column not in (*cost_columns, *evaluator.metrics):
            raise ConfigError(f"objective {o.name!r}: the evaluator returns {list(evaluator.metrics)} and the cheap "
                              f"costs are {list(cost_columns)}; allowed: one of those (metric:NAME)")
    metrics = tuple(m for m in evaluator.metrics if m not in ("error", TEST_METRIC))
    columns = ("error", *cost_columns, *metrics, TEST_METRIC)
    return CampaignPlan(layout, evaluator, task, objectives, tuple(cost_columns), columns)


def _check_space_size(c: CampaignConfig, layout: SpaceLayout) -> None:
    """Refuse a space with nothing to choose, or with fewer genomes than the initial population."""
    choices = np.asarray(layout.upper_bounds, dtype=np.float64)
    if not (choices > 1).any():
        names = list(getattr(layout, "gene_names", ()))[:8]
        raise ConfigError(f"space: no gene has a choice (every gene{' (' + ', '.join(names) + ')' if names else ''} "
                          "has one value), so the space holds one genome and there is nothing to search; allowed: "
                          "at least one gene with two or more choices")
    size = float(np.prod(choices))  # at most this many distinct genomes (fewer where genomes coincide)
    if size < c.search.population:
        fix = (f"search.population ≤ {int(size)} (at least 4)" if size >= 4 else
               "a wider space: a campaign's population is at least 4 genomes")
        raise ConfigError(f"search.population = {c.search.population}: the space holds at most {int(size)} genomes; "
                          f"allowed: {fix}")


def _check_network_only(c: CampaignConfig, layout: SpaceLayout) -> None:
    if layout.network:
        return _check_kind_features(c, layout)
    kind = kind_of(layout.space)
    used = [n for n in c.objectives.names if n in NETWORK_COSTS] + \
        [f"constraints.{o.constraint}" for o in BUILTIN.values() if o.constraint and getattr(c.constraints,
                                                                                             o.constraint)]
    if c.search.preprocess:
        used.append("search.preprocess")
    if c.search.compression_schedule != "none":
        used.append("search.compression_schedule")
    if c.objectives.latency_lut:
        used.append("objectives.latency_lut")
    if used:
        raise ConfigError(f"{', '.join(used)}: need a network space kind (exact kernel costs, per-layer compression); "
                          f"space kind {kind!r} has cheap costs {list(layout.cost_names)} (use metric:NAME)")


def _check_kind_features(c: CampaignConfig, layout: SpaceLayout) -> None:
    """Refuse, before any training, what the space kind does not declare in ``SpaceKind.features``."""
    kind = space_kind(kind_of(layout.space))
    used = [(name, feature) for name, feature, on in (
        ("search.preprocess", "preprocess", c.search.preprocess),
        ("objectives.latency_lut", "latency_table", bool(c.objectives.latency_lut)),
        ("supernet.surrogate_feature", "supernet", c.supernet.surrogate_feature))
            if on and feature not in kind.features]
    if used:
        raise ConfigError(missing_features(kind, used))


def objective_matrix(objectives: list[Objective], values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Objectives to minimise, (N, M), from value columns by name: as stored, or log10 for costs
    that span decades (crowding then sees decades)."""
    columns = []
    for o in objectives:
        v = np.asarray(values[o.column], dtype=np.float64)
        columns.append(np.log10(np.maximum(v, 1.0)) if o.log else v)
    return np.column_stack(columns) if columns else np.zeros((0, 0))
