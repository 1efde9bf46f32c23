"""The campaign configuration: one validated, documented object loaded from TOML.

Every field carries its documentation in ``metadata["doc"]``; :func:`example_config` renders
the defaults with those comments (``nasco init``), so the documented example and the code
cannot drift apart. Unknown keys are refused with the closest valid name; values are checked
for type and range and the error names the field, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import BUILTIN_EVALUATORS, EVALUATORS
from nasco.evo.search.executors import EXECUTORS
from nasco.evo.search.objectives import BUILTIN, objective
from nasco.evo.space.kinds import SPACE_KINDS

SCHEDULES = ("none", "strict-to-relaxed")
FINAL_STARTS = ("inherited", "scratch")  # supernet.final_start


class ConfigError(NascoError, ValueError):
    """A campaign configuration value is missing, unknown or not allowed."""


def _f(default: Any, doc: str) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class CampaignSection:
    name: str = _f("digits-default", "campaign id stored with every record (≤ 32 bytes)")
    seed: int = _f(0, "seeds the search, the surrogate and (with each genome's hash) every training")
    out: str = _f("runs/digits-default", "run folder: archive.h5, config.toml, log.txt, checkpoint, front.csv")
    warm_start: list = _f([], "archives (.h5 of earlier campaigns in the same space) whose records are copied into "
                              "this campaign's archive before it starts: records of this task and fidelity are "
                              "reused instead of evaluated again, records of other tasks warm-start the "
                              "surrogate (transfer); each file's SHA-256 is kept, and a changed or missing one "
                              "stops a resume")
    warm_start_tasks: list = _f([], "copy only the records of these task ids from warm_start (empty: every task)")


@dataclass(frozen=True)
class TaskSection:
    dataset: str = _f("digits", "digits, mnist, fashion-mnist, cifar10, cifar100, npz, imagefolder (images) or "
                                "langid, text (texts, for the sequence space kind)")
    root: str = _f("", "dataset folder (torchvision, imagefolder), .npz file, word-list folder (langid; default "
                       "/usr/share/dict) or text file/folder (text); empty for digits")
    download: bool = _f(False, "let torchvision download the dataset into root")
    image_size: int = _f(0, "resize images to this side length (0: keep)")
    val_fraction: float = _f(0.1, "share of the training data held out for validation")
    train_subset: int = _f(0, "train on N training images only, a class-stratified random subset (0: all); "
                                 "the validation split shrinks in proportion")
    skip_bad_files: bool = _f(False, "imagefolder: leave out files that are not readable images (named when decoded) "
                                     "instead of stopping")
    max_length: int = _f(0, "text datasets: tokens per text, longer texts truncated (0: the dataset's default, "
                            "langid 24, text 64)")
    tokenizer: str = _f("", "text datasets: char or word (empty: the dataset's default, langid char, text word)")


@dataclass(frozen=True)
class SpaceSection:
    kind: str = _f("mobilenet", "space kind: mobilenet (image networks), sequence (token classifiers of 1-D conv and "
                                "transformer blocks, for text tasks) or genes (named genes, no network)")
    file: str = _f("", "search space TOML (nasco space --toml); empty: the default space for the task's input, "
                       "or the genes below")
    genes: dict = _f({}, "genes kind without a file: gene name = [choices], e.g. {depth = [2, 4], act = ['relu']}")
    costs: str = _f("", "genes kind: 'package.module:function' giving cheap costs of unevaluated genomes")
    encoding: dict = _f({}, "genes kind: how the surrogate sees a gene, gene = 'onehot' or 'ordinal' (default: "
                            "ordinal for numbers, onehot for strings: unordered names must not look ordered)")


@dataclass(frozen=True)
class ObjectivesSection:
    names: list = _f(["error", "bitops"], f"objectives to minimise: {', '.join(BUILTIN)}, or metric:NAME for any "
                                          "value the evaluator returns (or declares cheap)")
    reference: list = _f([], "hypervolume reference point, one value per objective (costs in log10); "
                             "empty: from the first generation")
    latency_lut: str = _f("", "latency look-up table (nasco latency profile) for the latency objective/constraint")


@dataclass(frozen=True)
class ConstraintsSection:
    max_macs: float = _f(0.0, "upper bound on MACs (0: none)")
    max_params: float = _f(0.0, "upper bound on parameters (0: none)")
    max_bitops: float = _f(0.0, "upper bound on BitOps (0: none)")
    max_size_kb: float = _f(0.0, "upper bound on weight storage in KiB (0: none)")
    max_peak_memory_kb: float = _f(0.0, "upper bound on peak activation memory in KiB (0: none)")
    max_latency_ms: float = _f(0.0, "upper bound on predicted latency in ms (needs objectives.latency_lut; 0: none)")
    min_accuracy: float = _f(0.0, "trained candidates below this validation accuracy count as infeasible")
    limits: dict = _f({}, "upper bounds by objective name, e.g. {'metric:flops' = 3e8}: cheap values are checked "
                          "before evaluation, metrics after (over the bound: infeasible)")


@dataclass(frozen=True)
class EvaluatorSection:
    kind: str = _f("train", "how a genome is scored: train (nasco's QAT trainer), supernet (weights inherited from "
                            "a weight-sharing supernet; the final front is trained), table (look-up in a file) or "
                            "python (your function)")
    entry: str = _f("", "python: 'package.module:callable' taking a Candidate, returning a dict of metrics")
    file: str = _f("", "table: a .csv, .tsv, .json or .h5 table with one row per genome")
    key: str = _f("", "table: key column (the genome's values joined by key_separator); empty: one column per gene")
    key_separator: str = _f("", "table: separator of the values in the key column")
    metrics: list = _f([], "python/table: metric names the evaluator returns (python default: error; table "
                           "default: every numeric column besides keys and cheap)")
    cheap: list = _f([], "table: columns known for every genome before evaluation (e.g. flops, params)")
    options: dict = _f({}, "a plugin kind's own options (kind = 'package.module:factory' or a registered kind); the "
                           "kind validates them (nasco.evo.search.evaluators.kind_options)")


@dataclass(frozen=True)
class SearchSection:
    algorithm: str = _f("nsga2", "nsga2, or random (uniform random genomes each generation, evaluated without "
                                 "screening or surrogate: a baseline)")
    population: int = _f(16, "NSGA-II population size (trained in generation 0)")
    offspring: int = _f(8, "candidates trained per generation (K)")
    generations: int = _f(6, "generations after the initial population")
    max_evaluations: int = _f(0, "stop after this many evaluated candidates at search fidelity, whatever the "
                                 "evaluator; generations then no longer bound the search (0: no budget)")
    max_trained: int = _f(0, "stop after this many trained candidates, within generations (0: no limit; "
                             "max_evaluations is the budget that stops a campaign by itself)")
    max_wall_s: float = _f(0.0, "stop starting new generations after this many seconds (0: no limit)")
    screen_factor: int = _f(10, "offspring asked per generation = screen_factor × offspring (1: no screening)")
    surrogate: bool = _f(True, "screen offspring with the surrogate (False: random pick among the asked)")
    surrogate_min_records: int = _f(16, "records needed before the surrogate screens (random screening before)")
    surrogate_families: list = _f(["gp", "trees", "rbf", "ensemble"],
                                 "families the surrogate selects from each generation (mlp joins them from "
                                 "mlp_min_records on)")
    mlp_min_records: int = _f(450, "records from which the MLP ensemble joins the surrogate families (0: never): "
                                   "below, it is ~15× slower to cross-validate and ranks worse; from ~450 records on "
                                   "it ranks NAS-Bench-Macro best")
    exploration: float = _f(0.25, "screen: share of the screened chosen by optimistic error (mean − std)")
    acquisition: str = _f("front", "screen: how the asked offspring are ranked: front (non-dominated sorting of "
                                   "their predicted errors and costs, crowding within the cut front) or "
                                   "hypervolume (greedy hypervolume improvement of the predicted points over the "
                                   "archive's true front)")
    proposal: str = _f("auto", "how the surrogate proposes: screen (filter the asked offspring), inner (an inner "
                               "NSGA-II on the surrogate proposes from everything it visits; a space of at most "
                               "inner_exhaustive genomes is scored whole) or auto: inner, and screen with "
                               "supernet.surrogate_feature (inner scores thousands of genomes, each an inheritance); "
                               "inner beat screen on the four tables of bench_search_table and, with real training "
                               "on the mobilenet space, on digits and Fashion-MNIST (bench_search_proposals, 10 "
                               "seeds), where it also beat plain NSGA-II with twice the trainings on Fashion-MNIST "
                               "and matched it with 1.56× fewer on digits (bench_search); or a plugin's name or "
                               "import path")
    inner_generations: int = _f(20, "inner: generations of the inner NSGA-II per outer generation")
    inner_population: int = _f(100, "inner: population of the inner NSGA-II")
    inner_exhaustive: int = _f(100_000, "inner: a space of at most this many genomes is scored whole instead of "
                                        "searched (0: always search)")
    inner_kappa: float = _f(0.0, "inner: the inner NSGA-II minimises the optimistic error mean − inner_kappa × std "
                                 "(0: the predicted mean)")
    inner_exploration: float = _f(0.1, "inner: share of the picks by hypervolume improvement of the optimistic error "
                                       "(mean − std) instead of the mean")
    inner_family: str = _f("gp", "inner: the surrogate family the inner search optimises (auto: the cross-validated "
                                 "choice among surrogate_families, as screening uses); a GP extrapolates over the "
                                 "whole space more safely than trees (NAS-Bench-Macro regret at 100 evaluations "
                                 "1.5 % vs 2.2 %); gp_ard (a length scale per feature) for spaces of a few genes "
                                 "(NAS-Bench-Macro, 8 genes: 1.1 %), not for network spaces (~100 features: "
                                 "fits 30–60 s, ranks worse)")
    initial: str = _f("auto", "initial population: lhs (Latin hypercube), archive (the archived fronts first: this "
                              "task's, then the warm-start sources') or auto: archive when the campaign warm-starts, "
                              "else lhs")
    preprocess: bool = _f(False, "prune the space's compression choices by a sensitivity sweep before searching")
    preprocess_threshold: float = _f(0.05, "relative weight-reconstruction error above which a choice is removed")
    compression_schedule: str = _f("none", f"dynamic compression strategy: {', '.join(SCHEDULES)}")

    def proposal_for(self, surrogate_feature: bool = False) -> str:
        """The proposal a campaign uses: ``proposal`` unless auto — then ``inner``, or ``screen`` with
        ``supernet.surrogate_feature`` (see its help)."""
        if self.proposal != "auto":
            return self.proposal
        return "screen" if surrogate_feature else "inner"

    def screen_families(self, n_records: int) -> list[str]:
        """``surrogate_families``, and ``mlp`` from ``mlp_min_records`` on (by archive size, not wall time, so
        that a resumed or repeated campaign chooses the same)."""
        families = list(self.surrogate_families)
        if 0 < self.mlp_min_records <= n_records and "mlp" not in families:
            families.append("mlp")
        return families

    def families_for(self, n_records: int, proposal: str = "screen") -> list[str]:
        """The surrogate families cross-validated on ``n_records`` records under the resolved ``proposal``
        (:meth:`proposal_for`; the proposal's own choice, e.g. ``inner_family`` for the inner search)."""
        from nasco.evo.search.strategies import PROPOSALS

        return PROPOSALS.get(proposal).families(self, n_records)


@dataclass(frozen=True)
class TrainingSection:
    epochs: int = _f(4, "epochs of each candidate during the search (low fidelity)")
    final_epochs: int = _f(12, "epochs of the final Pareto set's retraining (high fidelity; 0: skip)")
    final_max: int = _f(8, "at most this many front members are retrained (spread by crowding)")
    batch_size: int = _f(64, "training batch size")
    lr: float = _f(0.005, "peak learning rate (AdamW, cosine decay)")
    device: str = _f("auto", "auto, cpu, cuda or cuda:N")
    teacher: str = _f("", "folder of a trained model (nasco train -o) to distil from; empty: no distillation")
    channel_multiple: int = _f(0, "search-fidelity trainings round every channel count up to this multiple and "
                                  "mask the added channels (same logits; layer shapes repeat across genomes, so "
                                  "a GPU plans fewer new convolution shapes); the final retraining keeps the "
                                  "exact counts; 0: off (mobilenet kind only)")
    depthwise_kernel: int = _f(0, "search-fidelity trainings run every smaller depthwise kernel at this odd size, "
                                  "the genome's taps in its centre and the others masked (same logits; most of a "
                                  "space's layer shapes are depthwise); the final retraining keeps the genome's "
                                  "kernels; 0: off (mobilenet kind only)")


@dataclass(frozen=True)
class SupernetSection:
    file: str = _f("", "the supernet checkpoint (trained there when missing, resumed when unfinished); empty: "
                       "supernet.pt in the run folder")
    epochs: int = _f(40, "epochs of supernet training (the recipe's batch size, learning rate and device)")
    warmup_epochs: int = _f(5, "the first epochs train the largest network alone")
    random_subnets: int = _f(2, "random sub-networks per step besides the largest and the smallest (sandwich rule)")
    calib_batches: int = _f(2, "training batches that recalibrate a sub-network's BatchNorm statistics and "
                               "activation ranges before it is evaluated")
    calib_batch_size: int = _f(256, "batch size of that recalibration")
    finetune_steps: int = _f(5, "training steps of each extracted sub-network before it is evaluated: its shared "
                                "weights adapt to its own bits and widths (0: none; digits: 5 steps raise the rank "
                                "correlation with trained errors from 0.22 to 0.39; Fashion-MNIST 28×28: no gain, "
                                "0.27 without, 0.25 with them)")
    finetune_lr: float = _f(0.001, "learning rate of those steps (AdamW)")
    val_images: int = _f(0, "validation images each genome is scored on: the split's first this many, the same "
                            "for every genome (0: all); most of an inheritance's cost on a large split "
                            "(Fashion-MNIST, 1,500 of 6,000: the same rank correlation, 2× cheaper)")
    final_start: str = _f("inherited", "how the final front is trained (the recipe, training.final_epochs): from "
                                       "its weights inherited from the supernet (inherited, as Once-for-All "
                                       "fine-tunes its sub-networks) or from a fresh initialisation (scratch)")
    surrogate_feature: bool = _f(False, "evaluator.kind = train: the surrogate also sees the error each genome "
                                        "inherits from this supernet (computed once per genome; not with "
                                        "search.proposal = inner; auto then screens)")


@dataclass(frozen=True)
class ExecutorSection:
    kind: str = _f("local", "local (worker processes on this machine) or ray")
    address: str = _f("", "Ray cluster address; empty: start a local Ray instance")
    num_cpus: float = _f(1.0, "CPUs per training task; torch trains with this many threads (local and Ray)")
    num_gpus: float = _f(0.0, "GPUs per training task (Ray); fractions share a GPU")
    max_retries: int = _f(2, "retries of a task whose worker died (Ray)")
    workers: int = _f(0, "local: candidates trained at once, each in a worker process (0: one per num_cpus CPUs; "
                         "1: in this process); ray: CPUs of a local Ray instance (0: all)")
    timeout_s: float = _f(0.0, "seconds one candidate's evaluation may take; past it the candidate is a failed "
                               "record ('timed out'), its worker is stopped and replaced, the campaign goes on "
                               "(0: no limit)")


@dataclass(frozen=True)
class CampaignConfig:
    """The whole configuration; sections mirror the TOML tables."""

    campaign: CampaignSection = field(default_factory=CampaignSection)
    task: TaskSection = field(default_factory=TaskSection)
    space: SpaceSection = field(default_factory=SpaceSection)
    objectives: ObjectivesSection = field(default_factory=ObjectivesSection)
    constraints: ConstraintsSection = field(default_factory=ConstraintsSection)
    search: SearchSection = field(default_factory=SearchSection)
    training: TrainingSection = field(default_factory=TrainingSection)
    evaluator: EvaluatorSection = field(default_factory=EvaluatorSection)
    supernet: SupernetSection = field(default_factory=SupernetSection)
    executor: ExecutorSection = field(default_factory=ExecutorSection)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, section: str, **values: Any) -> CampaignConfig:
        """A copy with some fields of one section changed (validated)."""
        return config_from_dict({**self.to_dict(), section: {**self.to_dict()[section], **values}})


