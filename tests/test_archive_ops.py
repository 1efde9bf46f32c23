"""Merge, export and summary of archives, and the ``nasco archive`` commands."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from nasco.archive import ArchiveError, HDF5Archive
from nasco.archive.ops import export_table, merge_archives, summarize
from nasco.archive.testing import COLUMNS, SPACE
from nasco.archive.testing import contract_record as make_record
from nasco.evo.cli.main import main


def _archive(path, records, *, space=SPACE, columns=COLUMNS, task=None):
    with HDF5Archive(path, "a", columns=columns) as archive:
        archive.register_space("sp1", space, n_genes=6)
        archive.register_task("digits", task or {"name": "digits"})
        archive.append(records)
    return path


def test_merge_deduplicates_and_keeps_provenance(tmp_path):
    a = _archive(tmp_path / "a.h5", [make_record(i) for i in range(10)])
    b = _archive(tmp_path / "b.h5", [make_record(i) for i in range(5, 15)] + [make_record(2, fidelity=9)])
    kept, dropped = merge_archives(tmp_path / "m.h5", [a, b])
    assert (kept, dropped) == (16, 5)
    with HDF5Archive(tmp_path / "m.h5") as merged:
        table = merged.table()
        assert len(table) == 16
        origins = table.column("origin").tolist()
        assert origins[:10] == ["a.h5"] * 10 and origins[10:] == ["b.h5"] * 6
        assert table.column("origin_index").tolist()[10:] == [5, 6, 7, 8, 9, 10]
        assert np.array_equal(table.genome(12), make_record(12).genome)
    merge_archives(tmp_path / "m2.h5", [tmp_path / "m.h5"])  # provenance survives a second merge
    with HDF5Archive(tmp_path / "m2.h5") as again:
        assert again.table().column("origin").tolist() == origins


def test_merge_refuses_conflicting_spaces(tmp_path):
    a = _archive(tmp_path / "a.h5", [make_record(0)])
    b = _archive(tmp_path / "b.h5", [make_record(1)], space={**SPACE, "num_classes": 3})
    with pytest.raises(ArchiveError, match="space id 'sp1' is defined differently"):
        merge_archives(tmp_path / "m.h5", [a, b])
    assert not (tmp_path / "m.h5").exists()
    with pytest.raises(ArchiveError, match="already exists"):
        merge_archives(a, [b])


def test_merge_unites_columns_and_derives_the_id_of_another_recipe(tmp_path):
    from nasco.archive.base import derived_task_id

    a = _archive(tmp_path / "a.h5", [make_record(0)])
    recipe = {"name": "digits", "train": {"lr": 0.01}}
    c = _archive(tmp_path / "c.h5", [make_record(1, values={"error": 0.2, "flops": 7.0})], columns=("error", "flops"),
                 task=recipe)
    merge_archives(tmp_path / "m.h5", [a, c])
    with HDF5Archive(tmp_path / "m.h5") as merged:
        table = merged.table()
        assert merged.columns == ("error", "macs", "size_bits", "flops")
        assert np.isnan(table.column("flops")[0]) and table.column("flops")[1] == 7.0
        assert np.isnan(table.column("macs")[1])
        derived = derived_task_id("digits", recipe)
        assert table.column("task_id").tolist() == ["digits", derived] and merged.tasks[derived] == recipe
        assert derived.startswith("digits~") and len(derived) == len("digits~") + 8


def test_export_round_trip(tmp_path):
    records = [make_record(i, status="failed" if i == 3 else "ok") for i in range(6)]
    records[3].values = {"error": float("nan"), "macs": 5.0, "size_bits": 1.0}
    path = _archive(tmp_path / "a.h5", records)
    with HDF5Archive(path) as archive:
        table = archive.table()
    export_table(table, tmp_path / "out.jsonl", "jsonl")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6 and lines[3]["error"] is None and lines[3]["reason"] == records[3].reason
    for line, record in zip(lines, records, strict=True):
        assert line["genome"] == record.genome.tolist() and line["genome_hash"] == record.genome_hash
        assert line["curve"] == [float(v) for v in record.curve]
    export_table(table, tmp_path / "out.csv", "csv")
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["genome"] for r in rows] == [" ".join(map(str, r.genome.tolist())) for r in records]
    assert rows[3]["status"] == "failed" and rows[3]["error"] == "" and float(rows[0]["macs"]) == 1000.0
    with pytest.raises(ArchiveError, match="format: 'xml' is not allowed"):
        export_table(table, tmp_path / "x", "xml")


def test_summary(tmp_path):
    path = _archive(tmp_path / "a.h5", [make_record(i, status="failed" if i < 2 else "ok") for i in range(9)])
    with HDF5Archive(path) as archive:
        info = summarize(archive)
    assert info["records"] == 9 and info["by_status"] == {"failed": 2, "ok": 7}
    assert info["by_generation"] == {0: 3, 1: 3, 2: 3} and info["spaces"] == {"sp1": 6}


def test_cli_info_export_merge(tmp_path, capsys):
    a = _archive(tmp_path / "a.h5", [make_record(i) for i in range(4)])
    b = _archive(tmp_path / "b.h5", [make_record(i) for i in range(2, 7)])
    assert main(["archive", "info", str(a)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "4 records" in out and "schema v1" in out and "by status" in out
    assert main(["archive", "export", str(a), "--format", "jsonl", "-o", str(tmp_path / "a.jsonl")]) == 0
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 4
    assert main(["archive", "export", str(a), "--format", "csv", "--task", "nope", "-o", str(tmp_path / "e.csv")]) == 0
    assert len((tmp_path / "e.csv").read_text().splitlines()) == 1  # header only
    assert main(["archive", "merge", str(tmp_path / "m.h5"), str(a), str(b)]) == 0
    assert "7 records, 2 duplicates dropped" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("action", ["info", "export", "merge"])
def test_cli_help(action, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["archive", action, "--help"])
    assert exit_info.value.code == 0 and "usage: nasco archive " + action in capsys.readouterr().out


def test_cli_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("no")
    assert main(["archive", "info", str(bad)]) == 2
    assert "not an HDF5 file" in capsys.readouterr().err
