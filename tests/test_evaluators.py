"""The campaign contract over user evaluators (python, table) on a genes space, and their bad input.

The ``train`` evaluator runs the same contract in test_campaign.py (archive, resume after
SIGKILL, Ctrl-C, Ray = local)."""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nasco.archive import HDF5Archive
from nasco.evo import NascoError, run_campaign
from nasco.evo.search.evaluators import EvalResult
from nasco.kernels.pareto import non_dominated

GENES = {"x": list(range(8)), "y": list(range(8)), "z": ["a", "b", "c"]}


def toy_metrics(x: int, y: int, z: str) -> dict[str, float]:
    return {"error": ((x - 3) ** 2 + (y - 5) ** 2) / 100 + {"a": 0.0, "b": 0.01, "c": 0.02}[z], "cost": float(x + y)}


STOP_AFTER: dict = {}  # {"calls": n, "campaign": Campaign}: ask that campaign to stop at the n-th call


def toy_evaluator(candidate):
    if STOP_AFTER:
        STOP_AFTER["calls"] -= 1
        if STOP_AFTER["calls"] == 0:  # Ctrl-C while this candidate is in flight: it is still recorded
            STOP_AFTER.pop("campaign").request_stop()
    return toy_metrics(**candidate.genes)


def config(tmp_path, name="toy", **sections):
    base = {"campaign": {"name": name, "seed": 3, "out": str(tmp_path / name)},
            "space": {"kind": "genes", "genes": GENES},
            "objectives": {"names": ["error", "metric:cost"]},
            "search": {"population": 8, "offspring": 4, "generations": 3, "screen_factor": 4,
                       "surrogate_min_records": 10, "surrogate_families": ["trees"]},
            "training": {"epochs": 1, "final_epochs": 0},
            "evaluator": {"kind": "python", "entry": "test_evaluators:toy_evaluator", "metrics": ["error", "cost"]}}
    for section, values in sections.items():
        base[section] = {**base.get(section, {}), **values}
    return base


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "toy.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x", "y", "z", "error", "cost"])
        for x, y, z in itertools.product(*GENES.values()):
            m = toy_metrics(x, y, z)
            writer.writerow([x, y, z, m["error"], m["cost"]])
    return path


def table_config(tmp_path, table_file, name="table"):
    return config(tmp_path, name, evaluator={"kind": "table", "file": str(table_file), "entry": "",
                                             "metrics": ["error"], "cheap": ["cost"]})


def archive_rows(folder):
    with HDF5Archive(folder / "archive.h5") as archive:
        t = archive.table()
        return sorted((t.rows["genome_hash"][i].decode(), t.rows["generation"][i], t.rows["status"][i],
                       tuple(np.nan_to_num(t.values[i], nan=-1).tolist())) for i in range(len(t)))


def check_contract(result, expected_count):
    records = result.records
    assert len(records) == expected_count
    assert len(set(records.column("genome_hash").tolist())) == len(records)
    for i in range(len(records)):  # every archived value is what the evaluator gave for that genome
        x, y, z = (GENES[k][g] for k, g in zip(GENES, records.genome(i), strict=True))
        assert math.isclose(records.column("error")[i], toy_metrics(x, y, z)["error"])
        assert records.column("cost")[i] == x + y
    F = np.column_stack([records.column("error"), records.column("cost")])
    brute = {records.rows["genome_hash"][i] for i in range(len(F))
             if not any(np.all(F[j] <= F[i]) and np.any(F[j] < F[i]) for j in range(len(F)))}
    assert set(result.front.rows["genome_hash"].tolist()) == brute == \
        set(records.rows["genome_hash"][non_dominated(np.column_stack([F[:, 0], np.log10(np.maximum(F[:, 1], 1))]))])


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch):
    monkeypatch.syspath_prepend(str(__import__("pathlib").Path(__file__).parent))


def test_python_evaluator_campaign_contract(tmp_path):
    result = run_campaign(config(tmp_path))
    check_contract(result, 8 + 3 * 4)
    assert result.records.rows["task_id"][0].decode() == "python:test_evaluators:toy_evaluat"[:32]


