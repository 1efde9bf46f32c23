"""The evolution campaign (docs/ARCHITECTURE.md §1): NSGA-II ask/tell, exact costs, screening, training, archive.

One generation: ask ``screen_factor × offspring`` genomes → exact costs (Numba) → infeasible
ones dropped → the surrogate (fitted on the records known *before* this generation) screens
``offspring`` of them → the executor trains them → each result is appended to the archive as
it arrives → pymoo is told the true objectives → a checkpoint is written.

Determinism and resume: every decision of generation ``g`` depends only on the seed, the
checkpoint of ``g`` and the archive records known before ``g`` (this campaign's records of
earlier generations and every other campaign's), and each candidate's training seed derives
from the campaign seed and its genome hash. A genome whose record is already in the archive
(same task and fidelity) is never trained again: its record is reused. A campaign killed in
the middle of a generation therefore resumes from the last checkpoint, re-asks the same
offspring, reuses what was trained, and ends with the same archive as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pymoo.core.population import Population
from pymoo.indicators.hv import HV
from rich.console import Console

from nasco.archive import HDF5Archive, Record, RecordTable
from nasco.evo.errors import NascoError
from nasco.evo.search.compression import scheduled_bounds
from nasco.evo.search.config import CampaignConfig
from nasco.evo.search.context import CampaignContext, record_values
from nasco.evo.search.evaluators import Evaluator
from nasco.evo.search.executors import EvalJob, main_thread
from nasco.evo.search.nsga import GenomeProblem, export_state, make_nsga2, restore_state, set_evaluated
from nasco.evo.search.plan import RESULT_COLUMNS, plan_campaign
from nasco.evo.search.progress import CampaignMonitor, GenerationStats
from nasco.evo.search.proposals import Proposer
from nasco.evo.search.run_folder import (
    ARCHIVE_FILE,
    LOG_FILE,
    SURROGATE_LOG,
    discard_run_folder,
    load_checkpoint,
    open_campaign_archive,
    save_checkpoint,
)
from nasco.kernels.pareto import crowding_distance, non_dominated

MAX_EMPTY_GENERATIONS = 20


def training_seed(campaign_seed: int, genome_hash: str) -> int:
    """A candidate's training seed: from the campaign seed and its genome hash (order-independent)."""
    digest = hashlib.sha256(f"{campaign_seed}/{genome_hash}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


class Campaign:
    """Runs (or resumes) one campaign in its run folder; :meth:`run` returns the final front's records."""

    def __init__(self, config: CampaignConfig, folder: str | Path, *, console: Console | None = None,
                 evaluator: Evaluator | Callable | None = None, space: Any = None) -> None:
        """``evaluator``/``space``: objects from the Python API, instead of the config's ``[evaluator]``/``[space]``."""
        self.config = config
        self.evaluator, self.space = evaluator, space
        self.folder = Path(folder)
        self.console = console or Console()
        self._stop = False
        self._interrupts = 0
        self.empty_front: str | None = None  # why, when a finished campaign found no feasible candidate
        self.reference: np.ndarray | None = None  # hypervolume reference point, fixed after generation 0

    def evaluator_name(self) -> str:
        if self.evaluator is None:
            return self.config.evaluator.kind
        return getattr(self.evaluator, "__qualname__", type(self.evaluator).__name__)

    # ---------------------------------------------------------------- control
    @property
    def stopped(self) -> bool:
        """True when the campaign stopped on request (Ctrl-C) before finishing."""
        return self._stop

    def request_stop(self) -> None:
        """Finish the in-flight candidates, record them, and stop (what Ctrl-C does)."""
        self._stop = True

    def _on_sigint(self, signum, frame) -> None:
        self._interrupts += 1
        if self._interrupts > 1:
            raise KeyboardInterrupt
        self._stop = True
        self.console.print("stopping after the in-flight candidates are recorded (Ctrl-C again to abort)")

    # ---------------------------------------------------------------- the run
    def run(self) -> RecordTable:
        c = self.config
        planned = c.search.max_evaluations or c.search.population + c.search.generations * c.search.offspring
        monitor = CampaignMonitor(self.console, self.folder / LOG_FILE,
                                  min(planned, c.search.max_trained) if c.search.max_trained else planned,
                                  "evaluated")
        self.monitor = monitor
        monitor.log(f"campaign {c.campaign.name!r} in {self.folder} (seed {c.campaign.seed}, objectives "
                    f"{', '.join(c.objectives.names)}, evaluator {self.evaluator_name()})")
        previous = signal.signal(signal.SIGINT, self._on_sigint) if main_thread() else None
        try:
            try:
                plan = plan_campaign(c, evaluator=self.evaluator, space=self.space)
            except NascoError:
                if not (self.folder / ARCHIVE_FILE).exists() and load_checkpoint(self.folder) is None:
                    discard_run_folder(self.folder)  # nothing ran: leave no campaign
                raise
            monitor.verb = "trained" if plan.evaluator.trains else "evaluated"
            with open_campaign_archive(self.folder, plan.columns) as archive:
                if archive.recovered:
                    monitor.log(f"archive recovered after a crash: {archive.recovered}")
                try:
                    self.ctx = CampaignContext.create(c, self.folder, archive, monitor, plan)
                except NascoError:
                    if not len(archive) and load_checkpoint(self.folder) is None:  # nothing ran: leave no campaign
                        archive.close()
                        discard_run_folder(self.folder)
                    raise
                try:
                    return self._search(archive)
                finally:
                    self.ctx.executor.close()
                    if self.ctx.inherited is not None:
                        self.ctx.inherited.close()
                    plan.evaluator.close()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _search(self, archive: HDF5Archive) -> RecordTable:
        c, ctx, monitor = self.config, self.ctx, self.monitor
        problem = GenomeProblem(ctx.layout, len(c.objectives.names))
        checkpoint = load_checkpoint(self.folder)
        self.started = time.monotonic()
        if checkpoint is not None and checkpoint[0].get("finished"):
            monitor.log("campaign already finished; nothing to train")
            front = self._final_records(archive)
            if not len(front):
                self.empty_front = self.ctx.why_no_front(archive)
                monitor.log(f"the front is empty: {self.empty_front}")
            return front
        if checkpoint is None:
            generation, self.elapsed_before = 0, 0.0
            bounds = self._bounds(0)
            initial = ctx.initial_population(bounds, archive)
            algorithm = make_nsga2(problem, bounds, initial, len(initial), c.campaign.seed)
        else:
            scalars, arrays = checkpoint
            generation, self.elapsed_before = scalars["generation"], scalars["elapsed_s"]
            self.reference = None if scalars["hv_reference"] is None else np.array(scalars["hv_reference"])
            algorithm = make_nsga2(problem, self._bounds(generation), problem.to_genomes(arrays["X"]),
                                   c.search.offspring, c.campaign.seed)
            restore_state(algorithm, scalars["nsga"], arrays)
            monitor.log(f"resuming at generation {generation} ({len(archive)} archived records)")
        empty = 0  # generations in a row without a new feasible genome to evaluate
        while (generation <= c.search.generations or c.search.max_evaluations) and not self._stop \
                and self._budget_left(archive) > 0:
            algorithm.repair.bounds = self._bounds(generation)
            algorithm.n_offsprings = c.search.screen_factor * c.search.offspring
            offspring = self._random_offspring(problem, generation) if c.search.algorithm == "random" and generation \
                else algorithm.ask()
            if offspring is None or not len(offspring):
                monitor.log("NSGA-II produced no new offspring; stopping")
                break
            genomes = problem.to_genomes(offspring.get("X"))
            stats = GenerationStats(generation, asked=len(genomes))
            current = problem.to_genomes(algorithm.pop.get("X")) if algorithm.pop is not None and len(algorithm.pop) \
                else None
            chosen, picked = self._select(archive, genomes, generation, stats, current)
            if not len(chosen):  # every asked genome is archived or infeasible (a small or exhausted space)
                if self._exhausted(archive, generation):
                    break
                empty += 1
                monitor.log(f"gen {generation}: none of the {len(genomes)} asked genomes is new and feasible")
                if empty >= MAX_EMPTY_GENERATIONS:
                    monitor.log(f"no new feasible genome in {empty} generations in a row; stopping")
                    break
                generation += 1
                self._checkpoint(algorithm, generation, finished=False)
                continue
            empty = 0
            outcome = self._evaluate(archive, chosen, generation, stats)
            if outcome is None:
                break
            F, infeasible = outcome
            infills = offspring[picked] if picked is not None else Population.new("X", problem.to_variables(chosen))
            algorithm.tell(infills=set_evaluated(infills, F, infeasible))
            if stats.predicted:
                self._log_surrogate(chosen, F[:, c.objectives.names.index("error")], infeasible, stats)
            if self.reference is None:
                self.reference = self._initial_reference(F[~infeasible], F)
            _, F_archive = self._search_table(archive)
            stats.hypervolume, stats.best = self._hypervolume(F_archive), self._best(F_archive)
            monitor.end_generation(stats)
            generation += 1
            self._checkpoint(algorithm, generation, finished=False)
        if self._stop:
            monitor.log("stopped on request; resume with: nasco resume " + str(self.folder))
            return self._search_front(archive)
        front = self._final_fidelity(archive)
        self._checkpoint(algorithm, generation, finished=True)
        return front

    # ---------------------------------------------------------------- pieces
    def _bounds(self, generation: int):
        if self.config.search.compression_schedule == "strict-to-relaxed":
            return scheduled_bounds(self.ctx.base_bounds, generation, self.config.search.generations)
        return self.ctx.base_bounds

    def _random_offspring(self, problem: GenomeProblem, generation: int) -> Population:
        """The random-search baseline: uniform canonical genomes within the bounds, distinct."""
        bounds = self._bounds(generation)
        rng = np.random.default_rng([self.config.campaign.seed, generation, 1])
        layout = self.ctx.layout
        genomes = bounds.clip(layout.sample(rng, self.config.search.screen_factor * self.config.search.offspring))
        genomes = np.unique(layout.canonicalize(genomes), axis=0)
        return Population.new("X", problem.to_variables(genomes[rng.permutation(len(genomes))]))

    def _exhausted(self, archive: HDF5Archive, generation: int) -> bool:
        """Whether every genome of the space is known (said in one line): a space without a network has one
        genome per choice combination, so its size is known exactly."""
        layout = self.ctx.layout
        if layout.network:
            return False
        size = float(np.prod(np.asarray(layout.upper_bounds, dtype=np.float64)))
        known = len(set(self.ctx.known_records(archive, generation + 1).column("genome_hash").tolist()))
        if known < size:
            return False
        self.monitor.log(f"every genome of the space ({int(size):,}) has been evaluated; stopping")
        return True

    def _budget_left(self, archive: HDF5Archive) -> float:
        s = self.config.search
        left = float("inf")
        evaluated = len(self.ctx.own_records(archive, self.config.training.epochs))
        if s.max_trained:
            left = s.max_trained - evaluated
        if s.max_evaluations:
            left = min(left, s.max_evaluations - evaluated)
        if s.max_wall_s and self.elapsed_before + time.monotonic() - self.started >= s.max_wall_s:
            self.monitor.log(f"wall-time budget of {s.max_wall_s:.0f}s reached")
            left = 0
        return left

    def _select(self, archive: HDF5Archive, genomes: np.ndarray, generation: int, stats: GenerationStats,
                population: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(genomes to evaluate, their indices in ``genomes`` or None): see :meth:`Proposer.select`;
        ``population``: the outer NSGA-II's current population (where an inner search starts)."""
        k = self.config.search.population if generation == 0 else self.config.search.offspring
        k = int(min(k, self._budget_left(archive)))
        return Proposer(self.config, self.ctx, self.monitor).select(archive, genomes, generation, stats, k,
                                                                   self._bounds(generation), population)

    def _evaluate(self, archive: HDF5Archive, genomes: np.ndarray, generation: int, stats: GenerationStats,
                  *, epochs: int | None = None, test: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """Train (or reuse) ``genomes``; (objectives F (K, M), infeasible (K,)), or None when stopped early."""
        c, ctx = self.config, self.ctx
        epochs = epochs or c.training.epochs
        hashes = [ctx.layout.hash(g) for g in genomes]
        rows: dict[str, Record] = {}
        jobs = []
        for h, g in zip(hashes, genomes, strict=True):
            found = archive.find(h, task=ctx.task_id, fidelity=epochs)
            if len(found):
                rows[h] = found.record(0)
            elif h not in {job_hash for job_hash, _ in jobs}:
                jobs.append((h, EvalJob(g, training_seed(c.campaign.seed, h), epochs, test)))
        stats.reused = len(rows)
        self.monitor.start_generation(generation, len(jobs))
        for job, result in ctx.executor.run(self._longest_first([job for _, job in jobs]), lambda: self._stop):
            record = ctx.to_record(archive, job, result, generation)
            archive.append([record])
            rows[record.genome_hash] = record
            stats.trained += 1
            stats.failed += int(result.status != "ok")
            self.monitor.candidate_done(f"error {record.values['error']:.3f}" if result.status == "ok"
                                        else f"failed: {result.reason[:120]}", trained=True)
        if len(rows) < len(set(hashes)):
            return None
        records = [rows[h] for h in hashes]
        failed = np.array([r.status != "ok" for r in records])
        values = {name: np.array([r.values.get(name, np.nan) for r in records], dtype=np.float64)
                  for name in archive.columns}
        values["error"] = np.where(failed, 1.0, values["error"])
        F = ctx.objective_matrix(values)
        failed |= ~np.all(np.isfinite(F), axis=1)  # a failed record's metrics are unknown
        return np.nan_to_num(F, nan=np.inf), failed | ~ctx.acceptable(values)

    def _longest_first(self, jobs: list[EvalJob]) -> list[EvalJob]:
        """Jobs by MACs, largest first, so that parallel workers finish a batch together (longest
        processing time first); each record is the same in any order."""
        ctx = self.ctx
        if len(jobs) < 2 or "macs" not in ctx.plan.cost_columns:
            return jobs
        macs = ctx.costs(np.array([j.genome for j in jobs]))[:, ctx.plan.cost_columns.index("macs")]
        return [jobs[i] for i in np.argsort(-np.nan_to_num(macs), kind="stable")]

    def _log_surrogate(self, genomes: np.ndarray, errors: np.ndarray, failed: np.ndarray,
                       stats: GenerationStats) -> None:
        """One line of ``surrogate.jsonl``: predicted and true errors of the generation's screened picks."""
        hashes = [self.ctx.layout.hash(g) for g in genomes]
        keep = [i for i, h in enumerate(hashes) if h in stats.predicted and not failed[i]]
        line = {"generation": stats.generation, "proposal": self.ctx.proposal.name, "family": stats.screening,
                "tau": stats.tau, "selection_s": round(stats.selection_s, 3), "proposal_s": round(stats.proposal_s, 3),
                "hashes": [hashes[i] for i in keep], "predicted": [stats.predicted[hashes[i]] for i in keep],
                "true": [float(errors[i]) for i in keep]}
        with open(self.folder / SURROGATE_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")

    def _checkpoint(self, algorithm, generation: int, *, finished: bool) -> None:
        nsga, arrays = export_state(algorithm)
        elapsed = self.elapsed_before + time.monotonic() - self.started
        reference = None if self.reference is None else self.reference.tolist()
        ran = {name: values for name, values in self.config.to_dict().items() if name != "executor"}
        save_checkpoint(self.folder, {"generation": generation, "finished": finished, "elapsed_s": elapsed,
                                      "hv_reference": reference, "nsga": nsga, "config": ran}, arrays)

    # ---------------------------------------------------------------- fronts
    def _search_table(self, archive: HDF5Archive) -> tuple[RecordTable, np.ndarray]:
        """The feasible search records of this campaign's task (its own and warm-started ones) and their
        objectives F."""
        ctx = self.ctx
        rows = ctx.task_records(archive, self.config.training.epochs).filter(status="ok")
        costs = np.array([rows.column(name) for name in ctx.plan.cost_columns], dtype=np.float64) \
            .reshape(len(ctx.plan.cost_columns), len(rows)).T
        keep = ctx.acceptable(record_values(rows)) & ctx.feasible(costs)
        rows = rows.select(np.flatnonzero(keep))
        return rows, ctx.objective_matrix(record_values(rows))

    def _search_front(self, archive: HDF5Archive) -> RecordTable:
        rows, F = self._search_table(archive)
        return rows.select(np.flatnonzero(non_dominated(F))) if len(rows) else rows

    def _initial_reference(self, F_feasible: np.ndarray, F_all: np.ndarray) -> np.ndarray | None:
        """The hypervolume reference: configured, or 10% beyond the worst of the first measured objectives
        (None while no candidate has finite objectives: every one failed so far)."""
        if self.config.objectives.reference:
            return np.array(self.config.objectives.reference, dtype=np.float64)
        F = F_feasible if len(F_feasible) else F_all[np.all(np.isfinite(F_all), axis=1)]
        if not len(F):
            return None
        span = np.maximum(F.max(axis=0) - F.min(axis=0), 1e-3)
        return F.max(axis=0) + 0.1 * span

    def _hypervolume(self, F: np.ndarray) -> float:
        """Hypervolume of the archive's search objectives F (N, M) against the fixed reference."""
        if self.reference is None:
            return 0.0
        F = F[np.all(self.reference > F, axis=1)]
        return float(HV(ref_point=self.reference)(F)) if len(F) else 0.0

    def _best(self, F: np.ndarray) -> dict[str, float]:
        """Best value of every objective in F (N, M), costs back from log10."""
        if not len(F):
            return {}
        best = F.min(axis=0)
        return {o.name: (10**v if o.log else v) for o, v in zip(self.ctx.plan.objectives, best, strict=True)}

    def _final_fidelity(self, archive: HDF5Archive) -> RecordTable:
        """Retrain the search front (at most ``final_max``, spread by crowding) at full fidelity, with test error."""
        c = self.config
        front = self._search_front(archive)
        if not len(front):
            self.empty_front = self.ctx.why_no_front(archive)
            self.monitor.log(f"the front is empty: {self.empty_front}")
        if not c.training.final_epochs or not len(front):
            self.ctx.write_front(archive, front, None)
            return front
        rows, F = self._search_table(archive)
        on_front = non_dominated(F)
        crowd = crowding_distance(F[on_front])
        chosen = rows.select(np.flatnonzero(on_front)[np.argsort(-crowd, kind="stable")[:c.training.final_max]])
        stats = GenerationStats(c.search.generations + 1, asked=len(chosen), screened=len(chosen), screening="front")
        self.monitor.log(f"retraining {len(chosen)} front members for {c.training.final_epochs} epochs")
        outcome = self._evaluate(archive, chosen.genome_matrix(), stats.generation, stats,
                                 epochs=c.training.final_epochs, test=True)
        self.monitor.end_generation(stats)
        if outcome is None:
            return front
        return self._final_records(archive)

    def _final_records(self, archive: HDF5Archive) -> RecordTable:
        front = self._search_front(archive)
        final = None
        if self.config.training.final_epochs:  # the front members' retrained records (or reused warm-started ones)
            final = self.ctx.task_records(archive, self.config.training.final_epochs)
            final = final.select(np.flatnonzero(np.isin(final.rows["genome_hash"], front.rows["genome_hash"])))
        self.ctx.write_front(archive, front, final)
        return final if final is not None and len(final) else front


__all__ = ["RESULT_COLUMNS", "Campaign", "training_seed"]
