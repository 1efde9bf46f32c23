"""Everything a campaign sets up once: task, space, constraints, gene bounds, executor, transfer source.

:class:`CampaignContext` also answers the questions the loop asks about records (which are
known before a generation, which are feasible) and turns training results into records.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nasco.archive import HDF5Archive, Record, RecordTable
from nasco.evo.latency.table import LatencyTable
from nasco.evo.search.compression import reference_genome, sensitivity_bounds
from nasco.evo.search.config import CONSTRAINTS, COST_OF_OBJECTIVE, CampaignConfig, ConfigError
from nasco.evo.search.executors import Executor, JobResult, LocalExecutor, RayExecutor, WorkerSpec, load_worker_context
from nasco.evo.search.nsga import GeneBounds, latin_hypercube
from nasco.evo.search.progress import CampaignMonitor
from nasco.evo.search.run_folder import BOUNDS_FILE, FRONT_FILE, write_atomic, write_front_csv
from nasco.evo.search.surrogate_io import to_target
from nasco.evo.search.task import load_task_spec, task_spec
from nasco.evo.space.default import default_space
from nasco.evo.space.features import genome_features
from nasco.evo.space.genome import fixed_genome, genome_costs, sample_genomes
from nasco.evo.space.layout import GenomeLayout, compile_space
from nasco.evo.space.toml_io import load_space
from nasco.evo.train.trainer import TrainConfig, train_candidate
from nasco.kernels.pareto import pareto_ranks
from nasco.kernels.tables import COST_NAMES
from nasco.surrogate import Predictor, select_predictor

CAMPAIGN_COSTS = (*COST_NAMES, "latency_us")  # the kernels' exact costs, then the LUT's latency (NaN without one)


def objective_matrix(config: CampaignConfig, errors: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Objectives to minimise, (N, M), from errors (N,) and costs (N, 6) in ``CAMPAIGN_COSTS`` order: the
    error as is, costs as log10 (crowding then sees decades)."""
    columns = []
    for name in config.objectives.names:
        if name == "error":
            columns.append(np.asarray(errors, dtype=np.float64))
        else:
            columns.append(np.log10(np.maximum(costs[:, CAMPAIGN_COSTS.index(COST_OF_OBJECTIVE[name])], 1.0)))
    return np.column_stack(columns) if columns else np.zeros((len(errors), 0))


def space_costs(layout: GenomeLayout, latency: LatencyTable | None, genomes: np.ndarray) -> np.ndarray:
    """float64 (N, 6) costs in ``CAMPAIGN_COSTS`` order (latency in µs from the table, NaN without one)."""
    costs = np.full((len(genomes), len(CAMPAIGN_COSTS)), np.nan)
    costs[:, : len(COST_NAMES)] = genome_costs(layout, genomes)
    if latency is not None and len(genomes):
        costs[:, -1] = latency.predict(layout, genomes)
    return costs


def cheapest_costs(layout: GenomeLayout, seed: int, latency: LatencyTable | None = None) -> np.ndarray:
    """Lowest value of every cost over the space: the most compressed genome and 20,000 random ones."""
    candidates = np.vstack([fixed_genome(layout, arch="min", weight_bits=0, act_bits=0, prune=1.0),
                            sample_genomes(layout, np.random.default_rng(seed), 20_000)])
    return np.min(space_costs(layout, latency, candidates), axis=0)