_SECTION_TYPES = {f.name: f.default_factory for f in dataclasses.fields(CampaignConfig)}  # type: ignore[misc]


def _unknown(kind: str, key: str, allowed: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown {kind} {key!r}{hint} allowed: {', '.join(allowed)}")


def _coerce(where: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list)
    elif isinstance(default, dict):
        ok = isinstance(value, dict)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: {value!r} has the wrong type; expected {type(default).__name__} "
                          f"(like {default!r})")
    return value


def config_from_dict(data: dict) -> CampaignConfig:
    """Validate a nested dict (as read from TOML) into a :class:`CampaignConfig`."""
    sections = {}
    for name, values in data.items():
        if name not in _SECTION_TYPES:
            raise _unknown("section", name, list(_SECTION_TYPES))
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table of settings, not {values!r}")
        defaults = _SECTION_TYPES[name]()
        names = [f.name for f in dataclasses.fields(defaults)]
        for key in values:
            if key not in names:
                raise _unknown(f"key in [{name}]", key, names)
        sections[name] = dataclasses.replace(defaults, **{
            key: _coerce(f"{name}.{key}", value, getattr(defaults, key)) for key, value in values.items()})
    config = CampaignConfig(**sections)
    _check(config)
    return config


# Integer ranges: far beyond a real campaign, small enough that every accepted value runs (a
# population of 1e20 used to pass validation and crash while allocating the first generation).
SEARCH_RANGES = {"population": (4, 100_000), "offspring": (1, 100_000), "generations": (0, 1_000_000),
                 "max_trained": (0, 2**31 - 1), "max_evaluations": (0, 2**31 - 1), "screen_factor": (1, 1000),
                 "inner_generations": (0, 10_000),
                 "inner_population": (4, 100_000), "mlp_min_records": (0, 2**31 - 1),
                 "inner_exhaustive": (0, 1_000_000)}
