"""Export an archived candidate as a usable model: retrain it exactly, save it, optionally as ONNX.

The archive keeps no weights. A record's task description holds the data options and the
training recipe, and the record holds its fidelity and training seed, so retraining with
:func:`nasco.evo.train.trainer.train_candidate` reproduces the archived network exactly on the CPU
(the export checks that the validation error equals the archived one). ``retrain_epochs``
trains longer instead (a new fidelity). :func:`load_model` rebuilds the slim, fake-quantized
network and loads the weights with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasco.archive import HDF5Archive
from nasco.evo.errors import NascoError
from nasco.evo.results.front import find_record
from nasco.evo.search.task import load_task_spec
from nasco.evo.space.layout import compile_space
from nasco.evo.space.toml_io import space_from_dict
from nasco.evo.train.candidate_io import load_candidate, save_candidate
from nasco.evo.train.quant import arithmetic_fake_quant
from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate

README_SNIPPET = """# nasco candidate {hash}

Task `{task}`, trained for {epochs} epochs (seed {seed}); validation error {val_error:.4f}{test}.
Objectives and costs: see `record.json`. Per-layer bits and prune ratios: `nasco show ARCHIVE {hash}`.

```python
from nasco.evo import load_model
model = load_model("{folder}")   # slim network, fake-quantized at its bit-widths, eval mode
logits = model(images)          # images: float32 (N, {shape}), normalised like the task
```
"""


@dataclass
class ExportResult:
    folder: Path
    val_error: float
    archived_error: float
    reproduced: bool | None  # None when retrained at another fidelity
    onnx_max_abs_diff: float | None = None


def load_model(folder: str | Path, *, device: str = "cpu") -> torch.nn.Module:
    """The exported (or ``nasco train -o``) model of ``folder``, in eval mode."""
    return load_candidate(folder, device=device)[2]


def export_candidate(archive_path: str | Path, ident: str, out: str | Path, *, root: str | None = None,
                     download: bool = False, retrain_epochs: int | None = None, onnx: bool = False,
                     task: str | None = None) -> ExportResult:
    """Retrain record ``ident`` (hash, prefix or #row) and write it to ``out``.

    Raises:
        NascoError: unknown record, a task not described by a campaign, a failed retraining.
    """
    with HDF5Archive(archive_path) as archive:
        table, spaces, tasks = archive.table(), dict(archive.spaces), dict(archive.tasks)
    record = table.record(find_record(table, ident, task))
    description = tasks.get(record.task_id, {})
    if "dataset" not in description or "train" not in description:
        scored_by = f" (its records were scored by the {description['evaluator']} evaluator)" \
            if "evaluator" in description else ""
        raise NascoError(f"task {record.task_id!r} has no dataset and training recipe in the archive{scored_by}; "
                         "nasco export retrains records of the train evaluator — for others, retrain with "
                         "nasco train --genome")
    loaded = load_task_spec({**description, "root": root or "", "download": download})
    layout = compile_space(space_from_dict(spaces[record.space_id]["space"]))
    teacher = load_model(description["teacher"]) if description.get("teacher") else None
    epochs = retrain_epochs or record.fidelity
    config = TrainConfig(**description["train"], epochs=epochs, device="cpu")
    previous = torch.get_num_threads()
    torch.set_num_threads(description.get("threads", previous))  # the recipe's threads: same arithmetic
    try:
        result, model = train_candidate(layout, record.genome, loaded, config, seed=record.seed, teacher=teacher)
    finally:
        torch.set_num_threads(previous)
    if model is None:
        raise NascoError(f"retraining {record.genome_hash} failed: {result.reason}")
    archived = float(record.values["error"])
    reproduced = bool(np.isclose(result.val_error, archived, rtol=0, atol=1e-12)) if epochs == record.fidelity \
        else None
    folder = save_candidate(out, layout, record.genome, model)
    test_error = evaluate(model, loaded, "test", device=torch.device("cpu"))
    info = {"genome_hash": record.genome_hash, "task": record.task_id, "epochs": epochs, "seed": record.seed,
            "val_error": result.val_error, "test_error": None if math.isnan(test_error) else test_error,
            "archived_fidelity": record.fidelity,
            "archived_val_error": archived, "reproduced": reproduced, "values": record.values}
    (folder / "record.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (folder / "README.md").write_text(README_SNIPPET.format(
        hash=record.genome_hash, task=record.task_id, epochs=epochs, seed=record.seed, val_error=result.val_error,
        test="" if math.isnan(test_error) else f", test error {test_error:.4f}", folder=folder,
        shape="×".join(map(str, loaded.input_shape))),
        encoding="utf-8")
    export = ExportResult(folder, result.val_error, archived, reproduced)
    if onnx:
        x = loaded.normalize(next(loaded.val.batches(64))[0].cpu())
        export.onnx_max_abs_diff = export_onnx(model, x, folder / "model.onnx")
    return export


def export_onnx(model: torch.nn.Module, batch: torch.Tensor, path: Path) -> float:
    """Write ``model`` as ONNX and return the largest |logit difference| of ONNX Runtime vs torch on ``batch``."""
    try:
        import onnxruntime
    except ImportError:
        raise NascoError("--onnx needs onnx and onnxruntime: pip install 'nasco[onnx]'") from None
    model = model.eval()
    with arithmetic_fake_quant(model):
        torch.onnx.export(model, (batch[:1],), str(path), input_names=["images"], output_names=["logits"],
                          dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=65536)}}, dynamo=True,
                          verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(None, {"images": batch.numpy()})[0]
    with torch.no_grad():
        torch_logits = model(batch).numpy()
    return float(np.abs(onnx_logits - torch_logits).max())
