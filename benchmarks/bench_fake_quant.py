"""Activation fake quantization and evaluation batches on the CPU: torch's fused op against nasco's elementwise path.

Run: ``PYTHONSAFEPATH=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fake_quant.py``

torch's ``fake_quantize_per_tensor_affine`` CPU kernel is a scalar loop; nasco fake-quantizes activations on the
CPU with elementwise ops (:mod:`nasco.evo.train.quant`: the same values bit for bit, the same straight-through
gradient) and evaluates in batches of 64 instead of 1024 (activations that stay in the caches). Measured side by
side in one run, one torch thread:

1. **Op**: milliseconds per call on an activation of 64 × 144 × 28 × 28 (a 28×28 network's expanded block),
   forward without gradients and forward + backward; fused op vs elementwise.
2. **Evaluation**: seconds to validate compressed Fashion-MNIST 28×28 networks (the default space's random
   genomes of ``bench_supernet.py``, full width with pruning masks, 6,000 validation images): fused op at batch
   1024 (before) vs elementwise at batch 64 (after).
3. **Training**: one 4-epoch training of such a genome (``bench_supernet.py``'s Fashion recipe: 2,000 training
   images, validation after every epoch) before vs after; both must give the same validation error.

Needs Debian's ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # bench_common, also under PYTHONSAFEPATH=1
from bench_common import cpu_name, print_results
from bench_supernet import base_config, rank_genomes, setup

from nasco.evo.train import quant
from nasco.evo.train.models import build_network
from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate


def fused_fake_quant_act(x, lo, hi, bits, *, arithmetic=False):
    """torch's fused op on every device (what nasco ran before)."""
    scale, zero_point = quant.act_qparams_torch(lo, hi, bits)
    qmin, qmax = quant.act_qrange(bits)
    return torch.fake_quantize_per_tensor_affine(x.float(), scale, zero_point, qmin, qmax).to(x.dtype)


@contextmanager
def fused_op():
    """Within the block, the quantizers use torch's fused op."""
    elementwise = quant.fake_quant_act
    quant.fake_quant_act = fused_fake_quant_act
    try:
        yield
    finally:
        quant.fake_quant_act = elementwise


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
    print("genome  fused b1024  fused b64  elementwise b1024  elementwise b64  same error")
    before_s, after_s, same = [], [], True
    for i, genome in enumerate(genomes[:args.eval_genomes]):
        model = build_network(layout, genome, slim=False)
        with torch.no_grad():
            model.train()(task.normalize(task.train.batches(256).__iter__().__next__()[0]))  # calibrate ranges
        row, errors = [], []
        for op, batch in (("fused", 1024), ("fused", 64), ("elementwise", 1024), ("elementwise", 64)):
            with fused_op() if op == "fused" else nullcontext():
                started = time.perf_counter()
                errors.append(evaluate(model, task, batch_size=batch))
                row.append(time.perf_counter() - started)
        same &= len(set(errors)) == 1
        before_s.append(row[0])
        after_s.append(row[3])
        print(f"{i:6d} {row[0]:12.1f} {row[1]:10.1f} {row[2]:18.1f} {row[3]:16.1f}  {len(set(errors)) == 1}")
    eval_ratio = sum(before_s) / sum(after_s)
    print(f"before / after: {eval_ratio:.1f}×")

    print("\n## training: 4 epochs, 2,000 images, validation after every epoch (seconds)")
    recipe = dict(epochs=4, device="cpu")
    with fused_op():
        before, _ = train_candidate(layout, genomes[0], task, TrainConfig(**recipe, eval_batch_size=1024), seed=0)
    after, _ = train_candidate(layout, genomes[0], task, TrainConfig(**recipe), seed=0)
    train_ratio = before.wall_time_s / after.wall_time_s
    print(f"before (fused op, evaluation batch 1024): {before.wall_time_s:.1f} s, validation error "
          f"{before.val_error:.4f}")
    print(f"after (elementwise, evaluation batch 64): {after.wall_time_s:.1f} s, validation error "
          f"{after.val_error:.4f}; {train_ratio:.1f}× faster")
    print()
    print_results([("op_forward_speedup", op_forward, ">=", 3.0),
                   ("op_forward_backward_speedup", op_backward, ">=", 2.0),
                   ("evaluation_speedup_28x28", eval_ratio, ">=", 3.0),
                   ("training_speedup_28x28", train_ratio, ">=", 2.0),
                   ("same_errors", float(same and before.val_error == after.val_error), ">=", 1.0)], digits=2)


if __name__ == "__main__":
    main()