@pytest.mark.parametrize("kind", ["table", "python"])
def test_genes_campaign_through_nasco_run_front_report(tmp_path, table_file, kind):
    import tomli_w

    settings = table_config(tmp_path, table_file, kind) if kind == "table" else config(tmp_path, kind)
    path = tmp_path / f"{kind}.toml"
    path.write_text(tomli_w.dumps(settings))
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent)}  # the python entry's module
    done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / kind
    result = run_campaign(settings)  # a finished campaign: nothing evaluated again
    space_file = tmp_path / "genes.toml"
    space_file.write_text(tomli_w.dumps({"kind": "genes", "genes": GENES}))
    check_contract(result, 8 + 3 * 4)
    for command in (["front", str(folder)], ["front", str(folder), "--objectives", "error,metric:cost", "--csv", "-"],
                    ["show", str(folder), result.front.rows["genome_hash"][0].decode()],
                    ["report", str(folder), "-o", str(tmp_path / "r.html")],
                    ["surrogate", "fit", str(folder / "archive.h5"), "--task",
                     result.records.rows["task_id"][0].decode(), "--families", "trees,gp"],
                    ["space", "--space", str(space_file), "--random", "2"]):
        done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", *command], capture_output=True, text=True,
                              timeout=300, env=env)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-3000:])
    assert "cost" in (tmp_path / "r.html").read_text() and "Gene choices across the front" in \
        (tmp_path / "r.html").read_text()
    done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", "export", str(folder),
                           result.front.rows["genome_hash"][0].decode(), "-o", str(tmp_path / "model")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 2 and f"scored by the {kind} evaluator" in done.stderr, done.stderr[-2000:]


def test_a_callable_evaluator_and_stop_then_resume_give_the_same_archive(tmp_path):
    whole = run_campaign(config(tmp_path, "whole"), evaluator=toy_evaluator)
    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path / "whole2"
    in_process = {"workers": 1}  # STOP_AFTER counts calls in this process; the whole run used worker processes
    c = prepare_run_folder(folder, as_config(config(tmp_path, "whole", campaign={"out": str(folder)},
                                                    executor=in_process)), resume=False, force=False)
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=11, campaign=campaign)
    campaign.run()
    assert campaign.stopped and "campaign" not in STOP_AFTER
    STOP_AFTER.clear()
    with HDF5Archive(folder / "archive.h5") as archive:
        assert len(archive) == 11
    resumed = run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)
    assert archive_rows(folder) == archive_rows(whole.folder)
    assert len(resumed.records) == len(whole.records)


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="the ray extra is not installed (pip install 'nasco[ray]')")


@needs_ray
def test_table_evaluator_on_ray_equals_local(tmp_path, table_file):
    local = run_campaign(table_config(tmp_path, table_file, "local"))
    remote = run_campaign(config(tmp_path, "local", **{k: v for k, v in table_config(tmp_path, table_file).items()
                                                       if k == "evaluator"},
                                 campaign={"out": str(tmp_path / "ray")}, executor={"kind": "ray", "workers": 2}))
    assert archive_rows(remote.folder) == archive_rows(local.folder)


def hangs_on_x5(candidate):
    if candidate.genes["x"] == 5:
        while True:  # never returns (a user evaluator stuck in a loop)
            __import__("time").sleep(0.01)
    return toy_metrics(**candidate.genes)


