"""Warm-started campaigns ([campaign] warm_start, nasco run --warm-start): records copied once with their
provenance, this task's records never evaluated again, other tasks' feeding the transfer, determinism,
resume to the identical archive, and refusals (a changed or missing source, another space)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pytest
from test_evaluators import (  # noqa: F401  (fixtures: table_file, _importable_tests)
    STOP_AFTER,
    _importable_tests,
    archive_rows,
    config,
    table_config,
    table_file,
    toy_evaluator,
)

from nasco.archive import HDF5Archive
from nasco.evo import run_campaign
from nasco.evo.search.config import ConfigError
from nasco.evo.search.warm_start import records_digest

SOURCE_SEARCH = {"generations": 14}  # ≥ 50 records: enough for the transfer source


@pytest.fixture
def source(tmp_path, table_file):  # noqa: F811
    """A finished campaign of another task (the table) over the same genes space: its archive."""
    settings = table_config(tmp_path, table_file, name="source")
    settings["search"] = {**settings["search"], **SOURCE_SEARCH}
    return run_campaign(settings).folder / "archive.h5"


def _warm(tmp_path, name, sources, **search):
    return config(tmp_path, name, campaign={"warm_start": [str(s) for s in sources]}, search=search)


def test_a_warm_start_copies_the_sources_records_once_with_their_provenance(tmp_path, source):
    with HDF5Archive(source) as archive:
        theirs = archive.table()
    result = run_campaign(_warm(tmp_path, "warm", [source]), evaluator=toy_evaluator)
    with HDF5Archive(result.folder / "archive.h5") as archive:
        table, sources = archive.table(), dict(archive.sources)
    copied, n = table.filter(task=theirs.rows["task_id"][0].decode()), len(theirs)
    assert len(copied) == n >= 50
    assert set(copied.column("genome_hash").tolist()) == set(theirs.column("genome_hash").tolist())
    assert set(copied.rows["origin"].tolist()) == {b"archive.h5"} and sorted(copied.rows["origin_index"]) == \
        list(range(n))
    assert sources == {str(source.resolve()): {"sha256": records_digest(theirs), "records": n}}
    own = table.filter(campaign="warm")
    assert len(own) == 8 + 3 * 4  # the campaign's budget is its own evaluations
    log = (result.folder / "log.txt").read_text()
    assert f"warm start: {n} records copied from" in log and f"transfer: {n} records of other tasks" in log


def test_a_warm_started_campaign_is_deterministic_and_resumes_to_the_identical_archive(tmp_path, source):
    first = run_campaign(_warm(tmp_path, "first", [source]), evaluator=toy_evaluator)
    again = run_campaign(_warm(tmp_path, "first", [source]) | {"campaign": {
        "name": "first", "seed": 3, "out": str(tmp_path / "again"), "warm_start": [str(source)]}},
        evaluator=toy_evaluator)
    assert archive_rows(first.folder) == archive_rows(again.folder)

    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path / "stopped"
    settings = _warm(tmp_path, "first", [source])
    settings["campaign"]["out"] = str(folder)
    c = prepare_run_folder(folder, as_config({**settings, "executor": {"workers": 1}}), resume=False, force=False)
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=14, campaign=campaign)  # inside generation 2
    campaign.run()
    STOP_AFTER.clear()
    assert campaign.stopped
    run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)  # the sources are not copied twice
    assert archive_rows(folder) == archive_rows(first.folder)


def test_a_changed_or_missing_source_stops_a_resume(tmp_path, source, table_file):  # noqa: F811
    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path / "stopped"
    settings = _warm(tmp_path, "warm", [source])
    settings["campaign"]["out"] = str(folder)
    c = prepare_run_folder(folder, as_config({**settings, "executor": {"workers": 1}}), resume=False, force=False)
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=10, campaign=campaign)
    campaign.run()
    STOP_AFTER.clear()
    with HDF5Archive(source) as archive:
        digest = records_digest(archive.table())
    settings_of_source = table_config(tmp_path, table_file, name="source")
    settings_of_source["search"] = {**settings_of_source["search"], **SOURCE_SEARCH}
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    run_campaign(settings_of_source)  # resuming the finished source rewrites its file, not its records
    assert hashlib.sha256(source.read_bytes()).hexdigest() != before
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=2, campaign=campaign)
    campaign.run()  # resumes: the source is unchanged
    STOP_AFTER.clear()
    other = table_config(tmp_path, table_file, name="other")
    shutil.copy(run_campaign(other).folder / "archive.h5", source)  # another archive where the source was
    with pytest.raises(ConfigError, match=f"records changed since this campaign copied them \\(SHA-256 "
                                          f"{digest[:16]}… then"):
        run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)
    source.unlink()
    with pytest.raises(ConfigError, match=r"is missing; this campaign copied \d\d records from it"):
        run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)


def test_this_tasks_records_are_known_and_never_evaluated_again(tmp_path):
    first = run_campaign(config(tmp_path, "first"), evaluator=toy_evaluator)
    with HDF5Archive(first.folder / "archive.h5") as archive:
        before = archive.table()
    settings = _warm(tmp_path, "second", [first.folder / "archive.h5"], initial="archive")
    settings["campaign"]["seed"] = 4
    warm = run_campaign(settings, evaluator=toy_evaluator)
    with HDF5Archive(warm.folder / "archive.h5") as archive:
        own = archive.table().filter(campaign="second")
    assert not set(own.column("genome_hash").tolist()) & set(before.column("genome_hash").tolist())
    log = (warm.folder / "log.txt").read_text()
    evaluated, reused = map(int, re.search(r"gen 0: evaluated (\d+) reused (\d+)", log).groups())
    assert evaluated + reused == 8 and reused >= 4  # the archived front's best 4 joined generation 0, reused
    assert len(own) == evaluated + 3 * 4  # the budget counts evaluations only
    assert "20 records of this task at fidelity 1 are known before generation 0" in log
    assert "20 records of other tasks in this space; the surrogate's transfer source needs at least 50" not in log
    known = before.select(np.flatnonzero(before.rows["fidelity"] == 1))
    assert _hashes(warm.front) == _brute_front(known, own) and _hashes(warm.front) & _hashes(known), \
        "the front is taken over the reused records too, as after a resume (and as nasco front shows it)"


def test_the_final_front_reuses_warm_started_retrainings(tmp_path):
    final = {"final_epochs": 2, "final_max": 20}
    first = run_campaign(config(tmp_path, "first", training=final), evaluator=toy_evaluator)
    settings = _warm(tmp_path, "second", [first.folder / "archive.h5"], initial="archive")
    settings["campaign"]["seed"] = 4
    settings["training"] = {**settings["training"], **final}
    warm = run_campaign(settings, evaluator=toy_evaluator)
    with HDF5Archive(warm.folder / "archive.h5") as archive:
        table = archive.table()
    retrained = table.select(np.flatnonzero(table.rows["fidelity"] == 2))
    copied = _hashes(retrained.filter(campaign="first"))
    assert _hashes(warm.front) == _brute_front(table.select(np.flatnonzero(table.rows["fidelity"] == 1)))
    assert copied & _hashes(warm.front), "a front member the source retrained is reused, not retrained again"
    assert not copied & _hashes(retrained.filter(campaign="second"))
    assert set(warm.front.rows["fidelity"].tolist()) == {2}


def _hashes(table) -> set[bytes]:
    return set(table.rows["genome_hash"].tolist())


def _brute_front(*tables) -> set[bytes]:
    """Genome hashes of the non-dominated successful records of ``tables`` on (error, cost)."""
    hashes = [h for t in tables for h in t.rows["genome_hash"].tolist()]
    F = np.concatenate([np.column_stack([t.column("error"), t.column("cost")]) for t in tables])
    return {hashes[i] for i in range(len(F)) if not any(np.all(F[j] <= F[i]) and np.any(F[j] < F[i])
                                                        for j in range(len(F)))}


def test_too_few_records_of_other_tasks_are_said(tmp_path, table_file):  # noqa: F811
    small = run_campaign(table_config(tmp_path, table_file, name="small")).folder / "archive.h5"
    warm = run_campaign(_warm(tmp_path, "warm", [small]), evaluator=toy_evaluator)
    log = (warm.folder / "log.txt").read_text()
    assert "warm start: 20 records of other tasks in this space; the surrogate's transfer source needs at least " \
           "50: no transfer" in log


def test_another_space_or_task_or_file_is_refused_naming_both(tmp_path, source):
    narrow = config(tmp_path, "narrow", space={"kind": "genes", "genes": {"x": list(range(8)), "y": [0, 1]}},
                    campaign={"warm_start": [str(source)]})
    with pytest.raises(ConfigError, match=r"holds no records of this campaign's space \w+ \(.*\); its spaces: \w+"):
        run_campaign(narrow, evaluator=toy_evaluator)
    assert not (tmp_path / "narrow").exists()  # refused before anything ran: no run folder left
    with pytest.raises(ConfigError, match=r"warm_start_tasks: .* has no records of \['cifar'\] in this space; its "
                                          r"tasks: \['table:toy'\]"):
        run_campaign(config(tmp_path, "t", campaign={"warm_start": [str(source)], "warm_start_tasks": ["cifar"]}),
                     evaluator=toy_evaluator)
    with pytest.raises(ConfigError, match=r"campaign.warm_start: .*nothing.h5 does not exist"):
        run_campaign(_warm(tmp_path, "m", [tmp_path / "nothing.h5"]), evaluator=toy_evaluator)
    (tmp_path / "text.h5").write_text("not an archive")
    with pytest.raises(ConfigError, match=r"campaign.warm_start: .*text.h5"):
        run_campaign(_warm(tmp_path, "n", [tmp_path / "text.h5"]), evaluator=toy_evaluator)
    with pytest.raises(ConfigError, match=r"campaign.warm_start: .* is not allowed; allowed: a list of distinct"):
        run_campaign(_warm(tmp_path, "d", [source, source]), evaluator=toy_evaluator)


def test_nasco_run_warm_start_names_the_archives_in_the_config(tmp_path, source, monkeypatch, capsys):
    from nasco.evo.cli.main import main

    monkeypatch.chdir(source.parent)
    settings = config(tmp_path, "cli")
    settings["evaluator"] = {**settings["evaluator"], "entry": "test_evaluators:toy_evaluator"}
    path = tmp_path / "cli.toml"
    import tomli_w

    path.write_text(tomli_w.dumps(settings))
    assert main(["run", str(path), "--warm-start", "archive.h5"]) == 0
    stored = (tmp_path / "cli" / "config.toml").read_text()
    assert json.dumps(str(source.resolve())) in stored.replace("'", '"')
    with HDF5Archive(tmp_path / "cli" / "archive.h5") as archive:
        assert list(archive.sources) == [str(source.resolve())]
        assert np.sum(archive.table().rows["origin"] == b"archive.h5") >= 50
    capsys.readouterr()
    assert main(["archive", "info", str(tmp_path / "cli" / "archive.h5")]) == 0
    assert f"warm-start source: {source.resolve()} (" in capsys.readouterr().out.replace("\n", "")
