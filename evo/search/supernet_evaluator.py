"""The ``supernet`` evaluator: a genome's error with weights inherited from a weight-sharing supernet.

During the search each genome is scored by extracting its sub-network from the campaign's
supernet (:mod:`nasco.evo.train.supernet`), fine-tuning it a few steps, recalibrating BatchNorm on a
few training batches and measuring the validation error — a fraction of a second instead of a training. The final front
(``test``) is trained stand-alone with the campaign's recipe, like the ``train`` evaluator does, starting
from the weights it inherits from the supernet (``supernet.final_start = "inherited"``, the default: as
Once-for-All fine-tunes its sub-networks) or from a fresh initialisation (``"scratch"``).
The supernet is trained (or resumed) when the campaign starts and its file is missing or
unfinished; every worker process loads it once.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasco.evo.search.config import ConfigError
from nasco.evo.search.evaluators import EvalJob, EvalResult, evaluator_kind
from nasco.evo.search.train_evaluator import (
    TrainEvaluator,
    WorkerSpec,
    load_worker_context,
    run_job,
    train_worker_spec,
)
from nasco.evo.space.base import missing_features
from nasco.evo.space.kinds import kind_of, space_kind


@dataclass(frozen=True)
class SupernetSpec:
    """Plain data for workers: the training spec (task, space, recipe), the supernet file, its settings."""

    worker: WorkerSpec
    path: str
    config: dict
    recipe: str
    seed: int
    final_start: str = "inherited"


def supernet_config(config: Any) -> Any:
    """The :class:`SupernetConfig` of a campaign: its ``[supernet]`` section and training recipe."""
    from nasco.evo.train.supernet import SupernetConfig
    from nasco.evo.train.trainer import TrainConfig

    s = config.supernet
    train = TrainConfig(epochs=s.epochs, batch_size=config.training.batch_size, lr=config.training.lr,
                        device=config.training.device)
    return SupernetConfig(train=train, warmup_epochs=s.warmup_epochs, random_subnets=s.random_subnets,
                          calib_batches=s.calib_batches, calib_batch_size=s.calib_batch_size,
                          finetune_steps=s.finetune_steps, finetune_lr=s.finetune_lr, val_images=s.val_images)


def supernet_path(config: Any) -> Path:
    """``supernet.file``, or the run folder's supernet file."""
    from nasco.evo.search.run_folder import SUPERNET_FILE

    return Path(config.supernet.file) if config.supernet.file else Path(config.campaign.out) / SUPERNET_FILE


def _config_from_dict(data: dict) -> Any:
    from nasco.evo.train.supernet import SupernetConfig
    from nasco.evo.train.trainer import TrainConfig

    return SupernetConfig(**{**data, "train": TrainConfig(**data["train"])})


_LOADED: dict[str, tuple] = {}


def _load(spec: SupernetSpec) -> tuple:
    """(supernet, layout, task, config) of a spec, loaded once per process."""
    key = json.dumps([spec.path, spec.recipe])
    if key not in _LOADED:
        from nasco.evo.train.supernet import load_supernet

        layout, task, _ = load_worker_context(spec.worker)
        config = _config_from_dict(spec.config)
        supernet, _ = load_supernet(spec.path, layout, device=config.train.device, recipe=spec.recipe)
        _LOADED[key] = (supernet, layout, task, config)
    return _LOADED[key]


class SupernetEvaluator(TrainEvaluator):
    """Inherited-weight validation error during the search; stand-alone training (the ``train``
    evaluator's) for the final front."""

    trains = False  # the search inherits weights; only the final front trains

    def __init__(self, spec: SupernetSpec, task_name: str, description: dict) -> None:
        super().__init__(spec.worker, task_name, description)
        self.supernet_spec = spec

    def evaluate(self, genomes: np.ndarray, fidelity: int, seeds: np.ndarray, *, test: bool = False
                 ) -> list[EvalResult]:
        if test and self.supernet_spec.final_start == "scratch":
            return super().evaluate(genomes, fidelity, seeds, test=True)
        import torch

        from nasco.evo.train.supernet import inherit

        supernet, _, task, config = _load(self.supernet_spec)
        if test:
            return [self.result(run_job(self.spec, EvalJob(g, int(s), fidelity, True), start=supernet.extract(g)))
                    for g, s in zip(genomes, seeds, strict=True)]
        previous = torch.get_num_threads()
        torch.set_num_threads(self.spec.threads)
        try:
            done = [inherit(supernet, genome, task, config, seed=int(seed)) for genome, seed in zip(genomes, seeds,
                                                                                                     strict=True)]
        finally:
            torch.set_num_threads(previous)
        device = str(supernet.net.classifier.weight.device)
        return [EvalResult({"error": d.error}, wall_time_s=d.seconds, device=device) for d in done]


@evaluator_kind(needs_task=True, needs_network=True)
def supernet_evaluator(config: Any, layout: Any, task: Any) -> SupernetEvaluator:
    """Train or resume the campaign's supernet when needed, then evaluate genomes by inheritance."""
    from nasco.evo.train.supernet import recipe_id

    kind = space_kind(kind_of(layout.space))
    if "supernet" not in kind.features:
        raise ConfigError(missing_features(kind, [("evaluator.kind = 'supernet'", "supernet")]))

    worker, description = train_worker_spec(config, layout)
    settings = supernet_config(config)
    seed = config.campaign.seed
    recipe = recipe_id(layout, task, settings, seed)
    path = supernet_path(config)
    ensure_trained(layout, task, settings, path, seed)
    spec = SupernetSpec(worker, str(path), dataclasses.asdict(settings), recipe, seed, config.supernet.final_start)
    return SupernetEvaluator(spec, task.name, {**description, "fidelity": "supernet", "supernet": recipe,
                                                  "final_start": config.supernet.final_start})


def ensure_trained(layout: Any, task: Any, settings: Any, path: Path, seed: int, console: Any = None) -> dict | None:
    """The checkpoint info (epoch, seconds, …) of the finished supernet at ``path``; else train it (or resume an
    unfinished one) and return None. A file of another space or recipe is refused (``SupernetError``), never
    overwritten."""
    from nasco.evo.train.supernet import SupernetError, load_supernet, recipe_id

    try:
        return load_supernet(path, layout, recipe=recipe_id(layout, task, settings, seed))[1]
    except SupernetError as err:
        if path.exists() and "stopped after epoch" not in str(err):
            raise
    train_logged(layout, task, settings, path, seed, console)
    return None


def train_logged(layout: Any, task: Any, settings: Any, path: Path, seed: int, console: Any = None) -> Any:
    """Train (or resume) a supernet, printing one line per epoch."""
    from rich.console import Console

    from nasco.evo.train.supernet import train_supernet

    console = console or Console(stderr=True)
    epochs = settings.train.epochs
    console.print(f"training the supernet {path} ({epochs} epochs, {settings.warmup_epochs} of them warm-up) on "
                  f"{task.name}", highlight=False)

    def progress(p: Any) -> None:
        console.print(f"  supernet epoch {p.epoch:>3}/{p.epochs}  loss {p.loss:.4f}  {p.seconds:.0f} s",
                      highlight=False)

    return train_supernet(layout, task, settings, path, seed=seed, progress=progress)
