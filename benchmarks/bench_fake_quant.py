"""CPU training speed: activation fake quantization, evaluation batches and memory format, before vs after.

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fake_quant.py``

torch's ``fake_quantize_per_tensor_affine`` CPU kernel is a scalar loop; nasco fake-quantizes activations on the
CPU with elementwise ops (:mod:`nasco.evo.train.quant`: the same values bit for bit, the same straight-through
gradient), evaluates in batches of 64 instead of 1024 (activations that stay in the caches), and keeps images and
convolution weights channels_last as on CUDA (before, evaluation ran contiguous; training already ran channels_last
by accident: the augmentation's gather returns channels_last strides). Measured side by side in one run, one torch
thread:

1. **Op**: milliseconds per call on an activation of 64 × 144 × 28 × 28 (a 28×28 network's expanded block),
   forward without gradients and forward + backward; fused op vs elementwise.
2. **Evaluation**: seconds to validate compressed Fashion-MNIST 28×28 networks (the default space's random
   genomes of ``bench_supernet.py``, full width with pruning masks, 6,000 validation images), one change at a
   time: fused op, batch 1024, contiguous (before); elementwise op; batch 64; channels_last (after). All must
   give the same error.
3. **Training**: one 4-epoch training of such a genome (``bench_supernet.py``'s Fashion recipe: 2,000 training
   images, validation after every epoch) before vs after (channels_last convolutions may sum in another order,
   so the two validation errors may differ by a few images).

Needs Debian's ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results
from bench_supernet import base_config, rank_genomes, setup

from nasco.evo.train import quant, trainer
from nasco.evo.train.models import build_network
from nasco.evo.train.trainer import TrainConfig, train_candidate


def fused_fake_quant_act(x, lo, hi, bits, *, arithmetic=False):
    """torch's fused op on every device (what nasco ran before)."""
    scale, zero_point = quant.act_qparams_torch(lo, hi, bits)
    qmin, qmax = quant.act_qrange(bits)
    return torch.fake_quantize_per_tensor_affine(x.float(), scale, zero_point, qmin, qmax).to(x.dtype)


@contextmanager
def before():
    """Within the block, the quantizers use torch's fused op and images are contiguous (the code before)."""
    elementwise, image_format = quant.fake_quant_act, trainer.IMAGE_FORMAT
    quant.fake_quant_act, trainer.IMAGE_FORMAT = fused_fake_quant_act, torch.contiguous_format
    try:
        yield
    finally:
        quant.fake_quant_act, trainer.IMAGE_FORMAT = elementwise, image_format


def validate(model, task, batch_size: int, fused: bool, image_format) -> tuple[float, float]:
    """(error, seconds) of ``model`` on the validation split with that op, batch and memory format."""
    model = model.to(memory_format=image_format).eval()
    started = time.perf_counter()
    wrong = 0
    with torch.no_grad(), before() if fused else nullcontext():
        for x, y in task.val.batches(batch_size):
            wrong += int((model(task.normalize(x).contiguous(memory_format=image_format)).argmax(1) != y).sum())
    return wrong / len(task.val), time.perf_counter() - started


def ms_per_call(fn, repeats: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats * 1000


def op_times(repeats: int) -> dict[str, float]:
    x = torch.randn(64, 144, 28, 28) * 2
    lo, hi = x.amin(), x.amax()
    xg = x.clone().requires_grad_()
    times = {}
    for name, fn in (("fused", fused_fake_quant_act), ("elementwise", quant.fake_quant_act)):
        with torch.no_grad():
            times[f"{name} forward"] = ms_per_call(lambda fn=fn: fn(x, lo, hi, 4), repeats)
        times[f"{name} forward+backward"] = ms_per_call(lambda fn=fn: fn(xg, lo, hi, 4).sum().backward(), repeats)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-genomes", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"# bench_fake_quant — {datetime.datetime.now():%Y-%m-%d %H:%M}, {cpu_name()}, 1 torch thread; "
          f"torch {torch.__version__}")
    times = op_times(args.repeats)
    print("\n## op: 64 × 144 × 28 × 28 activation, 4 bits (ms per call)")
    for name, ms in times.items():
        print(f"{name:32s} {ms:8.2f}")
    op_forward = times["fused forward"] / times["elementwise forward"]
    op_backward = times["fused forward+backward"] / times["elementwise forward+backward"]
    print(f"speed-up: forward {op_forward:.1f}×, forward+backward {op_backward:.1f}×")

    config = base_config("fashion", argparse.Namespace(fashion_train=2000, device="cpu", supernet_epochs=0),
                         Path("/tmp/unused"))
    layout, task, _, _ = setup(config)
    genomes = rank_genomes(layout, max(args.eval_genomes, 1))
    print(f"\n## evaluation: {len(task.val)} validation images, full-width networks with pruning masks (seconds)")
    steps = (("fused op, b1024, contiguous", True, 1024, torch.contiguous_format),
             ("elementwise", False, 1024, torch.contiguous_format),
             ("b64", False, 64, torch.contiguous_format),
             ("channels_last", False, 64, torch.channels_last))
    print("genome  " + "  ".join(f"{name:>27s}" for name, *_ in steps) + "  same error")
    seconds, same = np.zeros((args.eval_genomes, len(steps))), True
    for i, genome in enumerate(genomes[:args.eval_genomes]):
        model = build_network(layout, genome, slim=False)
        with torch.no_grad():
            model.train()(task.normalize(next(iter(task.train.batches(256)))[0]))  # calibrates the ranges
        errors = []
        for j, (_, fused, batch, image_format) in enumerate(steps):
            error, seconds[i, j] = validate(model, task, batch, fused, image_format)
            errors.append(error)
        same &= len(set(errors)) == 1
        print(f"{i:6d}  " + "  ".join(f"{t:27.1f}" for t in seconds[i]) + f"  {len(set(errors)) == 1}")
    total = seconds.sum(axis=0)
    print("before / each step: " + ", ".join(f"{total[0] / t:.2f}×" for t in total[1:]))
    eval_ratio = total[0] / total[-1]

    print("\n## training: 4 epochs, 2,000 images, validation after every epoch (seconds)")
    recipe = dict(epochs=4, device="cpu")
    with before():
        old, _ = train_candidate(layout, genomes[0], task, TrainConfig(**recipe, eval_batch_size=1024), seed=0)
    new, _ = train_candidate(layout, genomes[0], task, TrainConfig(**recipe), seed=0)
    train_ratio = old.wall_time_s / new.wall_time_s
    print(f"before (fused op, evaluation batch 1024, contiguous evaluation): {old.wall_time_s:.1f} s, validation "
          f"error {old.val_error:.4f}")
    print(f"after (elementwise, evaluation batch 64, channels_last): {new.wall_time_s:.1f} s, validation error "
          f"{new.val_error:.4f}; {train_ratio:.1f}× faster")
    print()
    print_results([("op_forward_speedup", op_forward, ">=", 3.0),
                   ("op_forward_backward_speedup", op_backward, ">=", 2.0),
                   ("evaluation_speedup_28x28", eval_ratio, ">=", 3.0),
                   ("training_speedup_28x28", train_ratio, ">=", 2.0),
                   ("same_evaluation_errors", float(same), ">=", 1.0)], digits=2)


if __name__ == "__main__":
    main()
