"""The HTML report: self-contained, escaped, and rendered by a real (headless, offline) Chromium."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from campaign_helpers import logged_hypervolumes, synthetic_archive, tiny_config

from nasco.evo.cli.main import main
from nasco.evo.results.report_data import load_report_data
from nasco.evo.search.config import dump_config

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def evil_run(tmp_path_factory):
    """A run folder whose campaign name and campaign ids are a script tag."""
    folder = tmp_path_factory.mktemp("evil")
    synthetic_archive(folder / "archive.h5", 150, campaign=EVIL)
    config = tiny_config(folder).replace("campaign", name=EVIL)
    (folder / "config.toml").write_text(dump_config(config), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reports(tiny_run, evil_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    assert main(["report", str(tiny_run[0]), "-o", str(out / "tiny.html")]) == 0
    assert main(["report", str(evil_run), "-o", str(out / "evil.html")]) == 0
    return out / "tiny.html", out / "evil.html"


def test_report_data_of_a_campaign(tiny_run):
    folder, config, _, _ = tiny_run
    data = load_report_data(folder)
    assert data.title == "tiny" and data.rows
    # the retrained final front by default (it used to show the search fidelity's errors)
    assert data.front.stage == "final" and data.front.fidelity == config.training.final_epochs
    assert all(r["test_error"] is not None for r in data.rows)
    search = load_report_data(folder, stage="search")
    assert search.front.stage == "search" and search.front.fidelity == config.training.epochs
    assert search.hv_by_generation == data.hv_by_generation  # progress is the search's either way
    assert [g for g, _ in data.hv_by_generation] == [0, 1, 2, 3]
    logged = logged_hypervolumes(folder)  # the campaign's own measure, computed while it ran
    assert np.allclose([v for _, v in data.hv_by_generation], [logged[g] for g in range(4)], atol=6e-5), \
        (data.hv_by_generation, logged)
    assert data.hv_by_generation[-1][1] > 0
    assert data.parity and all(len(e["true"]) == len(e["predicted"]) > 0 for e in data.parity)
    assert data.bits_map.shape == (len(data.slot_names), len(data.rows))
    assert len(data.layer_tables) == len(data.rows)


def test_report_is_self_contained_and_escapes_archive_strings(reports):
    tiny, evil = (p.read_text(encoding="utf-8") for p in reports)
    for page in (tiny, evil):
        assert not re.search(r"<script[^>]+src=", page)  # plotly inlined, nothing fetched
    assert EVIL not in evil  # never raw: HTML-escaped in the page, \u003c-escaped inside scripts
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evil


def _browser():
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium; apt-get install chromium)")
    return playwright, executable


def _open(path, check):
    playwright, executable = _browser()
    errors, dialogs = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1280, "height": 1800}, offline=True)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_selector("#front .main-svg", timeout=30_000)
        result = check(page)
        browser.close()
    assert errors == [] and dialogs == []
    return result


def test_report_renders_in_chromium_and_click_shows_layers(reports, tmp_path):
    def check_campaign(page):
        assert page.locator("#front .scatterlayer .trace").count() == 2
        assert page.locator("#front .scatterlayer .point").count() >= 16  # every trained candidate
        for plot in ("hv", "parity", "heatmap"):
            assert page.locator(f"#{plot} .main-svg").count() >= 1
        assert page.locator("#parity .scatterlayer .point").count() >= 1  # surrogate predictions per refit
        assert page.locator("#heatmap .hm, #heatmap image").count() >= 1
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    _open(reports[0], check_campaign)
    assert (tmp_path / "report.png").stat().st_size > 20_000

    def click_last_front_point(page):
        first = page.locator("#layers-title").inner_text()
        points = page.locator("#front .scatterlayer .trace").nth(1).locator(".point")
        assert points.count() >= 3
        box = points.last.bounding_box()  # plotly picks the point on hover, then reports the click
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        page.wait_for_function(f"document.getElementById('layers-title').textContent !== {first!r}", timeout=10_000)
        return first, page.locator("#layers-title").inner_text(), page.locator("#layers tr").count()

    first, clicked, rows = _open(reports[1], click_last_front_point)
    assert first.startswith("Layer table of ") and clicked.startswith("Layer table of ") and clicked != first
    assert rows > 5


def test_script_in_a_campaign_name_renders_as_text(reports):
    def check(page):
        return page.locator("#title").inner_text(), page.title(), page.locator("script").count()

    heading, title, scripts = _open(reports[1], check)
    assert EVIL in heading and EVIL in title
    assert scripts == 2  # plotly and the report's own code, nothing injected
