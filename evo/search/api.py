"""The Python API: one call runs (or resumes) a campaign, like Optuna's ``study.optimize``.

>>> from nasco.evo import run_campaign
>>> result = run_campaign({"space": {"kind": "genes", "genes": {"x": [0, 1, 2, 3]}},
...                        "objectives": {"names": ["error", "metric:cost"]}, ...},
...                       evaluator=lambda c: {"error": ..., "cost": ...})
>>> result.front  # the final front's records
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from nasco.archive import HDF5Archive, RecordTable
from nasco.evo.errors import NascoError
from nasco.evo.search.campaign import Campaign
from nasco.evo.search.config import CampaignConfig, config_from_dict, load_config
from nasco.evo.search.evaluators import Evaluator
from nasco.evo.search.run_folder import ARCHIVE_FILE, prepare_run_folder


@dataclass
class CampaignResult:
    """What a campaign found: the final ``front`` (records), every ``records`` of this campaign, the run
    ``folder``; ``empty_front``: why a finished campaign found no feasible candidate (None: it found some)."""

    front: RecordTable
    records: RecordTable
    folder: Path
    config: CampaignConfig
    stopped: bool = False
    empty_front: str | None = None


def as_config(config: CampaignConfig | Mapping | str | Path | None) -> CampaignConfig:
    """A validated config from a config object, a nested dict (TOML-shaped), a TOML path, or None (defaults)."""
    if config is None:
        return config_from_dict({})
    if isinstance(config, CampaignConfig):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(dict(config))
    return load_config(config)


def run_campaign(config: CampaignConfig | Mapping | str | Path | None = None, *,
                 evaluator: Evaluator | Callable | None = None, space: Any = None, folder: str | Path | None = None,
                 resume: bool = False, force: bool = False, console: Console | None = None) -> CampaignResult:
    """Run (or continue) a campaign and return what it found.

    Args:
        config: see :func:`as_config`; ``[campaign] out`` is the run folder unless ``folder`` is given.
        evaluator: an :class:`Evaluator`, or a callable taking a
            :class:`~nasco.evo.search.evaluators.Candidate` and returning a dict of metrics
            (``[evaluator] metrics`` lists them; default ``error``). None: the config's ``[evaluator]``.
        space: a declared space (e.g. :class:`~nasco.evo.space.genes.GenesSpace`) or its dict; None:
            the config's ``[space]``.
        resume, force: as ``nasco run --resume/--force``.

    Raises:
        NascoError: a bad config, space or evaluator, before anything is evaluated.
    """
    if config is None and resume:  # continue what the run folder holds, with its stored config
        if folder is None:
            raise NascoError("resume without a config needs the run folder (folder=…)")
        folder = Path(folder)
        config = prepare_run_folder(folder, None, resume=True, force=False)
    else:
        config = as_config(config)
        folder = Path(folder if folder is not None else config.campaign.out)
        config = prepare_run_folder(folder, config.replace("campaign", out=str(folder)), resume=resume, force=force)
    campaign = Campaign(config, folder, console=console, evaluator=evaluator, space=space)
    front = campaign.run()
    with HDF5Archive(folder / ARCHIVE_FILE) as archive:
        records = archive.table().filter(campaign=config.campaign.name)
    return CampaignResult(front, records, folder, config, campaign.stopped, campaign.empty_front)
