"""Measure an exported model as it is deployed: ONNX Runtime accuracy and latency, packed file size.

Every number is measured on this machine: accuracy of the ONNX file under ONNX Runtime (CPU,
default graph optimisations — what a user's session does) against the torch fake-quantized
network on the same images, the largest logit difference, and the median latency of one
``run`` at batch 1 and 32 with a fixed number of intra-op threads (1 by default: comparable
between machines and with the training recipe).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nasco.evo.errors import NascoError
from nasco.evo.train.packed import PackedModel, payload_bytes

ACCURACY_TOLERANCE_PP = 0.5  # ONNX Runtime vs torch, percentage points of accuracy
LATENCY_BATCHES = (1, 32)


@dataclass
class OnnxCheck:
    """One ONNX file run by ONNX Runtime next to the torch model.

    Attributes:
        label: what the file is (``qdq``, ``float``, ``plain float``).
        path: the file, or None for a graph measured without being written.
        split: images compared (``test``, or ``val`` when the task has no test split); n: how many.
        torch_accuracy, ort_accuracy: accuracy in [0, 1]; max_abs_diff: largest |logit difference|.
        latency_ms: batch size → median milliseconds per ``run`` (``threads`` intra-op threads).
    """

    label: str
    path: Path | None
    file_bytes: int
    split: str
    n: int
    torch_accuracy: float
    ort_accuracy: float
    max_abs_diff: float
    threads: int
    latency_ms: dict[int, float] = field(default_factory=dict)

    @property
    def accuracy_gap_pp(self) -> float:
        """|ONNX Runtime − torch| accuracy in percentage points."""
        return abs(self.ort_accuracy - self.torch_accuracy) * 100

    @property
    def agrees(self) -> bool:
        return self.accuracy_gap_pp <= ACCURACY_TOLERANCE_PP


@dataclass
class PackedSize:
    """Bytes of a packed checkpoint next to the ``size`` objective.

    ``tensor_bytes − objective_bytes`` is ``act_param_bytes`` (each quantized input's scale and zero
    point) plus ``padding_bytes`` (every layer's codes start on a byte).
    """

    path: Path
    file_bytes: int
    tensor_bytes: int
    header_bytes: int
    objective_bytes: float
    act_param_bytes: int
    padding_bytes: float

    @property
    def tensor_excess(self) -> float:
        """(tensor bytes − objective bytes) / objective bytes."""
        return self.tensor_bytes / self.objective_bytes - 1

    @property
    def file_excess(self) -> float:
        return self.file_bytes / self.objective_bytes - 1


def packed_size(path: Path, packed: PackedModel, objective_bits: int) -> PackedSize:
    """Sizes of the packed file at ``path`` (holding ``packed``) against ``objective_bits``."""
    tensor_bytes, header_bytes = payload_bytes(path)
    act_params = 8 * sum(1 for layer in packed.layers if layer.act_scale is not None)
    padding = sum(-(-layer.codes.size * layer.w_bits // 8) - layer.codes.size * layer.w_bits / 8
                  for layer in packed.layers if layer.quantized)
    return PackedSize(path, path.stat().st_size, tensor_bytes, header_bytes, objective_bits / 8, act_params, padding)


def ort_session(model, *, threads: int = 1):
    """An ONNX Runtime CPU session of ``model`` (a path or serialised bytes) with fixed threads."""
    try:
        import onnxruntime
    except ImportError:
        raise NascoError("measuring ONNX files needs onnxruntime: pip install 'nasco[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    source = str(model) if isinstance(model, Path) else model
    try:
        return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types (e.g. an opset it does not know)
        raise NascoError(f"ONNX Runtime {onnxruntime.__version__} cannot load the model: {str(err)[:300]}") from None


def median_latency_ms(session, x: np.ndarray, *, budget_s: float = 0.5, max_runs: int = 500) -> float:
    """Median wall milliseconds of ``session.run`` on ``x`` (3 warm-up runs, then up to ``budget_s``)."""
    feed = {session.get_inputs()[0].name: x}
    for _ in range(3):
        session.run(None, feed)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < 5 or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def check_onnx(label: str, model, torch_model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
               split: str, threads: int = 1, path: Path | None = None, chunk: int = 512) -> OnnxCheck:
    """Run ``model`` (path or bytes) under ONNX Runtime on ``images`` (N, C, H, W) and compare with torch."""
    session = ort_session(path if path is not None else model, threads=threads)
    name = session.get_inputs()[0].name
    torch_model = torch_model.eval()
    worst, right_ort, right_torch = 0.0, 0, 0
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            x, y = images[start:start + chunk], labels[start:start + chunk].numpy()
            ort_logits = session.run(None, {name: x.numpy()})[0]
            torch_logits = torch_model(x).numpy()
            worst = max(worst, float(np.abs(ort_logits - torch_logits).max()))
            right_ort += int((ort_logits.argmax(1) == y).sum())
            right_torch += int((torch_logits.argmax(1) == y).sum())
    n = len(images)
    size = path.stat().st_size if path is not None else len(model)
    check = OnnxCheck(label, path, size, split, n, right_torch / n, right_ort / n, worst, threads)
    for batch in LATENCY_BATCHES:
        x = images[:batch].numpy()
        if len(x) < batch:  # fewer images than the batch: repeat them
            x = np.resize(x, (batch, *x.shape[1:]))
        check.latency_ms[batch] = median_latency_ms(session, x)
    return check
