"""Bad input and hostile conditions end in one clear line: no traceback, no data loss, no unsafe CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from campaign_helpers import register_synthetic, synthetic_archive, synthetic_records, tiny_config, write_config

from nasco.archive import HDF5Archive
from nasco.evo.cli.main import main
from nasco.evo.search.campaign import RESULT_COLUMNS

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
NASCO = [sys.executable, "-m", "nasco.evo.cli.main"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error:"), err
    return err


# ------------------------------------------------------------------ CSV injection
def test_csv_cells_that_spreadsheets_would_run_are_neutralised(tmp_path, capsys):
    path = synthetic_archive(tmp_path / "a.h5", 40, campaign="=HYPERLINK(\"x\")", task="+digits")
    out = tmp_path / "front.csv"
    assert main(["front", str(path), "--csv", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and all(r["campaign"] == "'=HYPERLINK(\"x\")" for r in rows)
    exported = tmp_path / "all.csv"
    assert main(["archive", "export", str(path), "--format", "csv", "-o", str(exported)]) == 0
    rows = list(csv.DictReader(exported.open(encoding="utf-8")))
    assert all(r["campaign_id"] == "'=HYPERLINK(\"x\")" and r["task_id"] == "'+digits" for r in rows)
    assert any(r["reason"] == "diverged" for r in rows)  # other text is untouched
    capsys.readouterr()
    assert main(["archive", "export", str(path), "--format", "csv", "-o", "-"]) == 0  # '-' is stdout
    text = capsys.readouterr().out
    assert text.startswith("genome_hash,") and len(list(csv.DictReader(io.StringIO(text)))) == len(rows)


# ------------------------------------------------------------------ bad values → one line
@pytest.mark.parametrize(("argv", "message"), [
    (["space", "--random", "100000000"], r"--random: 100000000 is not allowed; allowed: 1\.\.1000"),
    (["space", "--genome", "99999999999999999999999,1,2"], r"gene value 99999999999999999999999 is out of range"),
    (["front", "ARCHIVE", "--watch", "-1"], r"--watch: -1\.0 is not allowed; allowed: seconds > 0"),
])
def test_absurd_command_line_values(argv, message, capsys, tmp_path):
    archive = synthetic_archive(tmp_path / "a.h5", 20)
    assert main([str(archive) if a == "ARCHIVE" else a for a in argv]) == 2
    assert re.search(message, _error_line(capsys))


def test_absurd_config_and_space_files(tmp_path, capsys):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[campaign]\nname = "caf\xe9"\n')
    assert main(["run", str(bad)]) == 2
    assert "not UTF-8 text (byte 22)" in _error_line(capsys)
    huge = tmp_path / "huge.toml"
    huge.write_text("[search]\npopulation = 100000000000000000000\n", encoding="utf-8")
    assert main(["run", str(huge), "--out", str(tmp_path / "never")]) == 2
    assert "search.population: 100000000000000000000 is not allowed; allowed: integers 4..100,000" in \
        _error_line(capsys)
    assert not (tmp_path / "never").exists()
    stages = "\n".join(["input_shape = [1, 28, 28]", "num_classes = 10"]
                       + ["[[stages]]\nstride = 1\ndepth = [1]\nwidth = [8]"] * 10_000)
    (tmp_path / "big.toml").write_text(stages, encoding="utf-8")
    started = time.monotonic()
    assert main(["space", "--space", str(tmp_path / "big.toml")]) == 2
    assert "stages: 10000 stages is not allowed; allowed: a list of 1..64 stages" in _error_line(capsys)
    assert time.monotonic() - started < 30


def test_unwritable_outputs_are_one_line(tmp_path, capsys):
    archive = synthetic_archive(tmp_path / "a.h5", 20)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for argv in (["front", str(archive), "--plot", str(blocker / "front.png")],
                 ["front", str(archive), "--csv", str(tmp_path / "missing" / "f.csv")],
                 ["archive", "export", str(archive), "--format", "jsonl", "-o", str(blocker / "x.jsonl")],
                 ["report", str(archive), "-o", str(tmp_path)],
                 ["run", "--out", str(blocker / "run")]):
        assert main(argv) == 1, argv
        err = _error_line(capsys)
        assert ("Not a directory" in err or "No such file" in err or "Is a directory" in err), (argv, err)


def test_config_error_found_after_the_folder_was_made_leaves_no_campaign(tmp_path, capsys):
    """A latency table that is not a table is found once the run folder exists: the folder must not
    stay behind looking like a campaign (a corrected config would then be refused as 'another config')."""
    lut = tmp_path / "lut.json"
    lut.write_text('{"entries": "not a table"}', encoding="utf-8")
    folder = tmp_path / "run"
    config = tiny_config(folder, objectives={"names": ["error", "latency"], "latency_lut": str(lut)})
    path = write_config(tmp_path / "c.toml", config)
    assert main(["run", str(path)]) == 2
    assert "not a latency table written by nasco latency profile" in _error_line(capsys)
    assert not folder.exists()


def test_teacher_that_is_not_a_state_dict(tmp_path):
    import torch

    from nasco.evo import compile_space, default_space
    from nasco.evo.space.genome import decode, fixed_genome
    from nasco.evo.train.builder import build_model
    from nasco.evo.train.candidate_io import WEIGHTS_FILE, CandidateFileError, load_candidate, save_candidate

    layout = compile_space(default_space((1, 8, 8), 10))
    genome = fixed_genome(layout, arch="min")
    folder = save_candidate(tmp_path / "t", layout, genome, build_model(decode(layout, genome), slim=True))
    weights = folder / WEIGHTS_FILE
    for content, pattern in ((b"not a zip", "not a PyTorch state dict"),
                             (None, "holds a list, not a state dict"),
                             ({"x": torch.zeros(1)}, "the weights do not fit the network")):
        if isinstance(content, bytes):
            weights.write_bytes(content)
        else:
            torch.save(content if content is not None else [1, 2], weights)
        with pytest.raises(CandidateFileError, match=pattern):
            load_candidate(folder)


# ------------------------------------------------------------------ live readers
def _wait_for(path: Path, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text(encoding="utf-8") if path.exists() else ""
        if text in out:
            return out
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in:\n{out[-3000:]}")


def test_watch_waits_for_the_first_commit_and_follows_a_recovered_file(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    log = tmp_path / "watch.txt"
    with log.open("w") as out:
        # Ctrl-C must reach it even where this test runs with SIGINT ignored (a shell's background job):
        # Python installs its KeyboardInterrupt handler only when SIGINT is not ignored at startup
        watcher = subprocess.Popen([*NASCO, "front", str(folder), "--watch", "0.2"], stdout=out, stderr=out, env=ENV,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for(log, "waiting:")  # no archive yet
        layout, records = synthetic_records(60)
        with HDF5Archive(folder / "archive.h5", "a", columns=RESULT_COLUMNS) as writer:
            register_synthetic(writer, layout, "digits")
            _wait_for(log, "no successful records yet")  # open, not yet committed: the watcher waits on
            writer.append(records[:20])
            _wait_for(log, "of 19 records")
        replacement = tmp_path / "recovered.h5"
        with HDF5Archive(replacement, "a", columns=RESULT_COLUMNS) as other:
            register_synthetic(other, layout, "digits")
            other.append(records[:40])
        os.replace(replacement, folder / "archive.h5")  # what crash recovery does
        _wait_for(log, "of 37 records")
        assert watcher.poll() is None
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)


def test_reader_follows_a_replaced_file(tmp_path):
    layout, records = synthetic_records(30)
    path = tmp_path / "a.h5"
    with HDF5Archive(path, "a", columns=RESULT_COLUMNS) as writer:
        register_synthetic(writer, layout, "digits")
        writer.append(records[:5])
    reader = HDF5Archive(path)
    assert len(reader) == 5
    fresh = tmp_path / "fresh.h5"
    with HDF5Archive(fresh, "a", columns=RESULT_COLUMNS) as writer:
        register_synthetic(writer, layout, "digits")
        writer.append(records[:12])
    os.replace(fresh, path)
    assert reader.refresh() == 12 and len(reader.find(records[11].genome_hash)) == 1
    reader.close()


# ------------------------------------------------------------------ disk full
def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_write_that_fails_during_a_campaign_stops_with_one_line(tmp_path):
    """A full disk used to end a campaign in traceback spam and a segfault (exit 139); a file-size
    limit makes HDF5's own write fail the same way, deterministically."""
    folder = tmp_path / "run"
    path = write_config(tmp_path / "c.toml", tiny_config(folder))
    done = subprocess.run([*NASCO, "run", str(path)], preexec_fn=_file_size_limit(120_000), capture_output=True,
                          text=True, timeout=600, env=ENV)
    assert done.returncode == 1, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "writing failed (file too large)" in lines[0] and "are safe" in lines[0], lines
    assert not [p.name for p in folder.iterdir() if p.suffix in (".tmp", ".recovering")]
    committed = int(lines[0].split("the ")[1].split(" records")[0])
    # once the limit is lifted, resume repairs the file, keeps what was committed and finishes
    done = subprocess.run([*NASCO, "resume", str(folder)], capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    with HDF5Archive(folder / "archive.h5") as archive:
        assert len(archive) > committed
    assert "Traceback" not in done.stderr


def test_outputs_on_a_full_disk_name_their_path_and_leave_nothing(tmp_path):
    """report, --csv, --plot, export, merge and init on a full disk (a file-size limit): one line naming
    the file, exit 1, and no 0-byte or half-written file left (an empty init output used to block the next)."""
    archive = synthetic_archive(tmp_path / "a.h5", 60)
    warm = tmp_path / "warm"  # Numba's kernel cache is written on first use: fill it before the limit applies
    warm.mkdir()
    assert main(["report", str(archive), "-o", str(warm / "r.html")]) == 0
    assert main(["front", str(archive), "--csv", str(warm / "f.csv"), "--plot", str(warm / "f.png")]) == 0
    out = tmp_path / "out"
    out.mkdir()
    commands = {"report.html": ["report", str(archive), "-o", "OUT"],
                "front.csv": ["front", str(archive), "--csv", "OUT"],
                "front.png": ["front", str(archive), "--plot", "OUT"],
                "all.csv": ["archive", "export", str(archive), "--format", "csv", "-o", "OUT"],
                "nasco.toml": ["init", "OUT"]}
    for name, argv in commands.items():
        target = out / name
        done = subprocess.run([*NASCO, *[str(target) if a == "OUT" else a for a in argv]], capture_output=True,
                              text=True, timeout=120, env=ENV, preexec_fn=_file_size_limit(500))
        assert done.returncode == 1, (name, done.stderr[-2000:])
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in done.stderr, (name, lines)
        assert "too large" in lines[0], (name, lines)
        assert sorted(p.name for p in out.iterdir()) == [], (name, sorted(p.name for p in out.iterdir()))
    assert main(["init", str(out / "nasco.toml")]) == 0  # nothing blocks it once there is room


def test_merge_on_a_full_disk_leaves_no_half_archive(tmp_path, monkeypatch, capsys):
    import shutil
    from collections import namedtuple

    archive = synthetic_archive(tmp_path / "a.h5", 30)
    (tmp_path / "out").mkdir()
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 2**20, 2**20))
    assert main(["archive", "merge", str(tmp_path / "out" / "m.h5"), str(archive)]) == 1
    err = _error_line(capsys)
    assert f"{tmp_path / 'out' / 'm.h5'}: merging failed (the disk is (nearly) full" in err, err
    assert "nothing was written there" in err
    assert not any((tmp_path / "out").iterdir())