def exits_on_x2(candidate):
    if candidate.genes["x"] == 2:
        sys.exit(3)
    return toy_metrics(**candidate.genes)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_candidate_past_the_timeout_fails_and_its_worker_is_replaced(workers):
    """A hanging candidate becomes a failed 'timed out' result; its worker is killed and the others run."""
    import time

    from nasco.evo.search.evaluators import PythonEvaluator
    from nasco.evo.search.executors import EvalJob, LocalExecutor
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    layout = compile_any(space_from_dict({"kind": "genes", "genes": GENES}))
    evaluator = PythonEvaluator(hangs_on_x5, ("error", "cost"))
    evaluator.bind(layout)
    jobs = [EvalJob(np.array([x, 1, 0]), seed=x, fidelity=1) for x in (1, 5, 2, 3, 4)]
    executor = LocalExecutor(evaluator, workers=workers, timeout_s=3.0)
    started = time.monotonic()
    results = {job.seed: result for job, result in executor.run(jobs, lambda: False)}
    executor.close()
    assert sorted(results) == [1, 2, 3, 4, 5]
    assert results[5].status == "failed" and "timed out" in results[5].reason and "timeout_s = 3" in results[5].reason
    assert all(results[x].status == "ok" and results[x].metrics == toy_metrics(x, 1, "a") for x in (1, 2, 3, 4))
    assert time.monotonic() - started < 60  # the hang cost its timeout, not forever

    in_process = LocalExecutor(PythonEvaluator(lambda c: hangs_on_x5(c), ("error", "cost")), timeout_s=2.0)
    in_process.evaluator.bind(layout)
    assert not in_process.picklable  # a lambda: interrupted by an alarm in this process
    results = {job.seed: result for job, result in in_process.run(jobs[:3], lambda: False)}
    assert results[5].status == "failed" and "timed out" in results[5].reason
    assert results[1].status == results[2].status == "ok"


def test_sys_exit_and_bad_metrics_in_a_user_evaluator_become_failed_records(tmp_path):
    """sys.exit() inside the evaluator, keys that are not names, an error outside [0, 1], a bool: each
    candidate fails with its reason; the campaign goes on and ends normally."""
    from nasco.evo.search.evaluators import PythonEvaluator, check_result

    result = run_campaign(config(tmp_path, "exits", evaluator={"entry": "test_evaluators:exits_on_x2"}))
    table = result.records
    failed = [i for i in range(len(table)) if table.rows["status"][i] == 1]
    assert failed and all(GENES["x"][table.genome(i)[0]] == 2 for i in failed)
    assert all("called sys.exit(3)" in table.record(i).reason for i in failed)
    assert len(table) - len(failed) > 0 and len(result.front)
    evaluator = PythonEvaluator(toy_evaluator, ("error", "cost"))
    for metrics, words in (({1: 0.5, "error": 0.1, "cost": 1.0}, "keys [1, 'error', 'cost']"),
                           ({"error": -5.0, "cost": 1.0}, "error = -5.0; allowed: 0..1"),
                           ({"error": True, "cost": 1.0}, "error = True; allowed: a number"),
                           ({"error": 0.2, "cost": 1.0, "test_error": 1.5}, "test_error = 1.5; allowed: 0..1")):
        checked = check_result(evaluator, EvalResult(metrics))
        assert checked.status == "failed" and words in checked.reason, (metrics, checked.reason)
    assert check_result(evaluator, EvalResult({"error": 0.0, "cost": -3.0})).status == "ok"  # costs: any number


def test_timeout_in_a_campaign_goes_on_and_records_the_failure(tmp_path):
    result = run_campaign(config(tmp_path, "hangs", evaluator={"entry": "test_evaluators:hangs_on_x5"},
                                 executor={"workers": 2, "timeout_s": 2.0},
                                 search={"generations": 1}))
    table = result.records
    hung = [i for i in range(len(table)) if GENES["x"][table.genome(i)[0]] == 5]
    assert hung and all(table.rows["status"][i] == 1 and "timed out" in table.record(i).reason for i in hung)
    assert sum(table.rows["status"] == 0) >= len(table) - len(hung) > 0


def dies_on_x7(candidate):
    if candidate.genes["x"] == 7:
        __import__("os")._exit(3)  # the worker process dies (as when the OOM killer ends it)
    if candidate.genes["x"] == 1:
        __import__("time").sleep(1.0)  # still in flight in the other worker when x = 7 dies
    return toy_metrics(**candidate.genes)


