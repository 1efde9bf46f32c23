"""Inspecting fronts: `nasco front`/`show` tables, CSV/JSON, plots, live state, and model export."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from campaign_helpers import synthetic_archive
from matplotlib.image import imread

from nasco.archive import HDF5Archive
from nasco.evo.cli.main import main
from nasco.evo.results.export import export_candidate, load_model
from nasco.evo.results.front import writer_is_live
from nasco.evo.search.task import load_task_spec
from nasco.evo.space.genome import genome_costs
from nasco.evo.space.layout import compile_space
from nasco.evo.space.toml_io import space_from_dict
from nasco.evo.train.model_stats import count_macs_params
from nasco.evo.train.trainer import TrainConfig, train_candidate


def _brute_front(path, objectives=("error", "bitops")):
    with HDF5Archive(path) as archive:
        ok = archive.table().filter(status="ok")
    F = np.column_stack([ok.column(n) for n in objectives])
    keep = [not np.any(np.all(F <= F[i], axis=1) & np.any(F < F[i], axis=1)) for i in range(len(F))]
    return set(ok.column("genome_hash")[np.array(keep)])


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return synthetic_archive(tmp_path_factory.mktemp("front") / "syn.h5", 400)


def test_front_json_equals_brute_force_and_csv_round_trips(archive, tmp_path, capsys):
    assert main(["front", str(archive), "--json", "-", "--knee"]) == 0
    data = json.loads(capsys.readouterr().out)
    hashes = {r["genome_hash"] for r in data["front"]}
    assert hashes == _brute_front(archive)
    assert data["knee"] in {r["index"] for r in data["front"]}
    assert [r["error"] for r in data["front"]] == sorted(r["error"] for r in data["front"])
    three = ("error", "bitops", "size_bits")
    assert main(["front", str(archive), "--objectives", "error,bitops,size", "--csv", str(tmp_path / "f.csv"),
                 "--json", str(tmp_path / "f.json"), "--sort", "bitops"]) == 0
    with open(tmp_path / "f.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    from_json = json.loads((tmp_path / "f.json").read_text())["front"]
    assert {r["genome_hash"] for r in rows} == _brute_front(archive, three)
    assert [r["genome_hash"] for r in rows] == [r["genome_hash"] for r in from_json]
    for r, j in zip(rows, from_json, strict=True):
        assert float(r["error"]) == j["error"] and int(r["macs"]) == j["macs"] and int(r["depth"]) == j["depth"]
        assert float(r["mean_w_bits"]) == pytest.approx(j["mean_w_bits"])
    assert [int(r["bitops"]) for r in rows] == sorted(int(r["bitops"]) for r in rows)
    out = capsys.readouterr().out
    assert "finished (no writer)" in out and "size (KiB)" in out


def _assert_real_image(path, min_size=(300, 300)):
    image = imread(path)
    assert image.shape[0] >= min_size[0] and image.shape[1] >= min_size[1]
    gray = image[..., :3].mean(axis=2)
    assert gray.std() > 0.05  # not blank
    assert (gray < 0.5).mean() > 0.002  # some dark ink: axes, labels, points


@pytest.mark.parametrize("objectives", ["error,bitops", "error,bitops,size"])
def test_front_plot_is_a_real_image(archive, tmp_path, objectives):
    png = tmp_path / "front.png"
    assert main(["front", str(archive), "--objectives", objectives, "--plot", str(png), "--knee"]) == 0
    _assert_real_image(png, (400, 500 if objectives.count(",") == 1 else 1200))


def test_show_prints_layers_and_plots(archive, tmp_path, capsys):
    with HDF5Archive(archive) as a:
        table = a.table()
    h = table.rows["genome_hash"][0].decode()
    png = tmp_path / "show.png"
    assert main(["show", str(archive), h[:6], "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert h in out and "stages[0].blocks[0].depthwise" in out and "val error per epoch" in out
    _assert_real_image(png, (600, 500))
    assert main(["show", str(archive), "#3"]) == 0
    assert main(["show", str(archive), "zzzz"]) == 2
    assert "no record has this genome hash" in capsys.readouterr().err
    assert main(["show", str(archive), "#100000"]) == 2


def test_front_errors_and_live_state(tmp_path, archive, capsys):
    assert writer_is_live(archive) is False
    with HDF5Archive(archive, "a"):
        assert writer_is_live(archive) is True
        assert main(["front", str(archive)]) == 0  # a reader works while the writer is open (SWMR)
        assert "live: a campaign is writing this archive" in " ".join(capsys.readouterr().out.split())
    assert main(["front", str(archive), "--objectives", "error,latency"]) == 2
    assert main(["front", str(archive), "--task", "cifar10"]) == 2
    assert "no successful records" in capsys.readouterr().err
    assert main(["front", str(tmp_path / "missing.h5")]) == 2


def test_front_of_a_run_folder_is_the_retrained_final_front(tiny_run, capsys):
    folder, config, _, _ = tiny_run
    assert main(["front", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"final front, retrained at {config.training.final_epochs} epochs" in out and "test error (%)" in out
    assert main(["front", str(folder), "--search", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stage"] == "search" and data["fidelity"] == config.training.epochs
    assert all(r["test_error"] is None for r in data["front"])  # search records have no test error


def test_export_reproduces_the_archived_candidate(tiny_run, tmp_path):
    folder, config, _, _ = tiny_run
    with HDF5Archive(folder / "archive.h5") as a:
        table, spaces, tasks = a.table(), dict(a.spaces), dict(a.tasks)
    ok = np.flatnonzero((table.rows["status"] == 0) & (table.rows["fidelity"] == config.training.epochs))
    i = int(ok[0])
    record = table.record(i)
    result = export_candidate(folder / "archive.h5", f"#{i}", tmp_path / "exported", formats=["packed", "qdq", "float"])
    assert result.reproduced is True and result.val_error == record.values["error"]
    checks = {c.label: c for c in result.checks}
    assert set(checks) == {"qdq", "plain float", "float"} and checks["qdq"].split == "test"
    assert checks["float"].max_abs_diff < 1e-4 and checks["float"].ort_accuracy == checks["float"].torch_accuracy
    assert all(c.latency_ms[1] > 0 and c.latency_ms[32] > 0 for c in result.checks)
    assert result.packed.tensor_bytes * 8 - record.values["size_bits"] == \
        8 * (result.packed.act_param_bytes + result.packed.padding_bytes)
    assert {p.name for p in (tmp_path / "exported").iterdir()} == {
        "genome.json", "model.pt", "record.json", "README.md", "model.packed", "model.qdq.onnx", "model.onnx"}
    model = load_model(tmp_path / "exported")
    layout = compile_space(space_from_dict(spaces[record.space_id]["space"]))
    task = load_task_spec({**tasks[record.task_id], "root": "", "download": False})
    again, slim = train_candidate(layout, record.genome, task, TrainConfig(**tasks[record.task_id]["train"],
                                  epochs=record.fidelity, device="cpu"), seed=record.seed)
    assert again.val_error == record.values["error"]
    x = task.normalize(task.val.x[:64])
    with torch.no_grad():
        assert torch.equal(model(x), slim(x))
    macs, params = count_macs_params(model, layout.space.input_shape, device="cpu")
    costs = genome_costs(layout, record.genome)[0]
    assert (macs, params) == (costs[0], costs[1])
    meta = json.loads((tmp_path / "exported" / "record.json").read_text())
    assert meta["reproduced"] is True and 0 <= meta["test_error"] <= 1
    assert meta["deployment"]["packed"]["file_bytes"] == (tmp_path / "exported" / "model.packed").stat().st_size
    assert [c["label"] for c in meta["deployment"]["checks"]] == ["qdq", "plain float", "float"]
    assert "load_model" in (tmp_path / "exported" / "README.md").read_text()


def test_export_refuses_failed_records_unreproduced_errors_and_unknown_formats(tiny_run, tmp_path, capsys, monkeypatch):
    import shutil

    from nasco.archive import Record
    from nasco.evo.results import export as export_module
    from nasco.evo.space.genome import sample_genomes

    folder = tiny_run[0]
    archive = tmp_path / "archive.h5"
    shutil.copy(folder / "archive.h5", archive)
    with HDF5Archive(archive, "a") as a:
        record = a.table().filter(status="ok").record(0)
        layout = compile_space(space_from_dict(dict(a.spaces)[record.space_id]["space"]))
        genome = next(g for g in sample_genomes(layout, np.random.default_rng(0), 50)  # a genome not archived
                      if not (a.table().genome_matrix() == g).all(axis=1).any())
        a.append([Record(genome, record.space_id, record.task_id, record.fidelity,
                         {k: float("nan") for k in record.values}, status="failed", reason="loss is NaN")])
        failed = a.table().record(len(a.table()) - 1).genome_hash
    assert main(["export", str(archive), failed, "-o", str(tmp_path / "x")]) == 2
    assert "failed in the search (loss is NaN)" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["export", str(archive), record.genome_hash, "-o", str(tmp_path / "x"), "--format", "tflite"]) == 2
    assert "allowed for mobilenet networks are packed, qdq, float" in capsys.readouterr().err

    real = export_module.train_candidate

    def drifted(*args, **kwargs):  # a retraining that does not reproduce the archived error
        result, model = real(*args, **kwargs)
        result.val_error += 0.01
        return result, model

    monkeypatch.setattr(export_module, "train_candidate", drifted)
    assert main(["export", str(archive), record.genome_hash, "-o", str(tmp_path / "x")]) == 2
    assert "not reproduced" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["export", str(archive), record.genome_hash, "-o", str(tmp_path / "x"), "--allow-mismatch",
                 "--format", "packed,qdq"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "NOT reproduced (exported on request)" in out and "model.packed" in out and "model.qdq.onnx" in out
    assert "size objective" in out and "ms batch 32" in out


def test_the_campaign_front_table_shows_final_errors_only_when_some_member_was_retrained():
    from rich.console import Console

    from nasco.evo.search.front_table import show_front

    row = {"genome_hash": "ab12", "search_error": 0.25, "final_val_error": "", "test_error": "", "cost": 3.0}
    for retrained, shown in ((False, False), (True, True)):
        console = Console(record=True, width=200)
        rows = [row, {**row, "genome_hash": "cd34", "final_val_error": 0.2, "test_error": 0.21}] if retrained \
            else [row]
        show_front(console, rows, ["cost"], "front")
        text = console.export_text()
        assert "search err" in text and "cost" in text
        assert ("final val err" in text) is shown and ("test err" in text) is shown
        if retrained:
            assert "0.2100" in text and "—" in text  # the member without a retraining says so
