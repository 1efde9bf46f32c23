"""A compression-aware weight-sharing supernet of a mobilenet space (Once-for-All / APQ style).

The supernet holds the weights of the space's largest network (every stage at its largest
depth, width, expansion and kernel). The sub-network of any genome uses slices of them:

- depth: the first ``depth`` blocks of each stage;
- width, expansion and pruning: the first channels of each layer — a pruned channel group keeps
  its first ``kept`` channels, so width and pruning are one nested ordering. After the warm-up
  (the largest network alone) the prunable groups — stem outputs, each block's hidden channels,
  head outputs — are sorted once by importance (L1 norm of the group's weights, as the trainer's
  pruning ranks them), which leaves the largest network's function unchanged; stage outputs (the
  residual stream) keep their order;
- kernel: the centre ``k × k`` crop of the largest depthwise kernel (no learned transform);
- bits: fake quantization of the sliced weights (per output channel) and of each layer's input
  (per tensor, over the batch's range while training) at the genome's bit-widths.

Training follows the sandwich rule (Yu & Huang 2019): each step the largest network learns from
the labels, the smallest and ``random_subnets`` random sub-networks learn from the largest one's
outputs (in-place distillation), and their gradients are summed into one step. BatchNorm uses
batch statistics while training; a sub-network's statistics (and activation ranges) are
recalibrated on a few training batches when it is evaluated (:func:`inherit`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasco.evo.errors import NascoError
from nasco.evo.space.genome import LayerTable, decode, fixed_genome, largest_genome, sample_genomes
from nasco.evo.space.layout import GenomeLayout
from nasco.evo.train.builder import CandidateNet, ChannelGroup, ConvUnit, build_model
from nasco.evo.train.datasets import Task
from nasco.evo.train.pruning import group_importance
from nasco.evo.train.quant import ActQuantizer, fake_quant_act, fake_quant_weight
from nasco.evo.train.trainer import (
    TrainConfig,
    augment,
    autocast_for,
    evaluate,
    prepare_inputs,
    resolve_device,
    training_loss,
)
from nasco.kernels.tables import (
    FLOAT_BITS,
    KIND_DEPTHWISE,
    L_A_BITS,
    L_KEPT_C_IN,
    L_KEPT_C_OUT,
    L_KERNEL,
    L_KIND,
    L_RESIDUAL,
    L_SLOT,
    L_W_BITS,
)

FORMAT = 1  # version of the checkpoint layout


class SupernetError(NascoError):
    """A supernet file does not fit the space, task or recipe it is used with, or is not a supernet."""


@dataclass(frozen=True)
class SupernetConfig:
    """How a supernet is trained and how its sub-networks are evaluated.

    Attributes:
        train: the training recipe (epochs, batch size, learning rate, augmentation, device,
            distillation temperature) — the trainer's :class:`TrainConfig`; its pruning fields are unused.
        warmup_epochs: the first epochs train the largest network alone.
        random_subnets: random sub-networks per step besides the largest and the smallest.
        calib_batches, calib_batch_size: training batches that recalibrate a sub-network's BatchNorm
            statistics and activation ranges before it is evaluated.
        finetune_steps, finetune_lr: training steps (AdamW at this learning rate, the recipe's batch size
            and augmentation) of the extracted sub-network before it is evaluated — its shared weights
            adapt to its own bits and widths (on digits, 5 steps raise the Kendall τ against trained
            errors from 0.22 to 0.39; on Fashion-MNIST they do not: 0.27 without, 0.25 with 5; 0: evaluate
            the inherited weights as they are).
        val_images: validation images a sub-network is scored on: the split's first this many, the same for
            every genome (0: all of them). Validation is most of an inheritance's cost on a large split.
    """

    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=40))
    warmup_epochs: int = 5
    random_subnets: int = 2
    calib_batches: int = 2
    calib_batch_size: int = 256
    finetune_steps: int = 5
    finetune_lr: float = 0.001
    val_images: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("warmup_epochs", 0 <= self.warmup_epochs < self.train.epochs, f"integers in 0..{self.train.epochs - 1} "
                                                                           "(below train.epochs)"),
            ("random_subnets", self.random_subnets >= 0, "integers ≥ 0"),
            ("calib_batches", self.calib_batches >= 1, "integers ≥ 1"),
            ("calib_batch_size", self.calib_batch_size >= 1, "integers ≥ 1"),
            ("finetune_steps", self.finetune_steps >= 0, "integers ≥ 0"),
            ("finetune_lr", self.finetune_lr > 0 and math.isfinite(self.finetune_lr), "finite numbers > 0"),
            ("val_images", self.val_images >= 0, "integers ≥ 0 (0: the whole validation split)"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise SupernetError(f"supernet.{name}: {getattr(self, name)!r} is not allowed; allowed: {allowed}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def weights_recipe(self) -> dict:
        """What the supernet's weights depend on: the training settings, not how sub-networks are evaluated."""
        recipe = self.to_dict()
        recipe["train"] = {k: v for k, v in recipe["train"].items() if k not in ("device", "eval_batch_size")}
        for name in EVALUATION_FIELDS:
            recipe.pop(name)
        return recipe


