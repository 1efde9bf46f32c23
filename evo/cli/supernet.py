"""``nasco supernet train|eval``: train a campaign's weight-sharing supernet; score genomes by inheritance."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from nasco.evo.cli.space import CliError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("supernet", help="train a weight-sharing supernet; evaluate genomes with inherited weights",
                       description="A campaign with evaluator.kind = 'supernet' scores genomes with weights "
                                   "inherited from one supernet trained on its task ([supernet] settings, "
                                   "the [training] recipe); one with supernet.surrogate_feature = true trains "
                                   "its candidates and shows its surrogate each genome's inherited error. These "
                                   "commands train the supernet ahead of the campaign and evaluate genomes with it.")
    actions = p.add_subparsers(dest="supernet_command", metavar="ACTION", required=True)
    train = actions.add_parser("train", help="train (or resume) the supernet a campaign config describes",
                               description="Train the supernet of CONFIG (resumed from its checkpoint when a "
                                           "training of the same recipe stopped early) and store it at "
                                           "supernet.file (default: supernet.pt in the run folder).")
    train.add_argument("config", metavar="CONFIG", help="campaign TOML")
    train.set_defaults(run=run_train)
    ev = actions.add_parser("eval", help="validation error of genomes with inherited weights",
                            description="Extract each genome's sub-network from the trained supernet, recalibrate "
                                        "its BatchNorm statistics and print its validation error and the seconds "
                                        "it took; --train also trains each genome stand-alone for comparison.")
    ev.add_argument("config", metavar="CONFIG", help="campaign TOML")
    which = ev.add_mutually_exclusive_group(required=True)
    which.add_argument("--genome", action="append", metavar='"g0,g1,..."', help="a genome (repeatable)")
    which.add_argument("--random", type=int, metavar="N", help="N random genomes of the space")
    ev.add_argument("--train", action="store_true", help="also train each genome stand-alone (training.epochs)")
    ev.add_argument("--seed", type=int, default=0, help="seed of --random and of the calibration batches (0)")
    ev.set_defaults(run=run_eval)


def _setup(path: str) -> tuple:
    """(config, layout, task, supernet settings, recipe id, checkpoint path) of a campaign config."""
    from nasco.evo.search.config import load_config
    from nasco.evo.search.plan import campaign_space
    from nasco.evo.search.supernet_evaluator import supernet_config, supernet_path
    from nasco.evo.search.task import load_task_spec, task_spec
    from nasco.evo.space.kinds import compile_any
    from nasco.evo.train.supernet import recipe_id

    config = load_config(path)
    task = load_task_spec(task_spec(config.task, config.campaign.seed))
    layout = compile_any(campaign_space(config, task))
    if not layout.network:
        raise CliError(f"{path}: a supernet needs a network space; this config's space has no network")
    settings = supernet_config(config)
    return config, layout, task, settings, recipe_id(layout, task, settings, config.campaign.seed), \
        supernet_path(config)


def run_train(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.search.supernet_evaluator import ensure_trained

    config, layout, task, settings, _, path = _setup(args.config)
    info = ensure_trained(layout, task, settings, path, config.campaign.seed, console)
    if info is None:
        console.print(f"saved {path}", highlight=False)
    else:
        console.print(f"{path}: already trained ({info['epoch']} epochs, {info['seconds']:.0f} s); nothing to do",
                      highlight=False)
    return 0


def run_eval(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.space.genome import costs_dict, genome_hash, parse_genome, sample_genomes
    from nasco.evo.train.supernet import inherit, load_supernet
    from nasco.evo.train.trainer import TrainConfig, train_candidate

    config, layout, task, settings, recipe, path = _setup(args.config)
    supernet, info = load_supernet(path, layout, device=settings.train.device, recipe=recipe)
    if args.random is not None:
        if args.random < 1:
            raise CliError(f"--random: {args.random} is not allowed; allowed: integers ≥ 1")
        genomes = list(sample_genomes(layout, np.random.default_rng(args.seed), args.random))
    else:
        genomes = [layout.as_genomes(parse_genome(text))[0] for text in args.genome]
    columns = ["genome", "MACs", "BitOps", "inherited error", "seconds"]
    if args.train:
        columns += ["trained error", "training s"]
    table = Table(*columns, title=f"{path} ({info['epoch']} epochs, {info['seconds']:.0f} s of training) on "
                                  f"{task.name}", title_justify="left")
    recipe_config = TrainConfig(epochs=config.training.epochs, batch_size=config.training.batch_size,
                                lr=config.training.lr, device=config.training.device)
    for genome in genomes:
        done = inherit(supernet, genome, task, settings, seed=args.seed)
        costs = costs_dict(layout, genome)
        row = [genome_hash(layout, genome), f"{costs['macs']:,}", f"{costs['bitops']:,}", f"{done.error:.4f}",
               f"{done.seconds:.2f}"]
        if args.train:
            result, _ = train_candidate(layout, genome, task, recipe_config, seed=args.seed)
            row += [f"{result.val_error:.4f}" if result.status == "ok" else f"failed: {result.reason}",
                    f"{result.wall_time_s:.1f}"]
        table.add_row(*row)
    console.print(table)
    return 0
