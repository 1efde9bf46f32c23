"""Shared fixtures: single-threaded torch, a temporary image cache, compiled default spaces at the
four input shapes, and the tiny campaign (run once per session; its run folder feeds the campaign,
front and report tests)."""

from __future__ import annotations

import time

import pytest
import torch
from campaign_helpers import tiny_config

from nasco.evo import compile_space, default_space

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32), (3, 224, 224)]

torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _image_cache_in_a_temporary_folder(tmp_path_factory):
    """Decoded image folders go to a session folder, never to the user's ~/.cache (subprocesses inherit it)."""
    import os

    os.environ["NASCO_CACHE_DIR"] = str(tmp_path_factory.mktemp("nasco-cache"))
    yield


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say loudly, last, when the browser tests did not run and how to run them."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "chromium" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} browser test(s) SKIPPED: Debian's chromium is not installed",
                                   yellow=True)
        terminalreporter.write_line("The HTML report's rendering was not checked. Enable these tests with: "
                                    "apt-get install chromium  (bash .ci/run installs it itself)")


@pytest.fixture(params=SHAPES, ids=lambda s: "x".join(map(str, s)))
def layout(request):
    return compile_space(default_space(request.param, 10))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """(run folder, config, final front, seconds) of the tiny campaign, uninterrupted, in this process."""
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path_factory.mktemp("tiny") / "run"
    config = prepare_run_folder(folder, tiny_config(folder), resume=False, force=False)
    started = time.perf_counter()
    front = Campaign(config, folder).run()
    return folder, config, front, time.perf_counter() - started