def test_too_little_free_space_is_refused_before_hdf5_writes(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from nasco.archive import ArchiveWriteError

    layout, records = synthetic_records(10)
    path = tmp_path / "a.h5"
    writer = HDF5Archive(path, "a", columns=RESULT_COLUMNS)
    register_synthetic(writer, layout, "digits")
    writer.append(records[:3])
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage(10**9, 10**9 - 2**20, 2**20))
    with pytest.raises(ArchiveWriteError, match=r"nearly\) full: 1\.0 MiB free.* the 3 committed records are safe"):
        writer.append(records[3:])
    writer.close()
    monkeypatch.undo()
    with HDF5Archive(path) as reader:
        assert len(reader) == 3
    assert np.isnan(reader.table().column("test_error")).all()


# ------------------------------------------------------------------ third round: errors found up front
GENES_SPACE = {"kind": "genes", "genes": {"x": [0, 1, 2, 3], "y": ["a", "b"]}}


def genes_metrics(candidate):
    return {"error": 0.1 + candidate.genes["x"] / 10, "cost": float(candidate.genes["x"] + 1)}


def _genes_config(tmp_path, name="g", **sections):
    from nasco.evo.search.config import config_from_dict

    data = {"campaign": {"name": name, "out": str(tmp_path / name)}, "space": dict(GENES_SPACE),
            "objectives": {"names": ["error", "metric:cost"]},
            "search": {"population": 4, "offspring": 2, "generations": 1, "surrogate": False},
            "training": {"final_epochs": 0},
            "evaluator": {"kind": "python", "entry": "test_cli_reliability:genes_metrics",
                          "metrics": ["error", "cost"]}}
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    return config_from_dict(data)


