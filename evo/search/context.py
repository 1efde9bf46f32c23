"""Everything a campaign sets up once in its archive: registered space and task, gene bounds,
cost limits, executor, transfer source.

:class:`CampaignContext` also answers the questions the loop asks about genomes and records
(their cheap costs, which are feasible, which are known before a generation) and turns
evaluation results into records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasco.archive import HDF5Archive, Record, RecordTable
from nasco.archive.atomic import write_atomic
from nasco.archive.base import canonical_json, derived_task_id
from nasco.evo.latency.table import LatencyTable
from nasco.evo.search.compression import sensitivity_bounds
from nasco.evo.search.config import CampaignConfig, ConfigError
from nasco.evo.search.evaluators import EvalResult
from nasco.evo.search.executors import EvalJob, Executor, make_executor
from nasco.evo.search.front_table import write_front
from nasco.evo.search.nsga import GeneBounds, latin_hypercube
from nasco.evo.search.objectives import BUILTIN, objective
from nasco.evo.search.plan import CampaignPlan, objective_matrix, plan_campaign
from nasco.evo.search.progress import CampaignMonitor
from nasco.evo.search.run_folder import BOUNDS_FILE
from nasco.evo.search.strategies import PROPOSALS, Proposal
from nasco.evo.search.surrogate_io import to_target
from nasco.evo.search.warm_start import warm_start
from nasco.evo.space.genome import largest_genome
from nasco.kernels.pareto import pareto_ranks
from nasco.surrogate import Predictor, select_predictor

TRANSFER_MIN_RECORDS = 50  # records of other tasks from which their predictor joins the surrogate's features


@dataclass
class CampaignContext:
    config: CampaignConfig
    plan: CampaignPlan
    task_id: str
    executor: Executor
    base_bounds: GeneBounds
    limits: np.ndarray  # (C,) upper bound of each cheap cost column (inf: none)
    metric_limits: dict[str, float]  # expensive metric column → upper bound
    limit_fields: dict[int, tuple[str, float, float]]  # cost column index → (config field, bound, unit)
    source: Predictor | None
    monitor: CampaignMonitor
    folder: Path
    latency: LatencyTable | None = None
    inherited: Any = None  # supernet.surrogate_feature: the evaluator's feature (genomes → (N,) errors)
    proposal: Proposal | None = None  # search.proposal resolved for this space (auto: screen or inner)

    @property
    def layout(self):
        return self.plan.layout

    @staticmethod
    def create(config: CampaignConfig, folder: Path, archive: HDF5Archive, monitor: CampaignMonitor,
               plan: CampaignPlan | None = None) -> CampaignContext:
        c = config
        plan = plan or plan_campaign(c)
        layout, evaluator = plan.layout, plan.evaluator
        latency = None
        if c.objectives.latency_lut:
            latency = LatencyTable.load(c.objectives.latency_lut)
            latency.check_layout(layout)
        limits, metric_limits, fields = _limits(c, plan)
        archive.register_space(layout.space.space_id, layout.space.to_dict(), layout.n_genes)
        task_id = _task_id(archive, evaluator.task_name(), evaluator.describe(), monitor)
        _check_same_task(archive, c.campaign.name, task_id)
        archive.register_task(task_id, evaluator.describe())
        ctx = CampaignContext(c, plan, task_id, make_executor(evaluator, c.executor), GeneBounds(layout), limits,
                              metric_limits, fields, None, monitor, folder, latency)
        ctx._check_limits_reachable()
        ctx.base_bounds = ctx._base_bounds()
        ctx.proposal = PROPOSALS.get(c.search.proposal_for(c.supernet.surrogate_feature))
        if c.search.proposal == "auto":
            monitor.log(f"proposal: {ctx.proposal.name} (search.proposal = auto"
                        f"{'; supernet.surrogate_feature' if c.supernet.surrogate_feature else ''})")
        if c.supernet.surrogate_feature:
            ctx.inherited = evaluator.surrogate_feature(c, plan, folder, monitor)
            if ctx.inherited is None:
                raise ConfigError(f"supernet.surrogate_feature: evaluator {type(evaluator).__name__} gives no such "
                                  "feature; allowed: true with evaluator.kind = 'train'")
        if c.campaign.warm_start:
            warm_start(archive, c.campaign.warm_start, c.campaign.warm_start_tasks, layout.space.space_id,
                       c.campaign.name, monitor)
            same = ctx.known_records(archive, 0).filter(status="ok")
            monitor.log(f"warm start: {len(same)} records of this task at fidelity {c.training.epochs} are known "
                        "before generation 0 (not evaluated again)")
        ctx.source = ctx._transfer_source(archive)
        return ctx

    # ------------------------------------------------------------- set-up pieces
    def _check_limits_reachable(self) -> None:
        """Refuse a cost limit no genome can meet: the cheapest genome and 20,000 random ones."""
        if not np.isfinite(self.limits).any():
            return
        layout = self.layout
        candidates = np.vstack([layout.cheapest(), layout.sample(np.random.default_rng(self.config.campaign.seed),
                                                                 20_000)])
        costs = self.costs(candidates)
        cheapest = np.where(np.isfinite(costs), costs, np.inf).min(axis=0)
        for i, (name, bound, unit) in self.limit_fields.items():
            if cheapest[i] > self.limits[i]:
                raise ConfigError(f"{name} = {bound} cannot be met: the cheapest genome of the space needs "
                                  f"{cheapest[i] / unit:.6g}")

    def _base_bounds(self) -> GeneBounds:
        """The space's bounds, narrowed by the sensitivity pre-processing when configured (cached on disk)."""
        bounds = GeneBounds(self.layout)
        s = self.config.search
        if not s.preprocess:
            return bounds
        path = self.folder / BOUNDS_FILE
        if path.is_file():
            saved = json.loads(path.read_text(encoding="utf-8"))
            bounds.low, bounds.high = np.array(saved["low"]), np.array(saved["high"])
            return bounds
        reference = self.plan.evaluator.reference_weights(largest_genome(self.layout), self.config.training.epochs,
                                                          self.config.campaign.seed)
        if reference is None:
            raise ConfigError(f"search.preprocess: evaluator {type(self.plan.evaluator).__name__} trains no "
                              "reference network; allowed: an evaluator that does (evaluator.kind = 'train')")
        error, weights = reference
        bounds, report = sensitivity_bounds(self.layout, weights, s.preprocess_threshold)
        self.monitor.log(f"pre-processing: reference network error {error:.3f}; removed "
                         f"{sum(len(v) for v in report.values())} choices of {len(report)} genes "
                         f"(threshold {s.preprocess_threshold})")
        write_atomic(path, json.dumps({"low": bounds.low.tolist(), "high": bounds.high.tolist(), "removed": report},
                                      indent=1))
        return bounds

    def _transfer_source(self, archive: HDF5Archive) -> Predictor | None:
        """A predictor of other tasks in the same space (≥ ``TRANSFER_MIN_RECORDS`` records), to warm-start the
        surrogate."""
        table = archive.table().filter(space=self.layout.space.space_id, status="ok")
        others = np.flatnonzero(table.rows["task_id"] != self.task_id.encode())
        others = table.select(others[np.lexsort((table.rows["genome_hash"][others], table.rows["task_id"][others],
                                                 table.rows["campaign_id"][others]))])
        if len(others) < TRANSFER_MIN_RECORDS:
            if self.config.campaign.warm_start:
                self.monitor.log(f"warm start: {len(others)} records of other tasks in this space; the surrogate's "
                                 f"transfer source needs at least {TRANSFER_MIN_RECORDS}: no transfer")
            return None
        model, _ = select_predictor(self.features(others.genome_matrix()), to_target(others.column("error")),
                                    families=self.proposal.families(self.config.search, len(others)),
                                    seed=self.config.campaign.seed)
        self.monitor.log(f"transfer: {len(others)} records of other tasks warm-start the surrogate")
        return model

    def initial_population(self, bounds: GeneBounds, archive: HDF5Archive) -> np.ndarray:
        """``population`` distinct feasible canonical genomes: Latin hypercube, or archived fronts first."""
        n = self.config.search.population
        rng = np.random.default_rng([self.config.campaign.seed, 0, 0])
        chosen: list[np.ndarray] = []
        seen: set[bytes] = set()

        def take(genomes: np.ndarray) -> None:
            feasible = self.feasible(self.costs(genomes))
            for g in genomes[feasible]:
                if len(chosen) < n and g.tobytes() not in seen:
                    seen.add(g.tobytes())
                    chosen.append(g)

        if self.config.search.initial == "archive" or (self.config.search.initial == "auto"
                                                         and self.config.campaign.warm_start):
            take(self._archived_fronts(archive, bounds, n // 2))
        for _ in range(100):
            if len(chosen) >= n:
                break
            take(latin_hypercube(self.layout, bounds, n, rng))
        if len(chosen) < n:
            raise ConfigError(f"search.population = {n}: only {len(chosen)} distinct genomes meet the constraints "
                              "in 100 Latin-hypercube rounds; relax the constraints or lower the population")
        return np.array(chosen)

    def _archived_fronts(self, archive: HDF5Archive, bounds: GeneBounds, n: int) -> np.ndarray:
        """Up to ``n`` archived genomes by Pareto rank: this task's known records first, then — when they are
        fewer — each other task's of the space (a warm start from another dataset), tasks in name order."""
        rows = self.known_records(archive, 0).filter(status="ok")
        table = archive.table().filter(space=self.layout.space.space_id, status="ok")
        others = [table.filter(task=t) for t in sorted({t.decode() for t in table.rows["task_id"]} - {self.task_id})]
        picked = []
        for part in [rows, *others]:
            if len(part) and sum(map(len, picked)) < n:
                values = record_values(part)
                values["error"] = np.nan_to_num(values["error"], nan=1.0)
                F = np.nan_to_num(self.objective_matrix(values), nan=np.inf)
                order = np.lexsort((part.rows["genome_hash"], pareto_ranks(F)))
                picked.append(part.genome_matrix()[order])
        genomes = np.vstack(picked) if picked else np.zeros((0, self.layout.n_genes), np.int64)
        return bounds.clip(genomes)[:n]

    # ------------------------------------------------------------- genomes
    def costs(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, C) cheap costs of genomes in ``plan.cost_columns`` order (latency NaN without a table)."""
        layout, evaluator = self.layout, self.plan.evaluator
        parts = [layout.costs(genomes)]
        if layout.network:
            latency = np.full((len(genomes), 1), np.nan)
            if self.latency is not None and len(genomes):
                latency[:, 0] = self.latency.predict(layout, genomes)
            parts.append(latency)
        if evaluator.cheap:
            parts.append(evaluator.cheap_values(genomes))
        return np.hstack(parts) if len(parts) > 1 else parts[0]

    def features(self, genomes: np.ndarray) -> np.ndarray:
        """Surrogate features (N, F): the space's, plus log10(1 + cost) of the evaluator's cheap values, plus
        the error inherited from the supernet (``supernet.surrogate_feature``)."""
        features = self.layout.features(genomes)
        if self.plan.evaluator.cheap:
            cheap = self.plan.evaluator.cheap_values(genomes)
            features = np.hstack([features, np.log10(1.0 + np.clip(np.nan_to_num(cheap, posinf=1e30), 0, None))])
        if self.inherited is not None:
            features = np.hstack([features, self.inherited(genomes)[:, None]])
        return features

    def feasible(self, costs: np.ndarray) -> np.ndarray:
        """Which genomes meet the cost limits, from their costs (N, C); NaN (no latency table) passes."""
        costs = np.nan_to_num(np.asarray(costs, dtype=np.float64), nan=0.0)
        return np.all(costs <= self.limits, axis=1)

    def acceptable(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """Which evaluated genomes meet ``min_accuracy`` and the metric limits, from value columns."""
        ok = np.asarray(values["error"]) <= 1.0 - self.config.constraints.min_accuracy
        for column, bound in self.metric_limits.items():
            ok &= np.nan_to_num(np.asarray(values[column], dtype=np.float64), nan=np.inf) <= bound
        return ok

    def objective_matrix(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        return objective_matrix(self.plan.objectives, values)

    def why_no_front(self, archive: HDF5Archive) -> str:
        """Why this campaign's search records hold no feasible candidate (for an empty front)."""
        rows = self.own_records(archive, self.config.training.epochs)
        ok = rows.filter(status="ok")
        if not len(rows):
            return "no candidate was evaluated"
        if not len(ok):
            return f"all {len(rows)} evaluated candidates failed (the first: {rows.reason(0)[:300]})"
        values = record_values(ok)
        reasons = []
        min_accuracy = self.config.constraints.min_accuracy
        if min_accuracy and not (values["error"] <= 1.0 - min_accuracy).any():
            reasons.append(f"constraints.min_accuracy = {min_accuracy} (the best accuracy was "
                           f"{1.0 - float(values['error'].min()):.4f})")
        for column, bound in self.metric_limits.items():
            seen = np.asarray(values[column], dtype=np.float64)
            if not (np.nan_to_num(seen, nan=np.inf) <= bound).any():
                reasons.append(f"the limit on {column} ≤ {bound:g} (the lowest was {np.nanmin(seen):.6g})")
        costs = np.array([ok.column(c) for c in self.plan.cost_columns], dtype=np.float64).reshape(
            len(self.plan.cost_columns), len(ok)).T
        for i, (field, bound, unit) in self.limit_fields.items():
            if not (np.nan_to_num(costs[:, i], nan=0.0) <= self.limits[i]).any():
                reasons.append(f"{field} = {bound:g} (the lowest was {np.nanmin(costs[:, i]) / unit:.6g})")
        met = "; no candidate met " + ", nor ".join(reasons) if reasons else ""
        return f"none of the {len(ok)} candidates evaluated without failure is feasible{met}"

    # ------------------------------------------------------------- records
    def known_records(self, archive: HDF5Archive, generation: int) -> RecordTable:
        """Search-fidelity records of this task and space known before ``generation``, ordered by
        (campaign, genome hash) — not by arrival, which depends on the executor."""
        rows = archive.table().filter(task=self.task_id, space=self.layout.space.space_id,
                                      fidelity=self.config.training.epochs)
        own = rows.rows["campaign_id"] == self.config.campaign.name.encode()
        known = np.flatnonzero(~own | (rows.rows["generation"] < generation))
        order = np.lexsort((rows.rows["genome_hash"][known], rows.rows["campaign_id"][known]))
        return rows.select(known[order])

    def own_records(self, archive: HDF5Archive, fidelity: int) -> RecordTable:
        """This campaign's records at ``fidelity`` (its evaluations: what the budget counts), ordered by
        genome hash."""
        rows = archive.table().filter(task=self.task_id, space=self.layout.space.space_id, fidelity=fidelity,
                                      campaign=self.config.campaign.name)
        return rows.select(np.argsort(rows.rows["genome_hash"], kind="stable"))

    def task_records(self, archive: HDF5Archive, fidelity: int) -> RecordTable:
        """Every record of this task and space at ``fidelity`` in the archive — this campaign's and those a
        warm start copied (reused, never evaluated again, as after a resume) —, ordered by genome hash:
        what the campaign's fronts are taken from, as ``nasco front`` does."""
        rows = archive.table().filter(task=self.task_id, space=self.layout.space.space_id, fidelity=fidelity)
        return rows.select(np.argsort(rows.rows["genome_hash"], kind="stable"))

    def to_record(self, archive: HDF5Archive, job: EvalJob, result: EvalResult, generation: int) -> Record:
        costs = self.costs(job.genome[None, :])[0]
        values = dict.fromkeys(archive.columns, math.nan)
        values.update({k: (v if math.isfinite(v) else math.nan) for k, v in zip(self.plan.cost_columns,
                                                                               costs.tolist(), strict=True)})
        values.update({k: v for k, v in result.metrics.items() if k in values})
        return Record(genome=job.genome, space_id=self.layout.space.space_id, task_id=self.task_id,
                      fidelity=job.fidelity, values=values, status=result.status, reason=result.reason,
                      wall_time_s=float(result.wall_time_s), device=result.device[:16], seed=job.seed,
                      generation=generation, campaign_id=self.config.campaign.name,
                      curve=np.array(result.curve, np.float32))

    def write_front(self, archive: HDF5Archive, front: RecordTable, final: RecordTable | None) -> None:
        write_front(self.folder, self.monitor.console, self.plan, front, final)


def record_values(rows: RecordTable) -> dict[str, np.ndarray]:
    """Value columns of archived records by name."""
    return {name: rows.column(name) for name in rows.columns}


def _limits(c: CampaignConfig, plan: CampaignPlan
            ) -> tuple[np.ndarray, dict[str, float], dict[int, tuple[str, float, float]]]:
    """(upper bound per cost column, upper bound per metric column, the config field of each cost bound)."""
    limits = np.full(len(plan.cost_columns), np.inf)
    metric_limits: dict[str, float] = {}
    fields: dict[int, tuple[str, float, float]] = {}
    bounds = [(o.column, f"constraints.{o.constraint}", getattr(c.constraints, o.constraint), o.constraint_unit)
              for o in BUILTIN.values() if o.constraint and getattr(c.constraints, o.constraint)]
    bounds += [(objective(name, plan.cost_columns).column, f"constraints.limits.{name}", float(bound), 1.0)
               for name, bound in c.constraints.limits.items()]
    for column, field, bound, unit in bounds:
        if column in plan.cost_columns:
            i = plan.cost_columns.index(column)
            if bound * unit < limits[i]:
                limits[i], fields[i] = bound * unit, (field, bound, unit)
        else:
            metric_limits[column] = min(metric_limits.get(column, math.inf), bound * unit)
    return limits, metric_limits, fields


def _check_same_task(archive: HDF5Archive, campaign: str, task_id: str) -> None:
    """Refuse to continue a campaign whose archived records were made for another task (its [task] or
    [evaluator] was edited): the campaign would restart under a new task id with none of its records."""
    rows = archive.table().rows
    own = rows["task_id"][rows["campaign_id"] == campaign.encode()]
    others = sorted({t.decode() for t in own} - {task_id})
    if others:
        raise ConfigError(f"{archive.path}: campaign {campaign!r} has {len(own)} records of task {others[0]!r}; this "
                          f"config evaluates task {task_id!r} (was [task] or [evaluator] edited?): undo the edit, "
                          "or start a new campaign (another --out)")


def _task_id(archive: HDF5Archive, name: str, description: dict, monitor: CampaignMonitor) -> str:
    """``name``, or — when the archive holds ``name`` with another description (another training
    recipe on the same data), or ``name`` is longer than the archive's 32-byte ids — a derived id
    ``name~HASH`` that is stable for this description."""
    if len(name.encode()) > 32:
        short = derived_task_id(name, {"name": name, **description})
        monitor.log(f"task {name!r} is longer than the archive's 32-byte task ids; its records use {short!r}")
        name = short
    known = archive.tasks.get(name)
    if known is None or canonical_json(known) == canonical_json(description):
        return name
    derived = derived_task_id(name, description)
    monitor.log(f"task {name!r} is in the archive with another description (recipe); this campaign's records use "
                f"the derived task id {derived!r}")
    return derived
