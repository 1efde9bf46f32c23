"""Run-folder lifecycle: --force never loses a live campaign, refused starts leave no campaign, I/O errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from campaign_helpers import tiny_config, write_config

from nasco.archive import ArchiveError, HDF5Archive
from nasco.evo.cli.main import main
from nasco.evo.search.run_folder import prepare_run_folder

WORKER = str(Path(__file__).with_name("archive_worker.py"))
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def test_force_refuses_while_a_campaign_writes_the_folder(tmp_path, capsys):
    """Two processes: a live writer holds the run folder's archive; --force must not delete anything."""
    folder = tmp_path / "run"
    config = tiny_config(folder)
    prepare_run_folder(folder, config, resume=False, force=False)
    writer = subprocess.Popen([sys.executable, WORKER, "hold", str(folder / "archive.h5")], stdout=subprocess.PIPE,
                              text=True, env=ENV)
    try:
        assert writer.stdout.readline().strip() == "READY"
        with pytest.raises(ArchiveError, match=rf"another process \(pid {writer.pid}\) is writing"):
            prepare_run_folder(folder, config.replace("search", population=12), resume=False, force=True)
        assert main(["run", str(write_config(tmp_path / "c.toml", config)), "--force"]) == 2
        assert f"pid {writer.pid}" in capsys.readouterr().err
        assert (folder / "config.toml").is_file() and (folder / "archive.h5").is_file()
        with HDF5Archive(folder / "archive.h5") as reader:  # the live campaign's records are intact
            assert len(reader) >= 5
    finally:
        writer.kill()
        writer.wait()
    # once the writer is gone, --force replaces the campaign
    assert prepare_run_folder(folder, config.replace("search", population=12), resume=False,
                              force=True).search.population == 12
    assert not (folder / "archive.h5").exists()