def test_builtin_columns_as_metric_objectives_are_refused_before_any_evaluation(tmp_path, capsys):
    """metric:macs on a genes space used to evaluate everything, then fail with KeyError at the front (on
    every resume too): refused by config validation, naming the collision."""
    for name in ("metric:macs", "metric:error", "metric:size_bits"):
        for where in ({"objectives": {"names": ["error", name]}}, {"constraints": {"limits": {name: 1.0}}}):
            config = _genes_config(tmp_path).to_dict()
            for section, values in where.items():
                config[section].update(values)
            path = tmp_path / "c.toml"
            path.write_text(__import__("tomli_w").dumps(config), encoding="utf-8")
            assert main(["run", str(path)]) == 2
            err = _error_line(capsys)
            assert f"objective {name!r} is not allowed" in err and "built-in objective" in err, err
            assert not (tmp_path / "g").exists()


@pytest.mark.parametrize("value", ["inf", "1e10", "nan"])
def test_watch_beyond_a_day_is_refused(tmp_path, capsys, value):
    archive = synthetic_archive(tmp_path / "a.h5", 20)
    assert main(["front", str(archive), "--watch", value]) == 2
    assert "allowed: seconds > 0, at most 86,400" in _error_line(capsys)


def test_damaged_checkpoint_is_one_clear_error(tmp_path, capsys):
    folder = tmp_path / "g"
    run = _genes_config(tmp_path)
    from nasco.evo import run_campaign

    sys.path.insert(0, str(Path(__file__).parent))
    run_campaign(run)
    np.savez(folder / "checkpoint.npz", X=np.array([object(), 1], dtype=object), allow_pickle=True)
    assert main(["resume", str(folder)]) == 2
    err = _error_line(capsys)
    assert "the checkpoint is damaged" in err and "delete checkpoint.json and checkpoint.npz" in err, err
    (folder / "checkpoint.json").write_text("{not json", encoding="utf-8")
    assert main(["resume", str(folder)]) == 2
    assert "the checkpoint is damaged" in _error_line(capsys)


