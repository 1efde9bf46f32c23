"""Export an archived candidate as a deployable model: retrain it exactly, save it, measure it.

The archive keeps no weights. A record's task description holds the data options and the
training recipe, and the record holds its fidelity and training seed, so retraining with
:func:`nasco.evo.train.trainer.train_candidate` reproduces the archived network exactly on the CPU
(the export checks that the validation error equals the archived one). ``retrain_epochs``
trains longer instead (a new fidelity). :func:`load_model` rebuilds the slim, fake-quantized
network and loads the weights with ``torch.load(weights_only=True)``. The deployable formats —
the packed integer checkpoint, QDQ ONNX and float ONNX — are measured as deployed by
:mod:`nasco.evo.results.deploy`.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nasco.archive import HDF5Archive
from nasco.evo.errors import NascoError
from nasco.evo.results.deploy import OnnxCheck, PackedSize, check_onnx, packed_size
from nasco.evo.results.front import find_record
from nasco.evo.search.task import load_task_spec
from nasco.evo.space.genome import costs_dict
from nasco.evo.space.kinds import compile_any, kind_of
from nasco.evo.space.toml_io import space_from_dict
from nasco.evo.train.candidate_io import load_candidate, save_candidate
from nasco.evo.train.models import network_kind
from nasco.evo.train.packed import PACKED_FILE, read_packed, save_packed
from nasco.evo.train.qdq import float_model, qdq_model
from nasco.evo.train.quant import arithmetic_fake_quant
from nasco.evo.train.trainer import TrainConfig, evaluate, train_candidate

README_SNIPPET = """# nasco candidate {hash}

Task `{task}`, trained for {epochs} epochs (seed {seed}); validation error {val_error:.4f}{test}.
Objectives and costs: see `record.json`. Per-layer bits and prune ratios: `nasco show ARCHIVE {hash}`.

```python
from nasco.evo import load_model
model = load_model("{folder}")   # slim network, fake-quantized at its bit-widths, eval mode
logits = model(inputs)          # inputs: {inputs}
```