EVALUATION_FIELDS = ("calib_batches", "calib_batch_size", "finetune_steps", "finetune_lr", "val_images")


def recipe_id(layout: GenomeLayout, task: Task, config: SupernetConfig, seed: int) -> str:
    """16 hex digits naming what a supernet's weights depend on: space, task data, training recipe and
    seed (not the device, which changes the arithmetic, nor how sub-networks are evaluated, nor the evaluation
    batch)."""
    text = json.dumps({"space": layout.space.space_id, "task": task.name, "train_size": len(task.train),
                       "recipe": config.weights_recipe(), "seed": seed}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def smallest_genome(layout: GenomeLayout) -> np.ndarray:
    """Every architecture gene at its smallest choice, the fewest bits, the largest prune ratio."""
    return fixed_genome(layout, arch="min", weight_bits=0, act_bits=0, prune=1.0)


class Supernet(nn.Module):
    """The largest network's weights and the sliced forward pass of any genome of ``layout``.

    Attributes:
        net: the largest network (a full-width :class:`CandidateNet`), which owns the weights.
    """

    def __init__(self, layout: GenomeLayout) -> None:
        super().__init__()
        if not isinstance(layout, GenomeLayout):
            raise SupernetError(f"a supernet needs a mobilenet space; got a {getattr(layout.space, 'kind', '?')} "
                                "space")
        self.layout = layout
        table = decode(layout, largest_genome(layout))
        self.net = build_model(table, slim=False)
        layers = [*self.net.conv_units(), self.net.classifier]
        self._layer_of_slot = dict(zip(table.array[:, L_SLOT].tolist(), layers, strict=True))

    def table(self, genome: np.ndarray) -> LayerTable:
        """The decoded genome (validated against the space: a wrong length or a gene out of range is an error)."""
        return decode(self.layout, genome)

    # ------------------------------------------------------------------ slicing
    def _conv_weight(self, unit: ConvUnit, row: np.ndarray) -> torch.Tensor:
        c_out, c_in, k = int(row[L_KEPT_C_OUT]), int(row[L_KEPT_C_IN]), int(row[L_KERNEL])
        weight = unit.conv.weight
        start = (weight.shape[-1] - k) // 2
        weight = weight[:c_out, :, start:start + k, start:start + k]
        return weight if row[L_KIND] == KIND_DEPTHWISE else weight[:, :c_in]

    def _conv(self, x: torch.Tensor, row: np.ndarray, *, act: bool) -> torch.Tensor:
        unit = self._layer_of_slot[int(row[L_SLOT])]
        weight = self._conv_weight(unit, row)
        c_out = weight.shape[0]
        x = _quant_input(x, int(row[L_A_BITS]))
        if int(row[L_W_BITS]) < FLOAT_BITS:
            weight = fake_quant_weight(weight, int(row[L_W_BITS]))
        groups = c_out if row[L_KIND] == KIND_DEPTHWISE else 1
        y = F.conv2d(x, weight, None, unit.conv.stride, weight.shape[-1] // 2, 1, groups)
        y = F.batch_norm(y, None, None, unit.bn.weight[:c_out], unit.bn.bias[:c_out], True, 0.0, unit.bn.eps)
        return F.relu6(y) if act else y

    def forward(self, x: torch.Tensor, table: LayerTable) -> torch.Tensor:
        """Logits of ``table``'s sub-network on ``x`` with shared weights, batch statistics and batch
        activation ranges (the training pass; evaluate sub-networks through :func:`inherit`)."""
        rows = table.array
        h = self._conv(x, rows[0], act=True)
        for i in range(1, len(rows) - 2, 3):
            expand, depthwise, project = rows[i:i + 3]
            out = self._conv(self._conv(self._conv(h, expand, act=True), depthwise, act=True), project, act=False)
            h = h + out if expand[L_RESIDUAL] else out
        h = self._conv(h, rows[-2], act=True)
        h = torch.flatten(F.adaptive_avg_pool2d(h, 1), 1)
        cls = rows[-1]
        linear = self.net.classifier
        weight = linear.weight[:, :int(cls[L_KEPT_C_IN])]
        if int(cls[L_W_BITS]) < FLOAT_BITS:
            weight = fake_quant_weight(weight, int(cls[L_W_BITS]))
        return F.linear(_quant_input(h, int(cls[L_A_BITS])), weight, linear.bias)

    def extract(self, genome: np.ndarray) -> CandidateNet:
        """The slim network of ``genome`` with the sliced weights copied in (BatchNorm statistics and
        activation ranges fresh: recalibrate them, :func:`recalibrate`, before evaluating)."""
        table = self.table(genome)
        model = build_model(table, slim=True).to(self.net.classifier.weight.device)
        with torch.no_grad():
            for row, unit in zip(table.array[:-1], model.conv_units(), strict=True):
                source = self._layer_of_slot[int(row[L_SLOT])]
                unit.conv.weight.copy_(self._conv_weight(source, row))
                c_out = unit.conv.weight.shape[0]
                unit.bn.weight.copy_(source.bn.weight[:c_out])
                unit.bn.bias.copy_(source.bn.bias[:c_out])
            cls = table.array[-1]
            model.classifier.weight.copy_(self.net.classifier.weight[:, :int(cls[L_KEPT_C_IN])])
            model.classifier.bias.copy_(self.net.classifier.bias)
        return model

    # ------------------------------------------------------------------ channel order
    def sort_channels(self) -> None:
        """Reorder every prunable group's channels by importance, most important first (the largest
        network computes the same function afterwards)."""
        with torch.no_grad():
            for group in self.net.channel_groups():
                order = torch.argsort(group_importance(group), descending=True, stable=True)
                _permute_group(group, order, self.net)


def _quant_input(x: torch.Tensor, bits: int) -> torch.Tensor:
    if bits >= FLOAT_BITS:
        return x
    detached = x.detach().float()
    return fake_quant_act(x, detached.amin(), detached.amax(), bits)


def _permute_group(group: ChannelGroup, order: torch.Tensor, net: CandidateNet) -> None:
    """Permute a channel group: its producers' output rows (and their BatchNorm), its consumers' input columns."""
    units = {id(u.conv): u for u in net.conv_units()}
    for layer in group.rows:
        layer.weight.copy_(layer.weight[order])
        unit = units[id(layer)]
        for name in ("weight", "bias", "running_mean", "running_var"):
            tensor = getattr(unit.bn, name)
            tensor.copy_(tensor[order])
    for layer in group.columns:
        layer.weight.copy_(layer.weight[:, order])


# ---------------------------------------------------------------------- evaluation by inheritance
def recalibrate(model: nn.Module, task: Task, *, batches: int, batch_size: int, device: torch.device,
                seed: int = 0) -> None:
    """Re-estimate BatchNorm statistics (exact averages over ``batches`` training batches) and
    activation ranges in place; parameters never change."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    for m in model.modules():
        if isinstance(m, ActQuantizer):
            m.calibrated.fill_(False)
    gen = torch.Generator(device=device).manual_seed(seed)
    model.train()
    with torch.no_grad(), autocast_for(device):
        for i, (x, _) in enumerate(task.train.batches(batch_size, generator=gen)):
            if i == batches:
                break
            model(prepare_inputs(task, x.to(device, non_blocking=True)))
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.eval()


@dataclass
class Inherited:
    """A genome evaluated with the supernet's weights: validation error and seconds (extract + calibrate + eval)."""

    error: float
    seconds: float


def inherit(supernet: Supernet, genome: np.ndarray, task: Task, config: SupernetConfig, *, seed: int = 0,
            split: str = "val") -> Inherited:
    """Extract ``genome``'s sub-network, fine-tune it ``config.finetune_steps`` steps, recalibrate it and
    measure its error on ``split`` (the validation split's first ``config.val_images``); the supernet is not
    changed."""
    started = time.perf_counter()
    device = supernet.net.classifier.weight.device
    task = task.to(device)
    if split == "val" and 0 < config.val_images < len(task.val):
        task = dataclasses.replace(task, val=task.val.subset(torch.arange(config.val_images)))
    model = supernet.extract(genome)
    if config.finetune_steps:  # trains on batch statistics and calibrates its activation ranges itself
        _finetune(model, task, config, device, seed)
    recalibrate(model, task, batches=config.calib_batches, batch_size=config.calib_batch_size, device=device,
                seed=seed)
    error = evaluate(model, task, split, batch_size=config.train.eval_batch_size, device=device)
    return Inherited(error, time.perf_counter() - started)


def _finetune(model: nn.Module, task: Task, config: SupernetConfig, device: torch.device, seed: int) -> None:
    recipe = config.train
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.finetune_lr, weight_decay=recipe.weight_decay)
    gen = torch.Generator(device=device).manual_seed(seed)
    model.train()
    step = 0
    while step < config.finetune_steps:
        for x, y in task.train.batches(recipe.batch_size, generator=gen):
            inputs = prepare_inputs(task, augment(x, recipe.shift, recipe.flip, gen))
            with autocast_for(device):
                logits = model(inputs)
            loss = training_loss(logits, y, None, recipe)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step == config.finetune_steps:
                break


# ---------------------------------------------------------------------- training
@dataclass
class SupernetProgress:
    """Reported after every epoch: epoch (1-based), epochs, mean loss of the largest network, seconds so far."""

    epoch: int
    epochs: int
    loss: float
    seconds: float


def _sandwich(layout: GenomeLayout, seed: int, step: int, random_subnets: int) -> list[np.ndarray]:
    """The step's sub-networks after the largest: the smallest and random ones (drawn from (seed, step))."""
    rng = np.random.default_rng([seed, step])
    return [smallest_genome(layout), *sample_genomes(layout, rng, random_subnets)]


def train_supernet(layout: GenomeLayout, task: Task, config: SupernetConfig, path: str | Path, *, seed: int = 0,
                   progress: Callable[[SupernetProgress], None] | None = None) -> Supernet:
    """Train a supernet, checkpointing to ``path`` after every epoch; an existing checkpoint of the same
    recipe is resumed (the result equals an uninterrupted run's), one of another recipe is refused.

    Raises:
        SupernetError: ``path`` holds a supernet of another space, task or recipe.
    """
    path = Path(path)
    device = resolve_device(config.train.device)
    recipe = recipe_id(layout, task, config, seed)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        supernet = Supernet(layout)
    supernet = supernet.to(device)
    task = task.to(device)
    train_config = config.train
    steps_per_epoch = max(1, len(task.train) // train_config.batch_size)
    total_steps = steps_per_epoch * train_config.epochs
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    start_epoch, seconds = 0, 0.0
    if path.exists():
        state = _load_checkpoint(path, layout, recipe)
        supernet.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, seconds = int(state["epoch"]), float(state["seconds"])
    largest = supernet.table(largest_genome(layout))
    for epoch in range(start_epoch, train_config.epochs):
        started = time.perf_counter()
        if epoch == config.warmup_epochs and epoch > 0:
            supernet.sort_channels()
            optimizer.state.clear()  # the moments belonged to the old channel order
        gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + epoch)
        supernet.train()
        loss_sum, n_batches = torch.zeros((), device=device), 0
        for x, y in task.train.batches(train_config.batch_size, generator=gen):
            step = epoch * steps_per_epoch + n_batches
            inputs = prepare_inputs(task, augment(x.to(device), train_config.shift, train_config.flip, gen))
            y = y.to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast_for(device):
                logits = supernet(inputs, largest)
            loss = training_loss(logits, y, None, train_config)
            loss.backward()
            loss_sum += loss.detach()
            if epoch >= config.warmup_epochs:
                teacher = logits.detach()
                for genome in _sandwich(layout, seed, step, config.random_subnets):
                    with autocast_for(device):
                        student = supernet(inputs, supernet.table(genome))
                    training_loss(student, y, teacher, train_config).backward()
            optimizer.step()
            scheduler.step()
            n_batches += 1
        loss = float(loss_sum) / max(n_batches, 1)
        if not math.isfinite(loss):
            raise SupernetError(f"supernet training diverged in epoch {epoch + 1} (loss {loss}); lower training.lr")
        seconds += time.perf_counter() - started
        _save_checkpoint(path, {"format": FORMAT, "recipe": recipe, "space_id": layout.space.space_id,
                                "task": task.name, "config": config.to_dict(), "seed": seed, "epoch": epoch + 1,
                                "seconds": seconds, "model": supernet.state_dict(),
                                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
        if progress is not None:
            progress(SupernetProgress(epoch + 1, train_config.epochs, loss, seconds))
    return supernet.eval()


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    torch.save(state, partial)
    os.replace(partial, path)


def _load_checkpoint(path: Path, layout: GenomeLayout, recipe: str | None) -> dict:
    """A checkpoint's state (``weights_only``), checked against the space and (unless None) the recipe."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise SupernetError(f"{path}: not a nasco supernet checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SupernetError(f"{path}: not a nasco supernet checkpoint (format {FORMAT})")
    if state["space_id"] != layout.space.space_id:
        raise SupernetError(f"{path}: the supernet belongs to space {state['space_id']}, not to this space "
                            f"({layout.space.space_id}); train one for this space or use its own space file")
    if recipe is not None and state["recipe"] != recipe:
        raise SupernetError(f"{path}: the supernet was trained with another recipe (task {state['task']!r}, seed "
                            f"{state['seed']}, {state['config']}); delete it or choose another path to train anew")
    return state


def load_supernet(path: str | Path, layout: GenomeLayout, *, device: str = "cpu",
                  recipe: str | None = None) -> tuple[Supernet, dict]:
    """A trained supernet from ``path`` and its checkpoint's description (task, config, seed, epoch, seconds).

    Raises:
        SupernetError: not a supernet, another space, or (when ``recipe`` is given) another recipe;
            an unfinished training.
    """
    path = Path(path)
    if not path.is_file():
        raise SupernetError(f"{path}: no supernet there; train one with: nasco supernet train CONFIG")
    state = _load_checkpoint(path, layout, recipe)
    epochs = state["config"]["train"]["epochs"]
    if state["epoch"] < epochs:
        raise SupernetError(f"{path}: the supernet's training stopped after epoch {state['epoch']} of {epochs}; "
                            "resume it with: nasco supernet train CONFIG")
    supernet = Supernet(layout)
    supernet.load_state_dict(state["model"])
    info = {k: state[k] for k in ("recipe", "task", "config", "seed", "epoch", "seconds")}
    return supernet.to(resolve_device(device)).eval(), info