def test_csv_header_cells_are_neutralised(tmp_path, capsys):
    """A metric named like a formula reached the header row of front --csv and archive export unescaped."""
    from nasco.evo import run_campaign

    sys.path.insert(0, str(Path(__file__).parent))
    evil = "=cmd|' /C calc'!A0"
    result = run_campaign(_genes_config(tmp_path, objectives={"names": ["error", f"metric:{evil}"]},
                                        evaluator={"entry": "test_cli_reliability:evil_metrics",
                                                   "metrics": ["error", evil]}))
    for argv in (["front", str(result.folder), "--csv", str(tmp_path / "f.csv")],
                 ["archive", "export", str(result.folder / "archive.h5"), "--format", "csv", "-o",
                  str(tmp_path / "e.csv")]):
        assert main(argv) == 0
    for name in ("f.csv", "e.csv", "g/front.csv"):
        header = next(csv.reader((tmp_path / name).open(encoding="utf-8")))
        assert "'" + evil in header and evil not in header, (name, header)


def evil_metrics(candidate):
    return {"error": 0.1 + candidate.genes["x"] / 10, "=cmd|' /C calc'!A0": float(candidate.genes["x"])}


def test_a_space_with_nothing_to_search_is_refused_and_leaves_nothing(tmp_path, capsys):
    for genes, words in (({"x": [1], "y": ["a"]}, "no gene has a choice (every gene (x, y) has one value)"),
                         ({"x": [1, 2], "y": ["a"]}, "the space holds at most 2 genomes; allowed: a wider space"),
                         ({"x": [1, 2, 3], "y": ["a", "b"]}, "search.population = 8: the space holds at most 6 "
                                                             "genomes; allowed: search.population ≤ 6")):
        config = _genes_config(tmp_path, space={"genes": genes}, search={"population": 8})
        path = write_config(tmp_path / "c.toml", config)
        assert main(["run", str(path)]) == 2
        assert words in _error_line(capsys)
        assert not (tmp_path / "g").exists()  # a corrected config then starts afresh


