"""Where a GPU's time goes when nasco trains candidates, new genomes and seen ones (CIFAR-10 (JPEG)).

Run on a machine with CUDA (the CPU works too, for a check of the script):
``PYTHONSAFEPATH=1 python benchmarks/bench_gpu.py [--device cuda] [--json OUT.json]``

The search recipe as a campaign trains it (QAT, gradual pruning, bf16 autocast on CUDA, batch 64,
1 epoch of 5,000 images, validation on 2,000), in one long-lived process as a campaign's worker is:

1. ``stream``: ``--genomes`` new genomes of the default 32×32 space one after another, then the first
   ``--seen`` of them again: seconds and images/s of each, the GPU's busy share (NVML), and how many of
   each genome's convolution shapes the process had not run before;
2. ``stream512``: the same at batch 512 (fewer, larger steps);
3. ``profile``: torch's profiler over a few training steps of a new genome and of a seen one: the ops
   with the most host and device time, kernel launches and host synchronisations per step;
4. ``no_cudnn``: new genomes with cuDNN disabled, to tell how much of a new genome's cost is cuDNN's
   per-shape planning;
5. ``before``: the ``stream`` stage with the nasco installed at ``--before`` (the code before a change,
   e.g. ``pip install --target DIR`` of an earlier commit), in a subprocess, side by side in one run;
6. ``shapes`` (no training, any device): over a campaign-like stream of ``4 × --genomes`` new genomes,
   the distinct convolution shapes and the new ones per genome, exact and padded;
7. ``padded16``, ``padded32k7``: the ``stream`` stage on other new genomes with ``channel_multiple`` 16,
   or 32 and ``depthwise_kernel`` 7 (channel counts rounded up, depthwise kernels run at 7×7, the
   additions masked; ``nasco.evo.train.padding``): fewer new convolution shapes per genome;
8. ``faithful``: ``--genomes`` genomes trained exact with seeds 0 and 1 and padded (32, 7×7) with seed 0:
   the padded errors must differ from the exact ones no more than two seeds' do.

Each stage stops when its share of ``--budget`` seconds is spent. A diagnosis of today's trainer:
targets come with the faster path.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_common import cpu_name
from cifar10_jpeg import decoded_npz

from nasco.evo import compile_space, default_space, sample_genomes
from nasco.evo.space.genome import decode
from nasco.evo.train.builder import padded
from nasco.evo.train.datasets import load_task
from nasco.evo.train.trainer import TrainConfig, train_candidate

DATA = Path(__file__).parent / "data" / "cifar10_u8_7000.npz"  # 5,000 training + 2,000 validation images
PADDED = {"padded16": (16, 0), "padded32k7": (32, 7)}  # stage: (channel_multiple, depthwise_kernel)


class BusyMonitor:
    """The GPU's busy share (NVML utilisation: time with a kernel running) sampled every 50 ms."""

    def __init__(self, device: torch.device) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._handle = None
        if device.type == "cuda":
            try:
                import pynvml

                pynvml.nvmlInit()
                self._nvml = pynvml
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(device.index or 0)
            except Exception:  # no NVML: no busy share
                self._handle = None

    def __enter__(self) -> BusyMonitor:
        if self._handle is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.samples.append(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu)

    def __exit__(self, *exc) -> None:
        self._stop.set()

    @property
    def busy(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


def conv_shapes(layout, genome, multiple: int = 0, depthwise_kernel: int = 0) -> set[tuple]:
    """The convolution shapes the full-width (masked) training network of ``genome`` runs, channel counts
    rounded up to ``multiple`` (the stem's image channels stay) and depthwise kernels to ``depthwise_kernel``."""
    def up(c: int) -> int:
        return padded(c, multiple)

    rows = decode(layout, genome).rows()
    return {(r["kind"], r["c_in"] if i == 0 else up(r["c_in"]), up(r["c_out"]),
             max(r["kernel"], depthwise_kernel) if r["groups"] > 1 else r["kernel"], r["stride"],
             up(r["groups"]) if r["groups"] > 1 else 1, r["h_in"]) for i, r in enumerate(rows)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_timed(layout, genome, task, config: TrainConfig, seed: int, device: torch.device) -> dict:
    sync(device)
    started = time.perf_counter()
    result, _ = train_candidate(layout, genome, task, config, seed=seed)
    sync(device)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "images_per_s": len(task.train) * config.epochs / wall, "status": result.status,
            "val_error": result.val_error}


def stream(name: str, layout, genomes, task, batch: int, seen: int, device: torch.device, budget: float,
           known: set, out: dict, multiple: int = 0, depthwise_kernel: int = 0) -> None:
    config = TrainConfig(epochs=1, batch_size=batch, device=str(device), channel_multiple=multiple,
                         depthwise_kernel=depthwise_kernel)
    rows = []
    deadline = time.monotonic() + budget
    with BusyMonitor(device) as monitor:
        for i, genome in enumerate(genomes):
            if time.monotonic() > deadline:
                break
            shapes = conv_shapes(layout, genome, multiple, depthwise_kernel)
            row = {"genome": i, "run": "new", "new_shapes": len(shapes - known), "shapes": len(shapes),
                   **train_timed(layout, genome, task, config, i, device)}
            known |= shapes
            rows.append(row)
            print(f"{name} new {i}: {row['wall_s']:.2f} s, {row['images_per_s']:.0f} images/s, "
                  f"{row['new_shapes']}/{row['shapes']} conv shapes new, val error {row['val_error']:.3f}", flush=True)
        for i in range(min(seen, len(rows))):
            if time.monotonic() > deadline:
                break
            row = {"genome": i, "run": "seen", **train_timed(layout, genomes[i], task, config, i, device)}
            rows.append(row)
            print(f"{name} seen {i}: {row['wall_s']:.2f} s, {row['images_per_s']:.0f} images/s", flush=True)
    new = [r for r in rows if r["run"] == "new"]
    again = [r for r in rows if r["run"] == "seen"]
    out[name] = {"batch": batch, "rows": rows, "busy_percent": monitor.busy,
                 "new_images_per_s": len(new) * len(task.train) / max(sum(r["wall_s"] for r in new), 1e-9),
                 "seen_images_per_s": len(again) * len(task.train) / max(sum(r["wall_s"] for r in again), 1e-9)}
    print(f"{name}: {len(new)} new genomes {out[name]['new_images_per_s']:.0f} images/s, {len(again)} seen "
          f"{out[name]['seen_images_per_s']:.0f} images/s, GPU busy {monitor.busy:.0f} %", flush=True)


def shape_counts(layout, genomes, out: dict) -> None:
    """Distinct convolution shapes over the stream and new shapes per genome, exact and with each padding."""
    out["shapes"] = {}
    for name, (multiple, kernel) in {"exact": (0, 0), **PADDED}.items():
        known: set = set()
        new = []
        for genome in genomes:
            shapes = conv_shapes(layout, genome, multiple, kernel)
            new.append(len(shapes - known))
            known |= shapes
        late = new[len(new) // 2:]
        out["shapes"][name] = {"distinct": len(known), "new_per_genome": new}
        print(f"shapes {name:>10}: {len(known)} distinct in {len(genomes)} new genomes; new per genome: first 4 "
              f"{new[:4]}, second half mean {np.mean(late):.2f} ({sum(n > 0 for n in late)} of {len(late)} "
              f"genomes with any)", flush=True)


def faithful(layout, genomes, task, device: torch.device, budget: float, out: dict) -> None:
    """Validation errors of exact (seeds 0, 1) and padded (seed 0) trainings of the same genomes."""
    rows = []
    deadline = time.monotonic() + budget
    for i, genome in enumerate(genomes):
        if time.monotonic() > deadline:
            break
        errors = [train_timed(layout, genome, task, TrainConfig(epochs=1, device=str(device), **padding), seed,
                              device)["val_error"]
                  for seed, padding in ((0, {}), (1, {}), (0, {"channel_multiple": 32, "depthwise_kernel": 7}))]
        rows.append(errors)
        print(f"faithful {i}: exact {errors[0]:.3f} (seed 1: {errors[1]:.3f}), padded {errors[2]:.3f}", flush=True)
    if rows:
        e = np.array(rows)
        out["faithful"] = {"rows": rows, "seed_spread": float(np.abs(e[:, 0] - e[:, 1]).mean()),
                           "padding_effect": float(np.abs(e[:, 0] - e[:, 2]).mean()),
                           "mean_exact": float(e[:, 0].mean()), "mean_padded": float(e[:, 2].mean())}
        f = out["faithful"]
        print(f"faithful: {len(rows)} genomes, mean error exact {f['mean_exact']:.4f} padded {f['mean_padded']:.4f}; "
              f"mean |exact - padded| {f['padding_effect']:.4f} vs mean |seed 0 - seed 1| {f['seed_spread']:.4f}",
              flush=True)


def small_task(task, images: int, val: int):
    """The task with its first ``images`` training and ``val`` validation examples (a few profiled steps)."""
    return dataclasses.replace(task, train=task.train.subset(torch.arange(min(images, len(task.train)))),
                               val=task.val.subset(torch.arange(min(val, len(task.val)))))


def profile(layout, genomes, task, batch: int, device: torch.device, out: dict) -> None:
    """Profile a few steps of a new genome and of the same genome again."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    steps = 10
    tiny = small_task(task, steps * batch, 512)
    config = TrainConfig(epochs=1, batch_size=batch, device=str(device))
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    report = {}
    for run in ("new", "seen"):
        sync(device)
        with torch_profile(activities=activities) as prof:
            started = time.perf_counter()
            train_candidate(layout, genomes[0], tiny, config, seed=0)
            sync(device)
            wall = time.perf_counter() - started
        events = prof.key_averages()
        device_time = {e.key: getattr(e, "self_device_time_total", 0.0) for e in events}
        cpu_time = {e.key: e.self_cpu_time_total for e in events}
        counts = {e.key: e.count for e in events}
        launches = sum(c for k, c in counts.items() if "LaunchKernel" in k or k == "cuLaunchKernel")
        syncs = {k: c for k, c in counts.items()
                 if "Synchronize" in k or k in ("aten::item", "aten::_local_scalar_dense")}
        top_cpu = sorted(cpu_time.items(), key=lambda kv: -kv[1])[:15]
        top_device = sorted(device_time.items(), key=lambda kv: -kv[1])[:15]
        report[run] = {"wall_s": wall, "steps": steps, "kernel_launches": launches,
                       "launches_per_step": launches / steps, "syncs": syncs,
                       "cpu_total_ms": sum(cpu_time.values()) / 1e3, "device_total_ms": sum(device_time.values()) / 1e3,
                       "top_cpu_ms": [(k, v / 1e3) for k, v in top_cpu],
                       "top_device_ms": [(k, v / 1e3) for k, v in top_device]}
        print(f"\nprofile, {run} genome, {steps} steps of {batch} + validation of 512: {wall:.2f} s, "
              f"{launches} kernel launches ({launches / steps:.0f} per step incl. validation), syncs {syncs}")
        print("  most host time (self, ms):", ", ".join(f"{k} {v / 1e3:.1f}" for k, v in top_cpu[:10]))
        if device.type == "cuda":
            print("  most device time (self, ms):", ", ".join(f"{k} {v / 1e3:.1f}" for k, v in top_device[:10]))
    out["profile"] = report


def before(site: str, args: argparse.Namespace, budget: float, out: dict) -> None:
    """The stream stage run by the nasco installed at ``site`` (a subprocess; this script, that package)."""
    target = Path(os.environ.get("TMPDIR", "/tmp")) / "bench_gpu_before.json"
    command = [sys.executable, __file__, "--device", args.device, "--genomes", str(args.genomes), "--seen",
               str(args.seen), "--images", str(args.images), "--budget", str(budget), "--stages", "stream",
               "--json", str(target)]
    env = {**os.environ, "PYTHONPATH": site}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=budget + 300)
    print("\n".join(f"before: {line}" for line in done.stdout.splitlines() if line.startswith(("stream", "device"))))
    if done.returncode != 0:
        print(f"before: failed ({done.stderr[-1500:]})")
        return
    out["before"] = json.loads(target.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--genomes", type=int, default=8, help="new genomes per stream stage")
    parser.add_argument("--seen", type=int, default=2, help="genomes trained again")
    parser.add_argument("--images", type=int, default=5000, help="training images (validation: 2,000)")
    parser.add_argument("--budget", type=float, default=240, help="seconds for all stages")
    parser.add_argument("--stages", default="shapes,stream,padded16,padded32k7,stream512,profile,no_cudnn")
    parser.add_argument("--json", help="write the measurements here")
    parser.add_argument("--before", metavar="SITE", help="a folder holding an earlier nasco (the 'before' stage)")
    args = parser.parse_args()
    device = torch.device(args.device)
    started = time.perf_counter()
    path = decoded_npz(DATA, train_images=7000)
    decode_s = time.perf_counter() - started
    task = load_task("npz", root=path, val_fraction=2 / 7, seed=0)
    if args.images < len(task.train):
        task = dataclasses.replace(task, train=task.train.subset(torch.arange(args.images)))
    layout = compile_space(default_space(task.input_shape, task.num_classes))
    genomes = sample_genomes(layout, np.random.default_rng(0), 6 * args.genomes + 4)
    sync(device)
    started = time.perf_counter()
    torch.nn.functional.conv2d(torch.zeros(1, 3, 8, 8, device=device), torch.zeros(4, 3, 3, 3, device=device))
    sync(device)
    context_s = time.perf_counter() - started
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    print(f"device {name}, torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"{torch.get_num_threads()} threads; CIFAR-10 (JPEG): {len(task.train)} training, {len(task.val)} "
          f"validation images (decoded in {decode_s:.1f} s); first CUDA call {context_s:.2f} s", flush=True)
    out: dict = {"device": name, "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                 "train_images": len(task.train), "val_images": len(task.val), "context_s": context_s}
    stages = [s for s in args.stages.split(",") if s]
    share = args.budget / max(len(stages), 1)
    known: set = set()
    n = args.genomes
    for stage in stages:
        if stage == "shapes":
            shape_counts(layout, genomes[:4 * n], out)
        elif stage == "faithful":
            faithful(layout, genomes[:n], task, device, share, out)
        elif stage == "stream":
            stream("stream", layout, genomes[:n], task, 64, args.seen, device, share, known, out)
        elif stage == "stream512":
            stream("stream512", layout, genomes[n:2 * n], task, 512, args.seen, device, share, known, out)
        elif stage == "profile":
            profile(layout, genomes[2 * n:2 * n + 1], task, 64, device, out)
        elif stage == "before" and args.before:
            before(args.before, args, share, out)
        elif stage in PADDED:
            first = (4 + list(PADDED).index(stage)) * n
            stream(stage, layout, genomes[first:first + n], task, 64, args.seen, device, share, known, out,
                   *PADDED[stage])
        elif stage == "no_cudnn":
            with torch.backends.cudnn.flags(enabled=False):
                stream("no_cudnn", layout, genomes[3 * n:4 * n], task, 64, 0, device, share, known, out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1), encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
