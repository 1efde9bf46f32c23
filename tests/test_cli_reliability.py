"""Bad input and hostile conditions end in one clear line: no traceback, no data loss, no unsafe CSV."""

from __future__ import annotations

import csv
import io
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
