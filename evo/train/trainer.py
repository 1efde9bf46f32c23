"""Train one candidate with the compression its genome asks for, and report the result.

Quantization-aware training (fake quantization with straight-through gradients at the
genome's bit-widths, :mod:`nasco.evo.train.quant`), gradual structured pruning to the genome's
ratios (:mod:`nasco.evo.train.pruning`), optional knowledge distillation from a teacher (Hinton et
al. 2015: ``(1 - w)·CE + w·T²·KL(softmax(t/T) ‖ softmax(s/T))``). At the end the network is
slimmed and the validation error and MACs are measured on the slim network.

Images and the training network's convolution weights are channels_last on every device (on the CPU
contiguous training steps are 1.6× slower and evaluation 1.4×, ``benchmarks/bench_fake_quant.py``); the
returned network is contiguous (as exporters expect). On CUDA the data lives on the GPU, steps run under
bf16 autocast, and the inner loop never synchronises with the host (loss sums and the non-finite flag
stay on the device until the end of the epoch). The CPU runs the same code without autocast.
Failures (non-finite loss, errors) become a ``failed`` result with the reason; CUDA
out-of-memory retries with half the batch size.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nasco.evo.errors import NascoError
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.genome import genome_hash
from nasco.evo.train.datasets import Task
from nasco.evo.train.models import build_network, count_network, network_kind
from nasco.evo.train.pruning import update_masks
from nasco.evo.train.quant import ActQuantizer, Quantizer


class TrainConfigError(NascoError, ValueError):
    """A training setting is invalid."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one candidate's training (all fields keyword-only, validated).

    Attributes:
        epochs: passes over the training split.
        batch_size: training batch size (halved on CUDA out-of-memory, down to 1).
        lr: peak learning rate of AdamW, cosine-decayed to 0 over training.
        weight_decay: AdamW weight decay.
        label_smoothing: cross-entropy label smoothing.
        prune_start, prune_end: the pruning window as fractions of all training steps;
            masks are frozen after ``prune_end``.
        prune_updates: mask updates spread evenly over the window.
        act_momentum: EMA momentum of the activation ranges.
        kd_temperature, kd_weight: distillation temperature T and weight w (used with a teacher).
        shift: random translation by up to this many pixels (0 = none).
        flip: random horizontal flips (off for digits and letters).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        eval_batch_size: batch size of evaluation; None: :data:`EVAL_BATCH_SIZE` of the device.
        compress: False trains the same network with quantizers and masks bypassed.
        channel_multiple: train the masked network with every channel count rounded up to this
            multiple (0: exact counts); the same logits, layer shapes shared across genomes (on a GPU,
            fewer new cuDNN plans; :mod:`nasco.evo.train.padding`). Space kinds without padding
            (sequence) and ``start`` networks train unpadded; the returned network is always slim.
        depthwise_kernel: likewise, run every smaller depthwise kernel at this (odd) size, the genome's
            taps in the centre and the others masked (0: the genome's sizes).
    """

    epochs: int = 15
    batch_size: int = 64
    lr: float = 0.005
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    prune_start: float = 0.1
    prune_end: float = 0.6
    prune_updates: int = 10
    act_momentum: float = 0.9
    kd_temperature: float = 4.0
    kd_weight: float = 0.5
    shift: int = 1
    flip: bool = False
    device: str = "auto"
    eval_batch_size: int | None = None
    compress: bool = True
    channel_multiple: int = 0
    depthwise_kernel: int = 0

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs >= 1, "integers ≥ 1"),
            ("batch_size", self.batch_size >= 1, "integers ≥ 1"),
            ("lr", self.lr > 0 and math.isfinite(self.lr), "finite numbers > 0"),
            ("weight_decay", self.weight_decay >= 0, "numbers ≥ 0"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "numbers in [0, 1)"),
            ("prune_start", 0 <= self.prune_start <= self.prune_end, "0 ≤ prune_start ≤ prune_end"),
            ("prune_end", self.prune_end <= 1, "numbers ≤ 1"),
            ("prune_updates", self.prune_updates >= 1, "integers ≥ 1"),
            ("act_momentum", 0 <= self.act_momentum < 1, "numbers in [0, 1)"),
            ("kd_temperature", self.kd_temperature > 0, "numbers > 0"),
            ("kd_weight", 0 <= self.kd_weight <= 1, "numbers in [0, 1]"),
            ("shift", self.shift >= 0, "integers ≥ 0"),
            ("eval_batch_size", self.eval_batch_size is None or self.eval_batch_size >= 1, "None or integers ≥ 1"),
            ("channel_multiple", self.channel_multiple == 0 or self.channel_multiple >= 2, "0 or integers ≥ 2"),
            ("depthwise_kernel", self.depthwise_kernel == 0 or (self.depthwise_kernel > 0
                                                                and self.depthwise_kernel % 2 == 1),
             "0 or odd integers ≥ 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise TrainConfigError(f"{name}: {getattr(self, name)!r} is not allowed; allowed: {allowed}")
        resolve_device(self.device)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when present, else CPU; an unavailable CUDA request is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainConfigError(f"device: {name!r} is not allowed; allowed: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainConfigError(f"device: {name!r} was asked but CUDA is not available here; use auto or cpu")
    if device.type not in ("cpu", "cuda"):
        raise TrainConfigError(f"device: {name!r} is not allowed; allowed: auto, cpu, cuda, cuda:N")
    return device


@dataclass
class TrainResult:
    """What one training produced (one archive record's training part).

    Attributes:
        genome_hash: stable hash of (space, canonical genome).
        status: ``"ok"`` or ``"failed"``; ``reason`` says why it failed.
        val_error: validation error of the compressed network after the last epoch (the masked training
            network's, which the slim network equals to float rounding; NaN when failed).
        train_loss: mean training loss per epoch.
        val_error_curve: validation error of the masked network per epoch.
        epochs: epochs completed.
        wall_time_s: seconds, including slimming and evaluation.
        device: where it ran; batch_size: the batch size that finished (after OOM halving).
        seed: training seed.
        macs, params: counted on the slim torch model.
    """

    genome_hash: str
    status: str = "ok"
    reason: str = ""
    val_error: float = float("nan")
    train_loss: list[float] = field(default_factory=list)
    val_error_curve: list[float] = field(default_factory=list)
    epochs: int = 0
    wall_time_s: float = 0.0
    device: str = "cpu"
    batch_size: int = 0
    seed: int = 0
    macs: int = 0
    params: int = 0


class TrainingFailed(Exception):
    """Ends a training early with a reason (becomes a failed result)."""


IMAGE_FORMAT = torch.channels_last
"""Memory format of image batches and convolution weights, on every device (module docstring)."""

EVAL_BATCH_SIZE = {"cuda": 1024, "cpu": 64}
"""Default evaluation batch per device type: large batches fill a GPU; on the CPU batches whose activations stay
in the caches are several times faster (Fashion-MNIST 28×28: 64 images 3.7× faster than 1024)."""


def evaluate(model: nn.Module, task: Task, split: str = "val", *, batch_size: int | None = None,
             device: torch.device | None = None) -> float:
    """Classification error of ``model`` on a split, in [0, 1]; NaN for an empty split (no test data).
    ``batch_size`` None: :data:`EVAL_BATCH_SIZE` of the device."""
    device = device or next(model.parameters()).device
    batch_size = batch_size or EVAL_BATCH_SIZE.get(device.type, EVAL_BATCH_SIZE["cuda"])
    was_training = model.training
    model.eval()
    wrong = torch.zeros((), dtype=torch.long, device=device)
    total = 0
    with torch.no_grad(), autocast_for(device):
        for x, y in getattr(task, split).batches(batch_size):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = model(prepare_inputs(task, x))
            wrong += (logits.argmax(dim=1) != y).sum()
            total += len(y)
    model.train(was_training)
    return float(wrong) / total if total else float("nan")


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA, a disabled autocast on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu",
                                                                                                      enabled=False)


def prepare_inputs(task: Task, x: torch.Tensor) -> torch.Tensor:
    """A raw batch normalised for the network (images in :data:`IMAGE_FORMAT`; token ids unchanged)."""
    x = task.normalize(x)
    return x.contiguous(memory_format=IMAGE_FORMAT) if x.dim() == 4 else x


def augment(x: torch.Tensor, shift: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Random per-sample translation (zero padding) and optional horizontal flip of images (N, C, H, W),
    as tensor ops; token ids (N, T) are returned unchanged."""
    if x.dim() != 4:
        return x
    n, _, h, w = x.shape
    if shift > 0:
        padded = F.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
        dx = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=gen, device=gen.device).to(x.device)
        rows = (dy + torch.arange(h, device=x.device).view(1, h, 1)).expand(n, h, w)
        cols = (dx + torch.arange(w, device=x.device).view(1, 1, w)).expand(n, h, w)
        batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
        x = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)
    if flip:
        flip_mask = torch.rand(n, generator=gen, device=gen.device).to(x.device) < 0.5
        x = torch.where(flip_mask.view(n, 1, 1, 1), x.flip(3), x)
    return x


def training_loss(logits, y, teacher_logits, config: TrainConfig) -> torch.Tensor:
    """Cross-entropy, mixed with distillation from ``teacher_logits`` when given (see the module docstring)."""
    ce = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
    if teacher_logits is None:
        return ce
    t = config.kd_temperature
    kd = F.kl_div(F.log_softmax(logits.float() / t, dim=1), F.log_softmax(teacher_logits.float() / t, dim=1),
                  reduction="batchmean", log_target=True) * t * t
    return (1 - config.kd_weight) * ce + config.kd_weight * kd


def _bypass_compression(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, Quantizer):
            module.bits = 32


def fit(model: nn.Module, task: Task, config: TrainConfig, result: TrainResult, *, batch_size: int,
        device: torch.device, seed: int, teacher: nn.Module | None = None,
        progress: Callable[[TrainResult], None] | None = None) -> None:
    """Train the full-width masked ``model`` in place (on ``device``); appends curves to ``result``
    and calls ``progress(result)`` after every epoch.

    Raises:
        TrainingFailed: the loss became non-finite.
    """
    gen = torch.Generator(device=device).manual_seed(seed)
    train = task.train
    steps_per_epoch = max(1, len(train) // batch_size)
    total_steps = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total_steps)))
    start, end = config.prune_start * total_steps, config.prune_end * total_steps
    update_at = sorted({min(total_steps - 1, math.ceil(start + (end - start) * (i + 1) / config.prune_updates))
                        for i in range(config.prune_updates)})
    step = 0
    for epoch in range(config.epochs):
        model.train()
        loss_sum = torch.zeros((), device=device)
        finite = torch.ones((), dtype=torch.bool, device=device)
        n_batches = 0
        for x, y in train.batches(batch_size, generator=gen):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            inputs = prepare_inputs(task, augment(x, config.shift, config.flip, gen))
            with autocast_for(device):
                logits = model(inputs)
                teacher_logits = None
                if teacher is not None:
                    with torch.no_grad():
                        teacher_logits = teacher(inputs)
            loss = training_loss(logits, y, teacher_logits, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach()
            finite &= torch.isfinite(loss.detach())
            n_batches += 1
            step += 1
            if config.compress and update_at and step >= update_at[0]:
                while update_at and step >= update_at[0]:
                    update_at.pop(0)
                update_masks(model, 1.0 if end <= start else (step - start) / (end - start))
        if not bool(finite):
            raise TrainingFailed(f"training loss became non-finite (nan/inf) in epoch {epoch + 1}")
        if config.compress and epoch == config.epochs - 1:
            update_masks(model, 1.0)  # the genome's final counts before the last validation (the slim network's)
        result.train_loss.append(float(loss_sum) / max(n_batches, 1))
        result.val_error_curve.append(evaluate(model, task, batch_size=config.eval_batch_size, device=device))
        result.epochs = epoch + 1
        if progress is not None:
            progress(result)


def train_candidate(layout: SpaceLayout, genome: np.ndarray, task: Task, config: TrainConfig | None = None, *,
                    seed: int = 0, teacher: nn.Module | None = None, start: nn.Module | None = None,
                    progress: Callable[[TrainResult], None] | None = None) -> tuple[TrainResult, nn.Module | None]:
    """Train one genome on ``task``; never raises for training failures.

    Args:
        layout: the compiled space of a network kind (mobilenet: an image task of its input shape and
            classes; sequence: a text task of its length, token ids and classes).
        genome: int (G,).
        task: data (see :func:`nasco.evo.train.datasets.load_task`).
        config: training settings (defaults: :class:`TrainConfig`).
        seed: seeds initialisation, shuffling and augmentation; same seed → same result on CPU.
        teacher: optional model for distillation (evaluated in eval mode, no gradients).
        start: optional network of ``genome`` to start from instead of a fresh initialisation (a copy is
            trained), e.g. the sub-network extracted from a supernet (:meth:`Supernet.extract`); a slim one
            is already pruned, so the pruning schedule has nothing left to remove.
        progress: called with the partial result after every epoch.

    Returns:
        (result, slim trained model — None when failed).

    Raises:
        NascoError: invalid genome, or a task that does not match the space (bad input).
    """
    config = config or TrainConfig()
    kind = network_kind(layout)
    genome = layout.as_genomes(genome)[0]
    problem = kind.mismatch(layout.space, task)
    if problem:
        raise NascoError(problem)
    device = resolve_device(config.device)
    started = time.perf_counter()
    batch_size = config.batch_size
    task = task.to(device)
    if teacher is not None:
        teacher = teacher.to(device).eval()
    while True:
        result = TrainResult(genome_hash=genome_hash(layout, genome), device=str(device), seed=seed,
                             batch_size=batch_size)
        try:
            if start is not None:
                model = copy.deepcopy(start)
            else:
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    torch.manual_seed(seed)
                    model = build_network(layout, genome, slim=False)
                if config.compress and (config.channel_multiple or config.depthwise_kernel) and kind.pad is not None:
                    model = kind.pad(model, layout, genome, config.channel_multiple, config.depthwise_kernel)
            for m in model.modules():
                if isinstance(m, ActQuantizer):
                    m.momentum = config.act_momentum
            if not config.compress:
                _bypass_compression(model)
            model = model.to(device, memory_format=IMAGE_FORMAT)
            fit(model, task, config, result, batch_size=batch_size, device=device, seed=seed, teacher=teacher,
                progress=progress)
            small = kind.slim(model, layout, genome) if config.compress else model
            small = small.to(memory_format=torch.contiguous_format)
            # The last epoch's validation of the masked network: the slim one computes the same logits (to float
            # rounding), and evaluating it would run a new network shape by shape (on CUDA: new cuDNN plans).
            result.val_error = result.val_error_curve[-1]
            result.macs, result.params = count_network(small, layout, device=str(device))
            result.wall_time_s = time.perf_counter() - started
            return result, small.eval()
        except torch.cuda.OutOfMemoryError:
            if batch_size == 1:
                return _failed(result, "CUDA out of memory at batch size 1", started), None
            if device.type == "cuda":
                torch.cuda.empty_cache()
            batch_size //= 2
        except TrainingFailed as err:
            return _failed(result, str(err), started), None
        except Exception as err:  # a candidate's failure is data, not a crash (docs/ARCHITECTURE.md §4)
            return _failed(result, f"{type(err).__name__}: {err}", started), None


def _failed(result: TrainResult, reason: str, started: float) -> TrainResult:
    result.status, result.reason = "failed", reason
    result.val_error = float("nan")
    result.wall_time_s = time.perf_counter() - started
    return result
