"""The inner search on the surrogate (search.proposal = "inner"): what it may propose, determinism, resume."""

from __future__ import annotations

import json

import numpy as np
from test_evaluators import (  # noqa: F401  (fixtures: table_file, _importable_tests)
    STOP_AFTER,
    _importable_tests,
    archive_rows,
    config,
    table_config,
    table_file,
    toy_evaluator,
)

from nasco.evo import run_campaign

INNER = {"proposal": "inner", "generations": 5, "inner_generations": 8, "inner_population": 24}


def test_inner_proposals_are_new_distinct_and_feasible_and_recorded(tmp_path, table_file):  # noqa: F811
    settings = table_config(tmp_path, table_file)
    settings["search"] = {**settings["search"], **INNER}
    settings["constraints"] = {"limits": {"metric:cost": 9}}  # a cheap table column: checked before evaluation
    result = run_campaign(settings)
    records = result.records
    assert len(records) == 8 + 5 * 4  # every slot evaluated a genome never seen before
    assert len(set(records.column("genome_hash").tolist())) == len(records)
    assert records.column("cost").max() <= 9
    lines = [json.loads(line) for line in (result.folder / "surrogate.jsonl").read_text().splitlines()]
    assert lines and all(line["proposal"] == "inner" and line["family"].endswith("+inner") for line in lines)
    assert all(line["selection_s"] > 0 and line["proposal_s"] > 0 for line in lines)  # surrogate time per generation
    log = (result.folder / "log.txt").read_text()
    assert "+inner" in log and " surrogate " in log


def test_inner_search_is_deterministic_and_resumes_to_the_same_archive(tmp_path):
    first = run_campaign(config(tmp_path, "first", search=INNER), evaluator=toy_evaluator)
    second = run_campaign(config(tmp_path, "first", search=INNER, campaign={"out": str(tmp_path / "second")}),
                          evaluator=toy_evaluator)
    assert archive_rows(first.folder) == archive_rows(second.folder)

    from nasco.evo.search.api import as_config
    from nasco.evo.search.campaign import Campaign
    from nasco.evo.search.run_folder import prepare_run_folder

    folder = tmp_path / "stopped"
    c = prepare_run_folder(folder, as_config(config(tmp_path, "first", search=INNER,
                                                    campaign={"out": str(folder)})), resume=False, force=False)
    campaign = Campaign(c, folder, evaluator=toy_evaluator)
    STOP_AFTER.update(calls=14, campaign=campaign)  # inside generation 2, the first inner-proposed one
    campaign.run()
    STOP_AFTER.clear()
    assert campaign.stopped
    run_campaign(c, evaluator=toy_evaluator, folder=folder, resume=True)
    assert archive_rows(folder) == archive_rows(first.folder)
    assert np.all(np.isfinite([r[3][0] for r in archive_rows(folder)]))