def test_local_workers_give_the_results_of_one_process_and_survive_a_dead_worker():
    from nasco.evo.search.evaluators import PythonEvaluator
    from nasco.evo.search.executors import EvalJob, LocalExecutor
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    layout = compile_any(space_from_dict({"kind": "genes", "genes": GENES}))

    def bound(function):
        evaluator = PythonEvaluator(function, ("error", "cost"))
        evaluator.bind(layout)
        return evaluator

    jobs = [EvalJob(np.array([x, y, x % 3]), seed=x * 8 + y, fidelity=1) for x in range(4) for y in range(3)]
    evaluator = bound(toy_evaluator)
    serial = {job.seed: result for job, result in LocalExecutor(evaluator, workers=1).run(jobs, lambda: False)}
    pool = LocalExecutor(evaluator, workers=2)
    parallel = list(pool.run(jobs, lambda: False))
    pool.close()
    assert len(parallel) == len(jobs) and all(serial[job.seed].metrics == result.metrics for job, result in parallel)
    assert all(result.status == "ok" for result in serial.values())
    assert LocalExecutor(PythonEvaluator(lambda c: 0.5), workers=2).workers == 1  # a lambda: in this process
    started = []
    stopping = LocalExecutor(evaluator, workers=2)
    for job, _ in stopping.run(jobs, lambda: len(started) >= 3):
        started.append(job)
    stopping.close()
    assert 3 <= len(started) <= 4  # no job starts after the stop; those in flight finish

    dying = LocalExecutor(bound(dies_on_x7), workers=2)
    jobs = [EvalJob(np.array([x, 0, 0]), seed=x, fidelity=1) for x in (1, 7, 2, 3, 4)]
    results = {job.seed: result for job, result in dying.run(jobs, lambda: False)}
    dying.close()
    assert len(results) == len(jobs) and results[7].status == "failed"
    assert "worker process died" in results[7].reason
    # the job in flight beside the death runs again alone; jobs after it run in a new pool
    assert all(results[x].status == "ok" for x in (1, 2, 3, 4)), {x: r.reason for x, r in results.items()}


# ----------------------------------------------------------------------------- bad input
def bad_shape(candidate):
    return [1, 2]


def returns_nan(candidate):
    return {"error": float("nan"), "cost": 1.0}


def raises(candidate):
    raise ValueError("my model diverged")


def forgets_cost(candidate):
    return {"error": 0.5}


@pytest.mark.parametrize(("function", "reason"), [
    (bad_shape, "returned list"), (returns_nan, "error = nan"), (raises, "raised ValueError: my model diverged"),
    (forgets_cost, "missing ['cost']")])
def test_a_bad_evaluator_result_is_a_failed_record_naming_why(tmp_path, function, reason):
    result = run_campaign(config(tmp_path, search={"generations": 0}), evaluator=function)
    records = result.records
    assert len(records) == 8 and set(records.rows["status"].tolist()) == {1}
    assert reason in records.record(0).reason


@pytest.mark.parametrize(("sections", "message"), [
    ({"evaluator": {"entry": "no_such_module:f"}}, "cannot import module 'no_such_module'"),
    ({"evaluator": {"entry": "test_evaluators:missing"}}, "has no attribute 'missing'"),
    ({"objectives": {"names": ["error", "metric:flops"]}}, "objective 'metric:flops'"),
    ({"objectives": {"names": ["error", "bitops"]}}, "need a network space kind"),
    ({"evaluator": {"kind": "train", "entry": ""}}, "needs a network space kind"),
])
def test_bad_config_is_refused_before_any_evaluation(tmp_path, sections, message):
    with pytest.raises(NascoError, match=message.replace("[", r"\[").replace("(", r"\(")):
        run_campaign(config(tmp_path, **sections))
    assert not (tmp_path / "toy").exists()  # nothing ran: no campaign left behind


