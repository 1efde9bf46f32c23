"""``nasco init``, ``nasco run`` and ``nasco resume``: write a config, run or continue a campaign."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from nasco.archive.atomic import write_atomic
from nasco.evo.cli.main import print_error
from nasco.evo.cli.space import CliError
from nasco.evo.search import api
from nasco.evo.search.config import CampaignConfig, example_config, load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="write a commented example campaign config",
                       description="Write the default campaign configuration, every field with its comment.")
    p.add_argument("path", nargs="?", default="nasco.toml", help="where to write it (nasco.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(run=run_init)

    p = sub.add_parser(
        "run", help="run an evolution campaign (without CONFIG: the default campaign on digits)",
        description="Run a campaign: NSGA-II over architecture and per-layer compression, surrogate screening, "
                    "training of the promising candidates, every result in the run folder's archive.h5. "
                    "Without CONFIG, the default campaign on scikit-learn's digits (4 to 10 minutes on 2 CPU "
                    "cores, by CPU). Budgets ([search]): max_evaluations (evaluated candidates, any evaluator; "
                    "stops the campaign by itself), generations (with population and offspring), max_wall_s; a "
                    "space whose every genome is evaluated ends the campaign. Exit status: 0 done, 1 finished "
                    "without a feasible candidate (the reason "
                    "is printed), 2 bad input, 130 stopped by Ctrl-C.")
    p.add_argument("config", nargs="?", metavar="CONFIG", help="campaign TOML (nasco init writes one)")
    p.add_argument("--out", metavar="DIR", help="run folder (default: [campaign] out)")
    p.add_argument("--seed", type=int, help="campaign seed (default: [campaign] seed)")
    p.add_argument("--warm-start", nargs="+", metavar="ARCHIVE", help="archives of earlier campaigns in the same "
                   "space whose records this campaign starts from (as [campaign] warm_start): this task's records "
                   "are not evaluated again, other tasks' warm-start the surrogate")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue the campaign already in the run folder")
    mode.add_argument("--force", action="store_true", help="replace the campaign already in the run folder")
    p.set_defaults(run=run_campaign)

    p = sub.add_parser("resume", help="continue a stopped or killed campaign",
                       description="Continue the campaign of a run folder from its last checkpoint; candidates "
                                   "already in its archive are not trained again.")
    p.add_argument("folder", metavar="RUN_DIR", help="the campaign's run folder")
    p.set_defaults(run=run_resume)


def run_init(args: argparse.Namespace, console: Console) -> int:
    path = Path(args.path)
    if path.exists() and not args.force:
        raise CliError(f"{path} exists; use --force to overwrite it")
    write_atomic(path, example_config())
    console.print(f"wrote {path}; run it with: nasco run {path}", highlight=False)
    return 0


def run_campaign(args: argparse.Namespace, console: Console) -> int:
    config = load_config(args.config) if args.config else CampaignConfig()
    if args.seed is not None:
        config = config.replace("campaign", seed=args.seed)
    if args.warm_start:
        config = config.replace("campaign", warm_start=[str(Path(p).resolve()) for p in args.warm_start])
    result = api.run_campaign(config, folder=args.out, resume=args.resume, force=args.force, console=console)
    return _status(result)


def run_resume(args: argparse.Namespace, console: Console) -> int:
    return _status(api.run_campaign(None, folder=args.folder, resume=True, console=console))


def _status(result: api.CampaignResult) -> int:
    """130: stopped by Ctrl-C; 1: finished with an empty front (said why on stderr); else 0."""
    if result.stopped:
        return 130
    if result.empty_front is not None:
        print_error(f"the campaign found no feasible candidate: {result.empty_front}; relax the constraints or "
                    f"check the evaluator (records in {result.folder / 'archive.h5'})")
        return 1
    return 0
