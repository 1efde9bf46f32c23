"""End-to-end campaigns: archive contents, hypervolume, front table, resume after SIGKILL."""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from campaign_helpers import archive_rows, logged_hypervolumes, tiny_config, write_config
from pymoo.indicators.hv import HV

from nasco.archive import HDF5Archive
from nasco.evo.search.campaign import Campaign
from nasco.evo.search.executors import local_workers
from nasco.evo.search.objectives import objective
from nasco.evo.search.plan import objective_matrix
from nasco.evo.search.run_folder import load_checkpoint, prepare_run_folder
from nasco.kernels.tables import COST_NAMES


def _non_dominated(F: np.ndarray) -> np.ndarray:
    """Brute force: rows no other row dominates."""
    keep = np.ones(len(F), dtype=bool)
    for i in range(len(F)):
        dominated = np.all(F[i] >= F, axis=1) & np.any(F[i] > F, axis=1)
        keep[i] = not dominated.any()
    return keep


def test_tiny_campaign_archive_front_and_hypervolume(tiny_run):
    folder, config, _front, _ = tiny_run
    with HDF5Archive(folder / "archive.h5") as archive:
        table = archive.table()
    search = table.filter(fidelity=config.training.epochs, campaign="tiny")
    # Every trained candidate is in the archive: population + offspring per generation, no duplicates.
    assert len(search) == config.search.population + config.search.generations * config.search.offspring
    assert len(set(search.column("genome_hash"))) == len(search)
    assert sorted(set(search.column("generation").tolist())) == [0, 1, 2, 3]
    final = table.filter(fidelity=config.training.final_epochs)
    assert 1 <= len(final) <= config.training.final_max
    assert np.isfinite(final.column("test_error")).all()
    assert np.isnan(search.column("test_error")).all()
    # The hypervolume the campaign logs after each generation is pymoo's over the records archived up to it.
    ok = search.filter(status="ok")
    costs = np.column_stack([ok.column(k) for k in COST_NAMES])
    F = objective_matrix([objective(n) for n in config.objectives.names],
                         {"error": ok.column("error"), **dict(zip(COST_NAMES, costs.T, strict=True))})
    reference = np.array(load_checkpoint(folder)[0]["hv_reference"])
    history = []
    for g in range(config.search.generations + 1):
        upto = F[(ok.column("generation") <= g) & np.all(reference > F, axis=1)]
        history.append(HV(ref_point=reference)(upto) if len(upto) else 0.0)
    logged = logged_hypervolumes(folder)
    assert sorted(logged) == list(range(config.search.generations + 1))
    assert np.allclose([logged[g] for g in sorted(logged)], history, atol=6e-5), (logged, history)  # logged at 4 dp
    assert history[-1] > history[0] > 0
    # front.csv is the brute-force non-dominated set of the archive's search records.
    with open(folder / "front.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = set(ok.column("genome_hash")[_non_dominated(F)])
    assert {r["genome_hash"] for r in rows} == expected
    by_hash = {h: i for i, h in enumerate(ok.column("genome_hash"))}
    for r in rows:
        i = by_hash[r["genome_hash"]]
        assert float(r["search_error"]) == ok.column("error")[i]
        assert int(r["bitops"]) == int(ok.column("bitops")[i])
        assert r["genome"] == " ".join(map(str, ok.genome(i).tolist()))
    assert {r["genome_hash"] for r in rows if r["test_error"]} == set(final.column("genome_hash"))
    log = (folder / "log.txt").read_text()
    assert "random screening" in log and "gen 3:" in log


def test_finished_campaign_reruns_without_training(tiny_run):
    folder, config, _, _ = tiny_run
    before = archive_rows(folder)
    Campaign(prepare_run_folder(folder, config, resume=False, force=False), folder).run()
    assert archive_rows(folder) == before


def _nasco(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("nasco")), *args]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _archive_len(folder: Path) -> int | None:
    """Records in the run's archive, or None while the writer holds it half-written."""
    try:
        with HDF5Archive(folder / "archive.h5") as archive:
            return len(archive)
    except Exception:  # the writer may be creating or appending to the file
        return None


def _signal_campaign_at(folder: Path, config_path: Path, records: int, sig: int) -> tuple[subprocess.Popen, int]:
    """Start ``nasco run`` in a subprocess and send ``sig`` to its process group (the campaign and its
    worker processes, as a terminal's Ctrl-C does) once the archive holds ``records``. Returns the process
    and the archive's length read after the signal: an upper bound on the records finished before it."""
    proc = subprocess.Popen(_nasco("run", str(config_path)), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if (folder / "archive.h5").exists() and (_archive_len(folder) or 0) >= records:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.05)
        os.killpg(proc.pid, sig)
        after, until = None, time.monotonic() + 30
        while after is None and time.monotonic() < until:
            after = _archive_len(folder)
        assert after is not None, "the archive stayed unreadable after the signal"
    finally:
        proc.wait(timeout=120)
    return proc, after