def test_table_with_duplicate_keys_or_missing_columns_is_refused(tmp_path, table_file):
    rows = table_file.read_text().splitlines()
    duplicate = tmp_path / "dup.csv"
    duplicate.write_text("\n".join([*rows, rows[1]]) + "\n")
    with pytest.raises(NascoError, match="duplicate key"):
        run_campaign(config(tmp_path, evaluator={"kind": "table", "file": str(duplicate), "entry": ""}))
    missing = tmp_path / "missing.csv"
    missing.write_text("\n".join(",".join(r.split(",")[1:]) for r in rows) + "\n")  # no x column
    with pytest.raises(NascoError, match=r"lacks column\(s\) \['x'\]"):
        run_campaign(config(tmp_path, evaluator={"kind": "table", "file": str(missing), "entry": ""}))


def test_a_genome_missing_from_the_table_is_a_failed_record_naming_it(tmp_path, table_file):
    rows = table_file.read_text().splitlines()
    partial = tmp_path / "partial.csv"
    partial.write_text("\n".join(rows[:60]) + "\n")
    result = run_campaign(config(tmp_path, evaluator={"kind": "table", "file": str(partial), "entry": "",
                                                      "metrics": ["error", "cost"]}, search={"generations": 1}))
    failed = result.records.filter(status="failed")
    assert len(failed) and "is not in the table partial.csv" in failed.record(0).reason


def test_eval_result_check_accepts_a_test_error_nan():
    from nasco.evo.search.evaluators import PythonEvaluator, check_result

    evaluator = PythonEvaluator(toy_evaluator, ("error", "cost"))
    ok = check_result(evaluator, EvalResult({"error": 0.1, "cost": 2, "test_error": float("nan")}))
    assert ok.status == "ok" and ok.metrics["cost"] == 2.0


def test_table_keyed_by_a_column_equals_table_keyed_by_gene_columns(tmp_path, table_file):
    keyed = tmp_path / "keyed.json"  # JSON this time: an object of key → row
    rows = list(csv.DictReader(table_file.read_text().splitlines()))
    keyed.write_text(json.dumps({f"{r['x']}-{r['y']}-{r['z']}": {"error": float(r["error"]),
                                                                           "cost": float(r["cost"])} for r in rows}))
    by_genes = run_campaign(table_config(tmp_path, table_file, "genes"))
    by_key = run_campaign(config(tmp_path, "keyed", evaluator={
        "kind": "table", "file": str(keyed), "entry": "", "key": "key", "key_separator": "-", "metrics": ["error"],
        "cheap": ["cost"]}))
    assert archive_rows(by_key.folder) == archive_rows(by_genes.folder)


def test_another_recipe_on_the_same_task_gets_a_derived_task_id_said_in_the_log(tmp_path):
    from rich.console import Console

    from nasco.archive.base import derived_task_id
    from nasco.evo.search.context import _task_id
    from nasco.evo.search.progress import CampaignMonitor

    monitor = CampaignMonitor(Console(quiet=True), tmp_path / "log.txt", 1)
    with HDF5Archive(tmp_path / "a.h5", "a", columns=("error",)) as archive:
        archive.register_task("digits", {"train": {"lr": 0.005}})
        assert _task_id(archive, "digits", {"train": {"lr": 0.005}}, monitor) == "digits"
        other = {"train": {"lr": 0.01}}
        derived = _task_id(archive, "digits", other, monitor)
        assert derived == derived_task_id("digits", other) != "digits"
        archive.register_task(derived, other)  # what the campaign does next: no refusal
        long = "fashion-mnist@8x8:train2000:val1200"  # 35 bytes: longer than the archive's task ids
        short = _task_id(archive, long, other, monitor)
        assert len(short.encode()) <= 32 and short.startswith(long[:23] + "~")
        assert short == _task_id(archive, long, other, monitor) != _task_id(archive, long, {"x": 1}, monitor)
        archive.register_task(short, other)
    log = (tmp_path / "log.txt").read_text()
    assert derived in log and f"task {long!r} is longer than the archive's 32-byte task ids; its records use" in log


def slow_toy_evaluator(candidate):
    __import__("time").sleep(0.15)
    return toy_metrics(**candidate.genes)