@dataclass
class CampaignContext:
    config: CampaignConfig
    layout: GenomeLayout
    task_id: str
    spec: WorkerSpec
    executor: Executor
    base_bounds: GeneBounds
    bounds_limits: np.ndarray
    source: Predictor | None
    monitor: CampaignMonitor
    folder: Path
    latency: LatencyTable | None = None

    @staticmethod
    def create(config: CampaignConfig, folder: Path, archive: HDF5Archive, monitor: CampaignMonitor
               ) -> CampaignContext:
        c = config
        spec_task = task_spec(c.task, c.campaign.seed)
        task = load_task_spec(spec_task)
        space = load_space(c.space.file) if c.space.file else default_space(task.input_shape, task.num_classes)
        layout = compile_space(space)
        latency = None
        if c.objectives.latency_lut:
            latency = LatencyTable.load(c.objectives.latency_lut)
            latency.check_layout(layout)
        limits = np.full(len(CAMPAIGN_COSTS), np.inf)
        for name, (cost, unit) in CONSTRAINTS.items():
            bound = getattr(c.constraints, name)
            if bound:
                limits[CAMPAIGN_COSTS.index(cost)] = bound * unit
        cheapest = cheapest_costs(layout, c.campaign.seed, latency)
        for name, (cost, unit) in CONSTRAINTS.items():
            i = CAMPAIGN_COSTS.index(cost)
            if cheapest[i] > limits[i]:
                raise ConfigError(f"constraints.{name} = {getattr(c.constraints, name)} cannot be met: the cheapest "
                                  f"network of the space needs {cheapest[i] / unit:.6g}")
        recipe = {"batch_size": c.training.batch_size, "lr": c.training.lr}
        archive.register_space(space.space_id, space.to_dict(), layout.n_genes)
        # A task is its data and its training recipe: records under one task id are comparable, and
        # `nasco export` retrains a record exactly from this description, its fidelity and its seed.
        threads = max(1, math.floor(c.executor.num_cpus))
        archive.register_task(task.name, {**{k: v for k, v in spec_task.items() if k not in ("root", "download")},
                                          "train": recipe, "threads": threads, "teacher": c.training.teacher})
        train = {**recipe, "device": c.training.device}
        TrainConfig(**train)  # validates the device here, not in a worker
        spec = WorkerSpec(spec_task, space.to_dict(), train, c.training.teacher, threads)
        context = load_worker_context(spec)
        if c.executor.kind == "ray":
            e = c.executor
            executor: Executor = RayExecutor(spec, address=e.address, num_cpus=e.num_cpus, num_gpus=e.num_gpus,
                                             max_retries=e.max_retries, workers=e.workers)
        else:
            executor = LocalExecutor(spec, context)
        ctx = CampaignContext(c, layout, task.name, spec, executor, GeneBounds(layout), limits, None, monitor,
                              folder, latency)
        ctx.base_bounds = ctx._base_bounds(context)
        ctx.source = ctx._transfer_source(archive)
        return ctx

    # ------------------------------------------------------------- set-up pieces
    def _base_bounds(self, context: tuple) -> GeneBounds:
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
        layout, task, _ = context
        genome = reference_genome(layout)
        config = TrainConfig(**{**self.spec.train, "epochs": self.config.training.epochs})
        result, model = train_candidate(layout, genome, task, config, seed=self.config.campaign.seed)
        if model is None:
            raise ConfigError(f"search.preprocess: the reference network failed to train ({result.reason})")
        weights = [u.conv.weight.detach().cpu().numpy() for u in model.conv_units()]
        weights.append(model.classifier.weight.detach().cpu().numpy())
        bounds, report = sensitivity_bounds(layout, weights, s.preprocess_threshold)
        self.monitor.log(f"pre-processing: reference network error {result.val_error:.3f}; removed "
                         f"{sum(len(v) for v in report.values())} choices of {len(report)} genes "
                         f"(threshold {s.preprocess_threshold})")
        write_atomic(path, json.dumps({"low": bounds.low.tolist(), "high": bounds.high.tolist(), "removed": report},
                                      indent=1))
        return bounds

    def _transfer_source(self, archive: HDF5Archive) -> Predictor | None:
        """A predictor of another task in the same space (≥ 50 records), to warm-start the surrogate."""
        table = archive.table().filter(space=self.layout.space.space_id, status="ok")
        others = np.flatnonzero(table.rows["task_id"] != self.task_id.encode())
        others = table.select(others[np.lexsort((table.rows["genome_hash"][others], table.rows["task_id"][others],
                                                 table.rows["campaign_id"][others]))])
        if len(others) < 50:
            return None
        model, _ = select_predictor(genome_features(self.layout, others.genome_matrix()),
                                    to_target(others.column("error")), families=self.config.search.surrogate_families,
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

        if self.config.search.initial == "archive":
            rows = self.known_records(archive, 0).filter(status="ok")
            if len(rows):
                F = objective_matrix(self.config, rows.column("error"),
                                     np.column_stack([rows.column(k) for k in CAMPAIGN_COSTS]))
                take(bounds.clip(rows.genome_matrix()[np.argsort(pareto_ranks(F), kind="stable")][: n // 2]))
        for _ in range(100):
            if len(chosen) >= n:
                break
            take(latin_hypercube(self.layout, bounds, n, rng))
        if len(chosen) < n:
            raise ConfigError(f"search.population = {n}: only {len(chosen)} distinct genomes meet the constraints "
                              "in 100 Latin-hypercube rounds; relax the constraints or lower the population")
        return np.array(chosen)

    # ------------------------------------------------------------- records
    def costs(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, 6) costs of genomes in ``CAMPAIGN_COSTS`` order."""
        return space_costs(self.layout, self.latency, genomes)

    def feasible(self, costs: np.ndarray) -> np.ndarray:
        """Which genomes meet the cost constraints, from their costs (N, 6); NaN (no latency table) passes."""
        costs = np.nan_to_num(np.asarray(costs, dtype=np.float64), nan=0.0)
        return np.all(costs <= self.bounds_limits, axis=1)

    def accurate(self, errors: np.ndarray) -> np.ndarray:
        """Which validation errors meet ``min_accuracy``."""
        return np.asarray(errors) <= 1.0 - self.config.constraints.min_accuracy

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
        """This campaign's records at ``fidelity``, ordered by genome hash."""
        rows = archive.table().filter(task=self.task_id, space=self.layout.space.space_id, fidelity=fidelity,
                                      campaign=self.config.campaign.name)
        return rows.select(np.argsort(rows.rows["genome_hash"], kind="stable"))

    def to_record(self, done: JobResult, generation: int) -> Record:
        r, job = done.result, done.job
        costs = self.costs(job.genome[None, :])[0]
        values = {"error": r.val_error, **dict(zip(CAMPAIGN_COSTS, costs.tolist(), strict=True)),
                  "test_error": done.test_error}
        return Record(genome=job.genome, space_id=self.layout.space.space_id, task_id=self.task_id,
                      fidelity=job.epochs, values=values, status=r.status, reason=r.reason,
                      wall_time_s=r.wall_time_s, device=r.device[:16], seed=job.seed, generation=generation,
                      campaign_id=self.config.campaign.name, curve=np.array(r.val_error_curve, np.float32))

    def write_front(self, archive: HDF5Archive, front: RecordTable, final: RecordTable | None) -> None:
        """``front.csv`` and a console table: the search front, with full-fidelity errors where retrained."""
        final_by_hash = {}
        if final is not None:
            final_by_hash = {final.rows["genome_hash"][i]: i for i in range(len(final))}
        rows = []
        for i in np.argsort(front.column("error"), kind="stable"):
            j = final_by_hash.get(front.rows["genome_hash"][i])
            rows.append({
                "genome_hash": front.rows["genome_hash"][i].decode(), "search_error": front.column("error")[i],
                "final_val_error": final.column("error")[j] if j is not None else "",
                "test_error": _measured(final.column("test_error")[j]) if j is not None else "",
                **{name: int(front.column(name)[i]) for name in COST_NAMES},
                "latency_us": front.column("latency_us")[i],
                "genome": " ".join(map(str, front.genome(i).tolist())),
            })
        write_front_csv(self.folder / FRONT_FILE, rows)
        show_front(self.monitor.console, rows, f"Pareto front ({len(rows)} candidates) → {self.folder / FRONT_FILE}")


def _measured(value: float) -> float | str:
    """A value for front.csv: empty where nothing was measured (NaN: e.g. no test split)."""
    return "" if math.isnan(value) else float(value)


def show_front(console: Console, rows: list[dict], title: str) -> None:
    table = Table("hash", "search err", "final val err", "test err", "MACs", "BitOps", "size KiB", title=title,
                  title_justify="left")
    def fmt(v: float | str) -> str:
        return f"{v:.4f}" if v != "" else "—"

    for r in rows:
        table.add_row(r["genome_hash"], f"{r['search_error']:.4f}", fmt(r["final_val_error"]), fmt(r["test_error"]),
                      f"{r['macs']:,}", f"{r['bitops']:,}", f"{r['size_bits'] / 8192:.2f}")
    console.print(table)