def test_resume_after_sigkill_matches_uninterrupted_run(tiny_run, tmp_path):
    reference_folder, config, _, _ = tiny_run
    folder = tmp_path / "killed"
    path = write_config(tmp_path / "tiny.toml", config.replace("campaign", out=str(folder)))
    kill_at = config.search.population + config.search.offspring + 2  # two candidates into generation 2
    _signal_campaign_at(folder, path, kill_at, signal.SIGKILL)
    killed = archive_rows(folder)
    assert kill_at <= len(killed) < config.search.population + 2 * config.search.offspring
    assert load_checkpoint(folder)[0]["generation"] == 2
    result = subprocess.run(_nasco("resume", str(folder)), env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "resuming at generation 2" in (folder / "log.txt").read_text()
    resumed = archive_rows(folder)
    assert resumed == archive_rows(reference_folder)
    assert all(resumed[key] == value for key, value in killed.items())


def test_ctrl_c_records_the_in_flight_candidate_and_stops(tiny_run, tmp_path):
    _, config, _, _ = tiny_run
    folder = tmp_path / "interrupted"
    path = write_config(tmp_path / "tiny.toml", config.replace("campaign", out=str(folder)))
    proc, at_signal = _signal_campaign_at(folder, path, config.search.population + 1, signal.SIGINT)
    assert proc.returncode == 130, proc.stderr.read().decode()
    log = (folder / "log.txt").read_text()
    assert "stopped on request; resume with: nasco resume" in log
    rows = archive_rows(folder)
    # The candidates in training when Ctrl-C came (one per local worker) were finished and recorded, and
    # nothing after them started: the campaign (population + 3 generations) stopped well short of its end.
    in_flight = min(local_workers(config.executor.workers, config.executor.num_cpus), config.search.offspring)
    assert config.search.population + 1 <= at_signal <= len(rows) <= at_signal + in_flight
    assert len(rows) < config.search.population + config.search.generations * config.search.offspring
    assert all(status == 0 for _, status, _ in rows.values())


needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="the ray extra is not installed (pip install 'nasco[ray]')")


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from nasco.evo.search.executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield RayExecutor
    ray.shutdown()


@needs_ray
def test_ray_executor_gives_the_same_records_as_local(tiny_run, tmp_path, local_ray):
    reference_folder, config, _, _ = tiny_run
    folder = tmp_path / "ray"
    # the first two generations only, without retraining: the same genomes as the local run's, each record equal
    shorter = config.replace("executor", kind="ray", num_cpus=1.0).replace("search", generations=1) \
        .replace("training", final_epochs=0)
    ray_config = prepare_run_folder(folder, shorter, resume=False, force=False)
    Campaign(ray_config.replace("campaign", out=str(folder)), folder).run()
    ray_rows, local_rows = archive_rows(folder), archive_rows(reference_folder)
    assert len(ray_rows) == config.search.population + config.search.offspring
    assert all(local_rows.get(key) == row for key, row in ray_rows.items())


@needs_ray
def test_ray_worker_killed_during_a_task_does_not_lose_its_candidate(local_ray):
    import threading

    import psutil

    from nasco.evo import compile_space, default_space, sample_genomes
    from nasco.evo.search.executors import EvalJob
    from nasco.evo.search.task import task_spec
    from nasco.evo.search.train_evaluator import TrainEvaluator, WorkerSpec, run_job

    space = default_space((1, 8, 8), 10)
    spec = WorkerSpec(task_spec(tiny_config(Path("unused")).task, 0), space.to_dict(), {"device": "cpu"})
    layout = compile_space(space)
    # 12 epochs (about a second each): long enough that the worker is still training when it is killed
    jobs = [EvalJob(g, 100 + i, 12) for i, g in enumerate(sample_genomes(layout, np.random.default_rng(5), 3))]
    killed = []

    def kill_one_worker():
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for p in psutil.process_iter(["cmdline"]):
                if any("_ray_evaluate" in part for part in (p.info["cmdline"] or [])):
                    time.sleep(0.2)  # let it get into training
                    with contextlib.suppress(psutil.Error):
                        if any("_ray_evaluate" in part for part in p.cmdline()):  # still training: a real kill
                            p.kill()
                            killed.append(p.pid)
                            return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    executor = local_ray(TrainEvaluator(spec, "digits", {}), max_retries=2)
    results = list(executor.run(jobs, lambda: False))
    killer.join()
    assert killed, "no Ray worker was seen running a training task"
    assert sorted(job.seed for job, _ in results) == [100, 101, 102]
    for job, result in results:
        assert result.status == "ok"
        again = run_job(spec, EvalJob(job.genome, job.seed, job.fidelity)).result
        assert result.metrics["error"] == again.val_error