TRAINING_RANGES = {"epochs": (1, 100_000), "final_epochs": (0, 100_000), "final_max": (1, 100_000),
                   "batch_size": (1, 1_000_000)}
MAX_ASKED = 1_000_000


def _require(where: str, ok: bool, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{where}: {value!r} is not allowed; allowed: {allowed}")


def _check(c: CampaignConfig) -> None:
    _require("campaign.name", 0 < len(c.campaign.name.encode()) <= 32, c.campaign.name, "1–32 bytes")
    _require("campaign.seed", 0 <= c.campaign.seed < 2**32, c.campaign.seed, "integers 0..4294967295")
    _require("campaign.out", bool(c.campaign.out), c.campaign.out, "a folder path")
    for key in ("warm_start", "warm_start_tasks"):
        value = getattr(c.campaign, key)
        _require(f"campaign.{key}", all(isinstance(v, str) and v for v in value) and len(set(value)) == len(value),
                 value, "a list of distinct non-empty strings")
    _require("task.val_fraction", 0 < c.task.val_fraction < 1, c.task.val_fraction, "numbers in (0, 1)")
    _require("task.image_size", c.task.image_size == 0 or 4 <= c.task.image_size <= 4096, c.task.image_size,
             "0 or 4..4096")
    _require("task.train_subset", 0 <= c.task.train_subset < 2**31, c.task.train_subset, "integers 0..2147483647")
    names = c.objectives.names
    for name in names:
        if not isinstance(name, str) or (name not in BUILTIN and not name.startswith("metric:")):
            raise _unknown("objective", str(name), [*BUILTIN, "metric:NAME"])
        objective(name)
    _require("objectives.names", len(names) >= 2 and len(set(names)) == len(names) and "error" in names, names,
             "≥ 2 distinct objectives including error")
    needs_lut = "latency" in names or c.constraints.max_latency_ms > 0
    _require("objectives.latency_lut", bool(c.objectives.latency_lut) or not needs_lut, c.objectives.latency_lut,
             "a latency table (nasco latency profile -o lut.h5) when latency is an objective or constrained")
    ref = c.objectives.reference
    _require("objectives.reference", not ref or (len(ref) == len(names) and all(
        isinstance(v, int | float) and math.isfinite(v) for v in ref)), ref,
        "empty, or one finite number per objective")
    for f in dataclasses.fields(c.constraints):
        value = getattr(c.constraints, f.name)
        if f.name == "limits":
            continue
        _require(f"constraints.{f.name}", value >= 0, value, "numbers ≥ 0 (0: no bound)")
    _require("constraints.min_accuracy", c.constraints.min_accuracy < 1, c.constraints.min_accuracy,
             "numbers in [0, 1)")
    for name, bound in c.constraints.limits.items():
        _require(f"constraints.limits.{name}", name in BUILTIN or name.startswith("metric:"), name,
                 f"{', '.join(BUILTIN)} or metric:NAME")
        _require(f"constraints.limits.{name}", isinstance(bound, int | float) and not isinstance(bound, bool)
                 and math.isfinite(bound), bound, "a finite number")
        objective(name)
    sp = c.space
    _require("space.kind", SPACE_KINDS.allows(sp.kind) or bool(sp.file), sp.kind,
             SPACE_KINDS.allowed() + " (or any kind declared in a space file)")
    _require("space.genes", not sp.genes or (sp.kind == "genes" and not sp.file), sp.genes,
             "genes only with space.kind = 'genes' and no space.file")
    _require("space.encoding", not sp.encoding or bool(sp.genes), sp.encoding,
             "encoding only with space.genes (a space file declares its own [encoding])")
    _require("space.file", sp.kind != "genes" or bool(sp.file) or bool(sp.genes), sp.file,
             "a genes space needs space.file or space.genes")
    s = c.search
    for name, (low, high) in SEARCH_RANGES.items():
        _require(f"search.{name}", low <= getattr(s, name) <= high, getattr(s, name), f"integers {low}..{high:,}")
    _require("search.screen_factor", s.screen_factor * s.offspring <= MAX_ASKED, s.screen_factor,
             f"screen_factor × offspring ≤ {MAX_ASKED:,} genomes asked per generation")
    _require("search.algorithm", s.algorithm in ("nsga2", "random"), s.algorithm, "nsga2, random")
    _require("search.max_wall_s", s.max_wall_s >= 0, s.max_wall_s, "seconds ≥ 0 (0: no limit)")
    from nasco.evo.search.strategies import PROPOSALS, SURROGATE_FAMILIES, load_families
    from nasco.surrogate import min_training_records

    _require("search.surrogate_families", bool(s.surrogate_families) and all(
        isinstance(f, str) and SURROGATE_FAMILIES.allows(f) for f in s.surrogate_families), s.surrogate_families,
        f"a non-empty list of {SURROGATE_FAMILIES.allowed()}")
    load_families(list(s.surrogate_families), "search.surrogate_families")
    _require("search.inner_family", s.inner_family == "auto" or SURROGATE_FAMILIES.allows(s.inner_family),
             s.inner_family, f"auto, {SURROGATE_FAMILIES.allowed()}")
    if s.inner_family != "auto":
        load_families([s.inner_family], "search.inner_family")
    _require("search.proposal", s.proposal == "auto" or PROPOSALS.allows(s.proposal), s.proposal,
             f"auto, {PROPOSALS.allowed()}")
    used = sorted({*s.families_for(0, "screen"), *s.families_for(0, "inner")} if s.proposal == "auto" else
                  s.families_for(0, s.proposal))
    fewest = min_training_records(used)  # what model selection's cross-validation needs
    _require("search.surrogate_min_records", fewest <= s.surrogate_min_records < 2**31, s.surrogate_min_records,
             f"integers ≥ {fewest} (cross-validating {', '.join(used)} in 5 folds needs them)")
    _require("search.exploration", 0 <= s.exploration <= 1, s.exploration, "numbers in [0, 1]")
    _require("search.acquisition", s.acquisition in ("front", "hypervolume"), s.acquisition, "front, hypervolume")
    _require("search.inner_exploration", 0 <= s.inner_exploration <= 1, s.inner_exploration, "numbers in [0, 1]")
    _require("search.inner_kappa", 0 <= s.inner_kappa <= 100, s.inner_kappa, "numbers in [0, 100]")
    _require("search.initial", s.initial in ("auto", "lhs", "archive"), s.initial, "auto, lhs, archive")
    _require("search.preprocess_threshold", s.preprocess_threshold > 0, s.preprocess_threshold, "numbers > 0")
    _require("search.compression_schedule", s.compression_schedule in SCHEDULES, s.compression_schedule,
             ", ".join(SCHEDULES))
    t = c.training
    for name, (low, high) in TRAINING_RANGES.items():
        _require(f"training.{name}", low <= getattr(t, name) <= high, getattr(t, name), f"integers {low}..{high:,}")
    _require("training.lr", t.lr > 0, t.lr, "numbers > 0")
    _require("training.channel_multiple", t.channel_multiple == 0 or 2 <= t.channel_multiple <= 256,
             t.channel_multiple, "0 (off) or integers 2..256")
    _require("training.depthwise_kernel", t.depthwise_kernel == 0 or (1 <= t.depthwise_kernel <= 15
                                                                       and t.depthwise_kernel % 2 == 1),
             t.depthwise_kernel, "0 (off) or odd integers 1..15")
    _require("training.final_epochs", t.final_epochs != t.epochs, t.final_epochs,
             "0 (no retraining) or a number of epochs different from training.epochs")
    ev = c.evaluator
    _require("evaluator.kind", EVALUATORS.allows(ev.kind), ev.kind, EVALUATORS.allowed())
    _require("evaluator.options", not ev.options or ev.kind not in BUILTIN_EVALUATORS, ev.options,
             f"options only for plugin kinds; built-in kinds ({', '.join(BUILTIN_EVALUATORS)}) take their keys in "
             "[evaluator] itself")
    for name in ("metrics", "cheap"):
        values = getattr(ev, name)
        _require(f"evaluator.{name}", all(isinstance(v, str) and v for v in values) and len(set(values)) == len(values),
                 values, "distinct non-empty names")
    sn = c.supernet
    _require("supernet.epochs", 1 <= sn.epochs <= 100_000, sn.epochs, "integers 1..100,000")
    _require("supernet.warmup_epochs", 0 <= sn.warmup_epochs < sn.epochs, sn.warmup_epochs,
             f"integers 0..{sn.epochs - 1} (below supernet.epochs)")
    _require("supernet.random_subnets", 0 <= sn.random_subnets <= 100, sn.random_subnets, "integers 0..100")
    _require("supernet.calib_batches", 1 <= sn.calib_batches <= 100_000, sn.calib_batches, "integers 1..100,000")
    _require("supernet.calib_batch_size", 1 <= sn.calib_batch_size <= 1_000_000, sn.calib_batch_size,
             "integers 1..1,000,000")
    _require("supernet.finetune_steps", 0 <= sn.finetune_steps <= 1_000_000, sn.finetune_steps,
             "integers 0..1,000,000")
    _require("supernet.finetune_lr", 0 < sn.finetune_lr <= 10, sn.finetune_lr, "numbers in (0, 10]")
    _require("supernet.val_images", 0 <= sn.val_images <= 100_000_000, sn.val_images,
             "integers 0..100,000,000 (0: the whole validation split)")
    _require("supernet.final_start", sn.final_start in FINAL_STARTS, sn.final_start, ", ".join(FINAL_STARTS))
    _require("supernet.surrogate_feature", not sn.surrogate_feature or s.proposal == "auto"
             or not PROPOSALS.get(s.proposal).scores_many, sn.surrogate_feature,
             f"true only with a search.proposal that scores the asked offspring only (auto, screen; {s.proposal!r} "
             "scores thousands of genomes, each inheritance takes a fraction of a second)")
    e = c.executor
    _require("executor.kind", EXECUTORS.allows(e.kind), e.kind, EXECUTORS.allowed())
    _require("executor.num_cpus", e.num_cpus > 0, e.num_cpus, "numbers > 0")
    _require("executor.num_gpus", e.num_gpus >= 0, e.num_gpus, "numbers ≥ 0")
    _require("executor.max_retries", 0 <= e.max_retries <= 1000, e.max_retries, "integers 0..1000")
    _require("executor.workers", 0 <= e.workers <= 100_000, e.workers, "integers 0..100,000")
    _require("executor.timeout_s", 0 <= e.timeout_s <= 10**9, e.timeout_s, "seconds 0..1e9 (0: no limit)")


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found (nasco init writes an example)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); allowed: a TOML file in UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return config_from_dict(data)


def dump_config(config: CampaignConfig) -> str:
    """The resolved configuration as TOML (every field)."""
    return tomli_w.dumps(config.to_dict())


def example_config() -> str:
    """The default configuration as commented TOML (what ``nasco init`` writes)."""
    lines = ["# nasco campaign configuration. Every field is shown with its default.",
             "# Run with: nasco run THIS_FILE   (nasco run --help for the flags)", ""]
    for section, factory in _SECTION_TYPES.items():
        lines.append(f"[{section}]")
        for f in dataclasses.fields(factory()):
            default = getattr(factory(), f.name)
            value = "{}" if default == {} else tomli_w.dumps({"v": default}).strip()[len("v = "):]
            lines.append(f"# {f.metadata['doc']}")
            lines.append(f"{f.name} = {value}")
        lines.append("")
    return "\n".join(lines)