def test_an_edited_run_folder_config_is_refused_on_resume(tmp_path, capsys):
    from nasco.evo import run_campaign

    sys.path.insert(0, str(Path(__file__).parent))
    result = run_campaign(_genes_config(tmp_path))
    stored = (result.folder / "config.toml").read_text(encoding="utf-8")
    front = (result.folder / "front.csv").read_bytes()
    (result.folder / "config.toml").write_text(stored.replace("test_cli_reliability:genes_metrics",
                                                              "test_cli_reliability:evil_metrics"), encoding="utf-8")
    assert main(["resume", str(result.folder)]) == 2
    err = _error_line(capsys)
    assert "config.toml was edited after the campaign started (evaluator.entry: " in err, err
    assert "'test_cli_reliability:genes_metrics' → 'test_cli_reliability:evil_metrics'" in err
    assert (result.folder / "front.csv").read_bytes() == front  # nothing rewritten
    (result.folder / "config.toml").write_text(stored.replace("workers = 0", "workers = 1"), encoding="utf-8")
    assert main(["resume", str(result.folder)]) == 0  # [executor] may change


def test_constraints_nothing_meets_end_with_the_reason(tmp_path, capsys):
    from nasco.evo import run_campaign

    sys.path.insert(0, str(Path(__file__).parent))
    result = run_campaign(_genes_config(tmp_path, constraints={"limits": {"metric:cost": -1}}))
    assert not len(result.front)
    assert "no candidate met the limit on cost ≤ -1 (the lowest was 1)" in result.empty_front
    path = write_config(tmp_path / "c.toml", _genes_config(tmp_path, "h", constraints={"min_accuracy": 0.9999}))
    capsys.readouterr()
    assert main(["run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "error: the campaign found no feasible candidate" in err and "constraints.min_accuracy = 0.9999 (the " \
        "best accuracy was 0.9000)" in err, err


def test_a_teacher_that_cannot_be_loaded_is_refused_before_the_first_candidate(tmp_path, capsys):
    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "genome.json").write_text("{}", encoding="utf-8")
    (teacher / "model.pt").write_bytes(b"not a state dict")
    folder = tmp_path / "run"
    path = write_config(tmp_path / "c.toml", tiny_config(folder, training={"teacher": str(teacher)}))
    started = time.monotonic()
    assert main(["run", str(path)]) == 2
    assert "training.teacher:" in _error_line(capsys) and not folder.exists()
    assert time.monotonic() - started < 60  # refused before training


def test_table_key_columns_that_can_never_match_are_refused(tmp_path):
    from nasco.evo.search.table_evaluator import TableError, TableEvaluator
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    layout = compile_any(space_from_dict({"kind": "genes", "genes": {"x": ["001", "002"], "y": [0, 1]}}))
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps([{"x": 1, "y": 0, "error": 0.1}, {"x": "002", "y": 1, "error": 0.2}]))
    with pytest.raises(TableError, match=r"key column 'x' mixes numbers \(e\.g\. 1\) and text \(e\.g\. '002'\)"):
        TableEvaluator(mixed).bind(layout)
    numbers = tmp_path / "numbers.json"
    numbers.write_text(json.dumps([{"x": 1, "y": 0, "error": 0.1}, {"x": 2, "y": 1, "error": 0.2}]))
    with pytest.raises(TableError, match=r"column 'x' holds \['1', '2'\], none of them a choice of gene 'x'"):
        TableEvaluator(numbers).bind(layout)
    not_rows = tmp_path / "object.json"
    not_rows.write_text(json.dumps({"a": 1, "b": 2}))
    with pytest.raises(TableError, match="allowed JSON: a list of row objects"):
        TableEvaluator(not_rows)


