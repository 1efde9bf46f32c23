"""The inner search on the surrogate (search.proposal = "inner") and screening by hypervolume improvement
(search.acquisition = "hypervolume"): what they may propose, determinism, resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_evaluators import (  # noqa: F401  (fixtures: table_file, _importable_tests)
    GENES,
    STOP_AFTER,
    _importable_tests,
    archive_rows,
    config,
    table_config,
    table_file,
    toy_evaluator,
)

from nasco.evo import run_campaign

INNER = {"proposal": "inner", "generations": 5, "inner_generations": 8, "inner_population": 24,
         "inner_exhaustive": 0}  # the 192-genome toy space would otherwise be scored whole
SCREEN_HV = {"acquisition": "hypervolume", "generations": 5}


@pytest.mark.parametrize("exhaustive", [0, 1000], ids=["inner-nsga2", "whole-space"])
def test_inner_proposals_are_new_distinct_and_feasible_and_recorded(tmp_path, table_file, exhaustive):  # noqa: F811
    settings = table_config(tmp_path, table_file)
    settings["search"] = {**settings["search"], **INNER, "inner_exhaustive": exhaustive}
    settings["constraints"] = {"limits": {"metric:cost": 9}}  # a cheap table column: checked before evaluation
    result = run_campaign(settings)
    records = result.records
    assert len(records) == 8 + 5 * 4  # every slot evaluated a genome never seen before
    assert len(set(records.column("genome_hash").tolist())) == len(records)
    assert records.column("cost").max() <= 9
    lines = [json.loads(line) for line in (result.folder / "surrogate.jsonl").read_text().splitlines()]
    assert lines and all(line["proposal"] == "inner" and line["family"] == "gp+inner" for line in lines)
    assert all(line["selection_s"] > 0 and line["proposal_s"] > 0 for line in lines)  # surrogate time per generation
    log = (result.folder / "log.txt").read_text()
    assert "+inner" in log and " surrogate " in log


def test_hypervolume_screening_picks_new_feasible_genomes_that_the_plain_front_rank_would_not(tmp_path, table_file):  # noqa: F811
    runs = {}
    for acquisition in ("front", "hypervolume"):
        settings = table_config(tmp_path, table_file, name=acquisition)
        settings["search"] = {**settings["search"], "proposal": "screen", "acquisition": acquisition, "generations": 5}
        settings["constraints"] = {"limits": {"metric:cost": 9}}
        runs[acquisition] = run_campaign(settings).records
    records = runs["hypervolume"]
    assert len(records) == 8 + 5 * 4 and len(set(records.column("genome_hash").tolist())) == len(records)
    assert records.column("cost").max() <= 9
    first = {a: r.genome_matrix()[:8] for a, r in runs.items()}
    assert np.array_equal(first["front"], first["hypervolume"])  # generation 0 is the same …
    hashes = {a: set(r.column("genome_hash").tolist()) for a, r in runs.items()}
    assert hashes["front"] != hashes["hypervolume"]  # … the screened generations are not


def test_a_small_space_is_scored_whole():
    from nasco.evo.search.inner import every_genome, inner_pool
    from nasco.evo.search.nsga import GeneBounds
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.space.toml_io import space_from_dict

    layout = compile_any(space_from_dict({"kind": "genes", "genes": GENES}))
    bounds = GeneBounds(layout)
    assert bounds.size == 8 * 8 * 3
    whole = every_genome(layout, bounds)
    assert len(whole) == 192 == len(np.unique(whole, axis=0))

    def score(genomes):
        return genomes[:, :2].astype(float), np.zeros(len(genomes), bool)

    assert np.array_equal(inner_pool(layout, bounds, whole[:3], score, generations=2, population=8, seed=0,
                                     exhaustive=192), whole)
    searched = inner_pool(layout, bounds, whole[:3], score, generations=2, population=8, seed=0, exhaustive=191)
    assert 8 <= len(searched) < 192  # one genome more than exhaustive: the inner NSGA-II's visits
    bounds.high[0] = 3  # narrowed bounds (compression strategies) narrow the whole space too
    assert len(every_genome(layout, bounds)) == 4 * 8 * 3


@pytest.mark.parametrize("search", [INNER, SCREEN_HV], ids=["inner", "screen-hypervolume"])
def test_proposals_are_deterministic_and_resume_to_the_same_archive(tmp_path, search):
    first = run_campaign(config(tmp_path, "first", search=search), evaluator=toy_evaluator)
    second = run_campaign(config(tmp_path, "first", search=search, campaign={"out": str(tmp_path / "second")}),
                          evaluator=toy_evaluator)
    assert archive_rows(first.folder) == archive_rows(second.folder)

    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path / "stopped"
    c = prepare_run_folder(folder, as_config(config(tmp_path, "first", search=search, campaign={"out": str(folder)},
                                                    executor={"workers": 1})), resume=False, force=False)
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=14, campaign=campaign)  # inside generation 2, the first the surrogate proposes
    campaign.run()
    STOP_AFTER.clear()
    assert campaign.stopped
    run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)
    assert archive_rows(folder) == archive_rows(first.folder)
    assert np.all(np.isfinite([r[3][0] for r in archive_rows(folder)]))
