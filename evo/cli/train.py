"""``nasco train``: train one candidate on a task, print its result, optionally save it."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from rich.console import Console

from nasco.evo.cli.space import CliError
from nasco.evo.space.genome import fixed_genome, genome_hash, parse_genome
from nasco.evo.space.kinds import compile_any, kind_for_inputs
from nasco.evo.space.toml_io import load_space
from nasco.evo.train.candidate_io import save_candidate
from nasco.evo.train.datasets import TASK_NAMES, load_task
from nasco.evo.train.trainer import TrainConfig, TrainResult, train_candidate


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one candidate (QAT + gradual pruning) and report its validation error",
        description="Train one genome with the compression it asks for, slim it, and print the validation "
                    "error, MACs and timing. Without --genome, a uniform genome is built from --arch, "
                    "--weight-bits, --act-bits and --prune.",
    )
    p.add_argument("--task", default="digits", choices=TASK_NAMES, help="dataset (digits)")
    p.add_argument("--root", help="dataset folder (torchvision, imagefolder), .npz file, word-list folder (langid) or "
                                  "text file/folder (text)")
    p.add_argument("--download", action="store_true", help="let torchvision download the dataset into --root")
    p.add_argument("--train-subset", type=int, default=0, metavar="N",
                   help="train on a class-stratified subset of N training examples (0: all), as [task] train_subset")
    p.add_argument("--max-length", type=int, metavar="T", help="text tasks: tokens per text (the dataset's default)")
    p.add_argument("--tokenizer", choices=("char", "word"), help="text tasks: tokens (the dataset's default)")
    p.add_argument("--space", metavar="FILE.toml", help="space file (default: the default space for the task: "
                                                        "mobilenet for images, sequence for texts)")
    p.add_argument("--genome", metavar='"g0,g1,..."', help="the genome to train")
    p.add_argument("--arch", default="mid", choices=("min", "mid", "max"), help="architecture choices (mid)")
    p.add_argument("--weight-bits", type=int, default=32, help="weight bits of every layer (32 = float)")
    p.add_argument("--act-bits", type=int, default=32, help="activation bits of every layer (32 = float)")
    p.add_argument("--prune", type=float, default=0.0, help="prune ratio of every channel group (0)")
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help=f"epochs ({TrainConfig.epochs})")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                   help=f"batch size ({TrainConfig.batch_size})")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help=f"peak learning rate ({TrainConfig.lr})")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (auto)")
    p.add_argument("--seed", type=int, default=0, help="training seed (0)")
    p.add_argument("-o", "--out", metavar="DIR", help="save the trained slim model and genome here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Returns 0 when training finished, 1 when the candidate failed (the reason is printed)."""
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device)
    task = load_task(args.task, root=args.root, download=args.download, seed=args.seed, train_subset=args.train_subset,
                     max_length=args.max_length, tokenizer=args.tokenizer)
    space = load_space(args.space) if args.space else kind_for_inputs("texts" if task.is_text else "images"
                                                                      ).default_for(task)
    layout = compile_any(space)
    if not layout.network:
        raise CliError(f"--space: {args.space} is a {layout.space.kind} space without a network; nasco train "
                       "trains network spaces (evaluate genes spaces with your own evaluator)")
    if args.genome is not None:
        genome = parse_genome(args.genome)
    else:
        if not 0 <= args.prune < 1:
            raise CliError(f"--prune: {args.prune} is not allowed; allowed: 0 ≤ ratio < 1")
        genome = fixed_genome(layout, arch=args.arch, weight_bits=args.weight_bits, act_bits=args.act_bits,
                              prune=args.prune)
    costs = dict(zip(layout.cost_names, layout.costs(genome)[0], strict=True))
    console.print(f"training {genome_hash(layout, genome)} on {task.name} ({len(task.train)} train / "
                  f"{len(task.val)} val examples), {costs['macs']:,.0f} MACs, {costs['bitops']:.4g} BitOps, "
                  f"{config.epochs} epochs", highlight=False)

    def progress(partial: TrainResult) -> None:
        console.print(f"  epoch {partial.epochs:>3}/{config.epochs}  train loss {partial.train_loss[-1]:.4f}  "
                      f"val error {partial.val_error_curve[-1]:.4f}", highlight=False)

    result, model = train_candidate(layout, genome, task, config, seed=args.seed, progress=progress)
    shown = {k: v for k, v in dataclasses.asdict(result).items() if k not in ("train_loss", "val_error_curve")}
    for key, value in shown.items():
        console.print(f"{key:>12}: {value}", highlight=False)
    if model is not None:
        from nasco.evo.train.trainer import evaluate

        test = evaluate(model, task, "test")
        console.print(f"{'test_error':>12}: {test:.4f}" if test == test else f"{'test_error':>12}: no test split",
                      highlight=False)
    if model is not None and args.out:
        save_candidate(args.out, layout, np.asarray(genome), model)
        console.print(f"saved to {args.out}", highlight=False)
    return 0 if result.status == "ok" else 1