@pytest.mark.parametrize(("name", "value"), [("NASCO_CACHE_MB", "abc"), ("NASCO_CACHE_MB", "-5"),
                                             ("NASCO_CACHE_DISK_MB", "-1"), ("NASCO_STREAM_WORKERS", "2.5")])
def test_cache_environment_variables_are_checked_by_name(monkeypatch, name, value):
    from nasco.evo.errors import NascoError
    from nasco.evo.train.image_cache import disk_budget_bytes, memory_budget_bytes
    from nasco.evo.train.image_stream import stream_workers

    monkeypatch.setenv(name, value)
    read = {"NASCO_CACHE_MB": memory_budget_bytes, "NASCO_CACHE_DISK_MB": disk_budget_bytes,
            "NASCO_STREAM_WORKERS": stream_workers}[name]
    with pytest.raises(NascoError, match=rf"\${name}: '{re.escape(value)}' is not allowed; allowed: .*≥ 0"):
        read()


def test_packed_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    import struct

    from nasco.evo.train.packed import PackedFileError, read_packed

    meta = {"format_version": 1, "layer_columns": [], "layers": []}
    from nasco.evo.train.packed import FORMAT_VERSION, LAYER_COLUMNS

    meta.update(format_version=FORMAT_VERSION, layer_columns=list(LAYER_COLUMNS))
    row = {c: 0 for c in LAYER_COLUMNS}
    row.update(name="conv", kind="conv", shape=[10**9, 10**9], stride=1, groups=1, w_bits=8, a_bits=8)
    meta["layers"] = [[row[c] for c in LAYER_COLUMNS]]
    header = json.dumps({"__metadata__": {"nasco": json.dumps(meta)}}).encode()
    path = tmp_path / "huge.packed"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(PackedFileError, match="declares 1,000,000,000,000,000,000 weights, more than a"):
        read_packed(path)


def test_binary_text_file_is_named(tmp_path):
    from nasco.evo.train.text_data import read_text_file

    path = tmp_path / "train.tsv"
    path.write_bytes(b"text\tlabel\n\xff\xfe\x00\tx\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}'?: not UTF-8 text"):
        read_text_file(path)


def test_a_refused_folder_keeps_no_lock_file(tmp_path, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    synthetic_archive(tmp_path / "a.h5", 10).rename(folder / "archive.h5")  # an archive copied in, no lock file
    path = write_config(tmp_path / "c.toml", _genes_config(tmp_path))
    assert main(["run", str(path), "--out", str(folder)]) == 2
    assert "holds no campaign" in _error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["archive.h5"]


def test_export_takes_the_run_folders_task_root(tmp_path, monkeypatch, capsys):
    """A text campaign's export asked for --root although its run folder's config names it."""
    import nasco.evo.results.export as export
    from nasco.evo.errors import NascoError

    folder = tmp_path / "run"
    folder.mkdir()
    synthetic_archive(tmp_path / "a.h5", 10).rename(folder / "archive.h5")
    (folder / "config.toml").write_text('[task]\nroot = "/data/texts.csv"\n', encoding="utf-8")
    seen = []

    def capture(path, ident, out, **options):
        seen.append(options["root"])
        raise NascoError("stopped by the test")

    monkeypatch.setattr(export, "export_candidate", capture)
    for argv, root in (([], "/data/texts.csv"), (["--root", "/elsewhere"], "/elsewhere")):
        for source in (folder, folder / "archive.h5"):
            assert main(["export", str(source), "#0", "-o", str(tmp_path / "m"), *argv]) == 2
            assert seen[-1] == root
    capsys.readouterr()


def test_imagefolder_link_loop_leaves_no_run_folder(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "images"
    for cls in ("a", "b"):
        (root / "train" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8, 3), i * 40, np.uint8)).save(root / "train" / cls / f"{i}.png")
    (root / "train" / "a" / "loop").symlink_to("..")
    folder = tmp_path / "run"
    path = write_config(tmp_path / "c.toml", tiny_config(folder, task={"dataset": "imagefolder", "root": str(root),
                                                                       "image_size": 8, "train_subset": 0}))
    assert main(["run", str(path)]) == 2
    assert "a symbolic link loop" in _error_line(capsys)
    assert not folder.exists()