@pytest.mark.parametrize(("search", "kill_after"), [({}, 10), ({"proposal": "inner", "inner_generations": 8,
                                                                      "inner_population": 24}, 13)],
                         ids=["screen", "inner"])
def test_kill_9_and_resume_give_the_archive_of_an_uninterrupted_run(tmp_path, search, kill_after):
    """Killed inside a generation (inner: the first one the inner search proposed), resumed: same archive."""
    import os
    import signal
    import time

    import tomli_w

    entry = {"evaluator": {"entry": "test_evaluators:slow_toy_evaluator"}}
    whole = run_campaign(config(tmp_path, "whole", search=search, **entry))
    settings = config(tmp_path, "whole", search=search, campaign={"out": str(tmp_path / "killed")}, **entry)
    path = tmp_path / "killed.toml"
    path.write_text(tomli_w.dumps(settings))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    process = subprocess.Popen([sys.executable, "-m", "nasco.evo.cli.main", "run", str(path)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    archive_file = tmp_path / "killed" / "archive.h5"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if archive_file.exists():
            try:
                with HDF5Archive(archive_file) as reader:
                    if len(reader) >= kill_after:
                        break
            except Exception:  # the writer is creating the file
                pass
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with HDF5Archive(archive_file) as reader:
        assert kill_after <= len(reader) < len(whole.records)
    done = subprocess.run([sys.executable, "-m", "nasco.evo.cli.main", "resume", str(tmp_path / "killed")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert archive_rows(tmp_path / "killed") == archive_rows(whole.folder)


def test_models_are_built_per_space_kind():
    from nasco.evo import SpaceError, compile_space, default_space
    from nasco.evo.space import compile_any, space_from_dict
    from nasco.evo.train.models import build_network

    layout = compile_space(default_space((1, 8, 8), 10))
    genome = layout.sample(np.random.default_rng(0), 1)[0]
    assert sum(p.numel() for p in build_network(layout, genome).parameters()) > 0
    genes = compile_any(space_from_dict({"kind": "genes", "genes": GENES}))
    with pytest.raises(SpaceError, match="space kind 'genes' has no torch model"):
        build_network(genes, genes.sample(np.random.default_rng(0), 1)[0])


def test_an_exhausted_space_stops_the_campaign_instead_of_failing(tmp_path):
    small = {"x": [0, 1, 2], "y": [0, 1, 2], "z": ["a"]}  # 9 genomes in all
    result = run_campaign(config(tmp_path, space={"genes": small}, search={
        "population": 4, "offspring": 4, "generations": 200, "screen_factor": 1, "surrogate": False}),
        evaluator=toy_evaluator)
    assert len(result.records) == len(set(result.records.column("genome_hash").tolist())) == 9
    lines = (result.folder / "log.txt").read_text().splitlines()
    said = "every genome of the space (9) has been evaluated; stopping"
    stop = next(i for i, line in enumerate(lines) if said in line)
    assert ": evaluated " in lines[stop - 1]  # right after the last genome, not 20 generations asked in vain


# ----------------------------------------------------------------------------- budgets and baselines
def test_an_evaluation_budget_stops_the_campaign_by_itself(tmp_path):
    """max_evaluations counts evaluations of any evaluator and is the only bound: generations (1 here)
    no longer end the run early."""
    result = run_campaign(config(tmp_path, "budget", search={"generations": 1, "max_evaluations": 30}))
    assert len(result.records) == 30
    assert max(result.records.column("generation").tolist()) >= 5  # went on past generations = 1


def test_random_is_a_true_baseline_without_screening(tmp_path):
    result = run_campaign(config(tmp_path, "random", search={"algorithm": "random", "generations": 4}))
    log = (result.folder / "log.txt").read_text(encoding="utf-8")
    assert "(none)" in log and "random screening" not in log and "(trees" not in log
    assert not (result.folder / "surrogate.jsonl").exists()  # the surrogate never chose
    assert len(result.records) == 8 + 4 * 4