Deployable files, when exported: `model.packed` (integer weights at their bit-widths, BatchNorm
folded; safetensors layout, see `nasco.evo.train.packed`), `model.qdq.onnx` (QuantizeLinear /
DequantizeLinear graph for ONNX Runtime), `model.onnx` (float ops simulating the quantization).
Their measured accuracy, size and latency are in `record.json` under `deployment`.
"""


FORMAT_FILES = {"packed": PACKED_FILE, "qdq": "model.qdq.onnx", "float": "model.onnx"}


@dataclass
class ExportResult:
    folder: Path
    val_error: float
    archived_error: float
    reproduced: bool | None  # None when retrained at another fidelity
    packed: PackedSize | None = None
    checks: list[OnnxCheck] = field(default_factory=list)


def load_model(folder: str | Path, *, device: str = "cpu") -> torch.nn.Module:
    """The exported (or ``nasco train -o``) model of ``folder``, in eval mode."""
    return load_candidate(folder, device=device)[2]


def _check_formats(formats: Sequence[str] | None, layout) -> list[str]:
    """The formats to write (None: the network kind's default), each one its kind supports."""
    network = network_kind(layout)
    if formats is None:
        return list(network.default_formats)
    unknown = [f for f in formats if f not in network.export_formats]
    if unknown or not formats:
        raise NascoError(f"export formats {list(formats)}: allowed for {kind_of(layout.space)} networks are "
                         f"{', '.join(network.export_formats)} (one or more; the packed integer checkpoint and the "
                         "QDQ graph are built for conv layers)")
    return list(dict.fromkeys(formats))


def export_candidate(archive_path: str | Path, ident: str, out: str | Path, *, root: str | None = None,
                     download: bool = False, retrain_epochs: int | None = None, formats: Sequence[str] | None = None,
                     allow_mismatch: bool = False, measure: bool = True, threads: int = 1,
                     task: str | None = None) -> ExportResult:
    """Retrain record ``ident`` (hash, prefix or #row), write it to ``out`` and measure what was written.

    ``out`` always gets ``genome.json``, ``model.pt`` (state dict), ``record.json`` and ``README.md``;
    ``formats`` adds ``packed`` (integer checkpoint, :mod:`~nasco.evo.train.packed`), ``qdq`` (QDQ ONNX
    built from that checkpoint, :mod:`~nasco.evo.train.qdq`) and ``float`` (torch's ONNX export with
    the fake quantization as float ops); None: ``packed`` for image networks, none for sequence
    networks (which export ``float`` only). With ``measure``, each ONNX file is run by ONNX Runtime on the
    test split (``threads`` intra-op threads) against torch, and ``qdq`` is timed against the plain float
    graph of the same network.

    Raises:
        NascoError: unknown record or format, a failed record, a task not described by a campaign, a failed
            retraining, or a retraining that does not reproduce the archived error (unless ``allow_mismatch``).
    """
    with HDF5Archive(archive_path) as archive:
        table, spaces, tasks = archive.table(), dict(archive.spaces), dict(archive.tasks)
    record = table.record(find_record(table, ident, task))
    if record.status != "ok":
        raise NascoError(f"record {record.genome_hash} failed in the search ({record.reason or 'no reason given'}): "
                         "there is no trained network to export; pick a record of the front (nasco front)")
    description = tasks.get(record.task_id, {})
    if "dataset" not in description or "train" not in description:
        scored_by = f" (its records were scored by the {description['evaluator']} evaluator)" \
            if "evaluator" in description else ""
        raise NascoError(f"task {record.task_id!r} has no dataset and training recipe in the archive{scored_by}; "
                         "nasco export retrains records of the train evaluator — for others, retrain with "
                         "nasco train --genome")
    layout = compile_any(space_from_dict(spaces[record.space_id]["space"]))
    formats = _check_formats(formats, layout)
    loaded = load_task_spec({**description, "root": root or "", "download": download})
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
    if reproduced is False and not allow_mismatch:
        raise NascoError(f"retraining {record.genome_hash} gave validation error {result.val_error:.4f}, the archive "
                         f"holds {archived:.4f}: not reproduced (another CPU, thread count or torch version than the "
                         "campaign's?); nothing was written — export it anyway with --allow-mismatch")
    folder = save_candidate(out, layout, record.genome, model)
    split = "test" if len(loaded.test) else "val"
    test_error = evaluate(model, loaded, "test", device=torch.device("cpu"))
    export = ExportResult(folder, result.val_error, archived, reproduced)
    images, labels = _split_inputs(loaded, split)
    export.packed, export.checks = write_deployables(folder, layout, record.genome, model, images, labels,
                                                     split=split, formats=formats, measure=measure, threads=threads)
    info = {"genome_hash": record.genome_hash, "task": record.task_id, "epochs": epochs, "seed": record.seed,
            "val_error": result.val_error, "test_error": None if math.isnan(test_error) else test_error,
            "archived_fidelity": record.fidelity,
            "archived_val_error": archived, "reproduced": reproduced, "values": record.values,
            "deployment": _deployment_info(export)}
    if loaded.is_text:
        info["vocabulary"] = ["<pad>", "<unk>", *loaded.vocabulary]
    (folder / "record.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
    (folder / "README.md").write_text(README_SNIPPET.format(
        hash=record.genome_hash, task=record.task_id, epochs=epochs, seed=record.seed, val_error=result.val_error,
        test="" if math.isnan(test_error) else f", test error {test_error:.4f}", folder=folder,
        inputs=_input_description(loaded)),
        encoding="utf-8")
    return export


def write_deployables(folder: Path, layout, genome: np.ndarray, model: torch.nn.Module, images: torch.Tensor,
                      labels: torch.Tensor, *, split: str, formats: Sequence[str], measure: bool = True,
                      threads: int = 1) -> tuple[PackedSize | None, list[OnnxCheck]]:
    """Write the ``formats`` files of a trained slim ``model`` into ``folder`` and measure them on ``images``
    (network inputs: normalised images (N, C, H, W) or token ids (N, T)) and ``labels``: the packed size, and
    each ONNX file under ONNX Runtime vs torch."""
    packed_info, checks = None, []
    if "packed" in formats or "qdq" in formats:
        packed_path = folder / PACKED_FILE
        packed = save_packed(packed_path, layout, genome, model)
        packed_info = packed_size(packed_path, packed, costs_dict(layout, genome)["size_bits"])
        if "qdq" in formats:
            packed = read_packed(packed_path)  # the ONNX holds exactly what the checkpoint holds
            qdq_path = folder / FORMAT_FILES["qdq"]
            input_shape = tuple(images.shape[1:])
            save_onnx(qdq_model(packed, input_shape), qdq_path)
            if measure:
                checks.append(check_onnx("qdq", None, model, images, labels, split=split, threads=threads,
                                         path=qdq_path))
                plain = float_model(packed, input_shape).SerializeToString()
                checks.append(check_onnx("plain float", plain, model, images, labels, split=split, threads=threads))
        if "packed" not in formats:
            packed_path.unlink()
            packed_info = None
    if "float" in formats:
        float_path = folder / FORMAT_FILES["float"]
        export_onnx(model, images[:64], float_path)
        if measure:
            checks.append(check_onnx("float", None, model, images, labels, split=split, threads=threads,
                                     path=float_path))
    return packed_info, checks


def _input_description(task) -> str:
    if task.is_text:
        return f"int64 token ids (N, {task.input_shape[0]}), 0 padding, 1 unknown (vocabulary in record.json)"
    return f"float32 images (N, {'×'.join(map(str, task.input_shape))}), normalised like the task"


def _split_inputs(task, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Network inputs (normalised float32 images (N, C, H, W), or token ids (N, T)) and labels (N,) of a
    split, on the CPU."""
    xs, ys = zip(*((task.normalize(x.cpu()), y.cpu()) for x, y in getattr(task, split).batches(1024)), strict=True)
    return torch.cat(xs), torch.cat(ys)


def _deployment_info(export: ExportResult) -> dict:
    info: dict = {"checks": [{**{k: v for k, v in vars(c).items() if k != "path"},
                              "file": c.path.name if c.path else None,
                              "latency_ms": {str(b): ms for b, ms in c.latency_ms.items()}} for c in export.checks]}
    if export.packed is not None:
        info["packed"] = {k: (v.name if isinstance(v, Path) else v) for k, v in vars(export.packed).items()}
    return info


def save_onnx(model, path: Path) -> None:
    """Write an ``onnx.ModelProto``."""
    import onnx

    onnx.save(model, str(path))


def export_onnx(model: torch.nn.Module, batch: torch.Tensor, path: Path) -> None:
    """Write ``model`` as ONNX through torch's exporter, the fake quantization as float ops (``batch``: an
    example input; the batch dimension stays dynamic)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise NascoError("ONNX export needs onnx and onnxruntime: pip install 'nasco[onnx]'") from None
    model = model.eval()
    argument = next(iter(inspect.signature(model.forward).parameters))
    with arithmetic_fake_quant(model):
        torch.onnx.export(model, (batch[:1],), str(path), input_names=["tokens" if argument == "ids" else "images"],
                          output_names=["logits"], dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes={argument: {0: torch.export.Dim("batch", min=1, max=65536)}})
