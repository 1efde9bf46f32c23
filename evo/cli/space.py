"""``nasco space``: summary of a search space, and the layer table and costs of genomes."""

from __future__ import annotations

import argparse
import math
from types import SimpleNamespace

import numpy as np
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nasco.evo.errors import NascoError
from nasco.evo.space.base import NetworkLayout, SpaceKind, SpaceLayout
from nasco.evo.space.genome import (
    genome_hash,
    parse_genome,
    pin_architecture,
    sample_genomes,
    space_size,
)
from nasco.evo.space.kinds import compile_any, space_kind
from nasco.evo.space.toml_io import dump_space, load_space
from nasco.kernels.tables import COST_NAMES

MAX_RANDOM = 1000


class CliError(NascoError, ValueError):
    """A command-line value is invalid."""


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"1x28x28"`` → (1, 28, 28)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise CliError(f"--input: {text!r} is not allowed; allowed: CxHxW with positive integers, e.g. 1x28x28")
    c, h, w = (int(p) for p in parts)
    return c, h, w


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "space", help="summarize a search space; show genomes' layer tables and costs",
        description="Print a search space's genes, choices and size; with --genome or --random, "
                    "the layer table and exact costs of genomes.",
    )
    p.add_argument("--space", metavar="FILE.toml", help="space file of any kind (default: the default space of "
                                                        "--kind)")
    p.add_argument("--kind", default="mobilenet",
                   help="kind of the default space: mobilenet (images), sequence (token classifiers of 1-D conv "
                        "and transformer blocks) or an installed plugin's kind; ignored with --space")
    p.add_argument("--input", default="1x28x28", metavar="CxHxW", help="input shape of the default mobilenet space "
                                                                     "(1x28x28)")
    p.add_argument("--length", type=int, default=32, help="tokens per text of the default sequence space (32)")
    p.add_argument("--vocab", type=int, default=64, help="token ids of the default sequence space (64)")
    p.add_argument("--classes", type=int, default=10, help="number of classes for the default space (10)")
    genomes = p.add_mutually_exclusive_group()
    genomes.add_argument("--genome", metavar='"g0,g1,..."', help="one genome: integers separated by commas/spaces")
    genomes.add_argument("--random", type=int, metavar="N", help="show N random genomes")
    p.add_argument("--seed", type=int, default=0, help="seed for --random (0)")
    p.add_argument("--toml", action="store_true", help="print the space as TOML (a start for your own space)")
    p.add_argument("--pin-architecture", action="store_true",
                   help="with --genome: the space with that network's architecture pinned ([fixed] genes), "
                        "so a campaign on it searches only the compression of that network")
    p.set_defaults(run=run)


def default_of(kind: SpaceKind, args: argparse.Namespace):
    """The default space of ``kind`` for the input the flags describe (--input for images; --length and
    --vocab for texts) and --classes."""
    if kind.inputs == "texts":
        task = SimpleNamespace(name="--length/--vocab", input_shape=(args.length,), vocab_size=args.vocab,
                               num_classes=args.classes, is_text=True)
    elif kind.inputs == "images":
        task = SimpleNamespace(name="--input", input_shape=parse_shape(args.input), num_classes=args.classes,
                               is_text=False)
    else:
        raise CliError(f"--kind {kind.name}: the kind has no default space; allowed: --space FILE.toml")
    return kind.default_for(task)


def run(args: argparse.Namespace, console: Console) -> None:
    space = load_space(args.space) if args.space else default_of(space_kind(args.kind), args)
    layout = compile_any(space)
    if args.pin_architecture:
        if args.genome is None or not layout.network:
            raise CliError("--pin-architecture: needs --genome and a network space (mobilenet or sequence kind)")
        space = pin_architecture(layout, parse_genome(args.genome))
        if not args.toml:
            return print_summary(compile_any(space), console)
    if args.toml:
        console.print(dump_space(space), markup=False, highlight=False)
        return
    if not layout.network:
        return print_genes(layout, args, console)
    print_summary(layout, console)
    if args.genome is not None:
        print_genome(layout, parse_genome(args.genome), console)
    elif args.random is not None:
        if args.seed < 0:
            raise CliError(f"--seed: {args.seed} is not allowed; allowed: integers ≥ 0")
        if not 1 <= args.random <= MAX_RANDOM:
            raise CliError(f"--random: {args.random} is not allowed; allowed: 1..{MAX_RANDOM} (each genome prints its "
                           "layer table)")
        for genome in sample_genomes(layout, np.random.default_rng(args.seed), args.random):
            print_genome(layout, genome, console)


def print_genes(layout: SpaceLayout, args: argparse.Namespace, console: Console) -> None:
    """A space without a network: its genes, and the gene values (and cheap costs) of genomes."""
    size = math.prod(int(n) for n in layout.upper_bounds)
    console.print(f"[bold]space[/] {escape(layout.space.name)}  kind {layout.space.kind}  id {layout.space.space_id}"
                  f"  {layout.n_genes} genes, {_scientific(size)} distinct genomes")
    table = Table("gene", "name", "choices", "encoding", title="genes", title_justify="left", box=box.SIMPLE_HEAD)
    encodings = getattr(layout, "encodings", ("",) * layout.n_genes)  # how the surrogate sees each gene
    for g, (name, choices) in enumerate(zip(layout.gene_names, layout.gene_choices, strict=True)):
        how = encodings[g] if len(choices) > 1 else "fixed"
        table.add_row(str(g), escape(name), escape(", ".join(map(str, choices))), how)
    console.print(table)
    if args.genome is not None:
        genomes = layout.as_genomes(parse_genome(args.genome))
    elif args.random is not None:
        if not 1 <= args.random <= MAX_RANDOM:
            raise CliError(f"--random: {args.random} is not allowed; allowed: 1..{MAX_RANDOM}")
        genomes = layout.sample(np.random.default_rng(args.seed), args.random)
    else:
        return
    costs = layout.costs(genomes)
    table = Table("hash", *layout.gene_names, *layout.cost_names, box=box.SIMPLE_HEAD)
    for genome, cost in zip(genomes, costs, strict=True):
        table.add_row(layout.hash(genome), *(escape(str(v)) for v in layout.gene_values(genome).values()),
                      *(f"{c:.6g}" for c in cost))
    console.print(table)


def _scientific(n: int) -> str:
    """An exact integer of any size as d.ddde+XX (a float would overflow past 1e308)."""
    digits = str(n)
    return f"{digits[0]}.{digits[1:4].ljust(3, '0')}e+{len(digits) - 1:02d}"


def print_summary(layout: NetworkLayout, console: Console) -> None:
    space = layout.space
    size = space_size(layout)
    console.print(f"[bold]space[/] {escape(space.name)}  id {space.space_id}  {layout.summary()}")
    console.print(f"{layout.n_genes} genes, {_scientific(size)} distinct networks (10^{math.log10(size):.1f})")
    table = Table("gene", "name", "choices", title="genes", title_justify="left", box=box.SIMPLE_HEAD)
    for g, (name, choices) in enumerate(zip(layout.gene_names, layout.gene_choices, strict=True)):
        table.add_row(str(g), name, ", ".join(f"{c:g}" for c in choices))
    console.print(table)


def short_name(name: str) -> str:
    """``stages[1].blocks[0].depthwise`` → ``s1.b0.depthwise`` (table columns stay narrow)."""
    return name.replace("stages[", "s").replace("].blocks[", ".b").replace("]", "")


def print_genome(layout: NetworkLayout, genome: np.ndarray, console: Console) -> None:
    console.print(f"\n[bold]genome[/] {genome_hash(layout, genome)}: {','.join(map(str, np.ravel(genome)))}")
    headers, rows = layout.genome_table(genome)
    console.print(rich_table(headers, [(short_name(row[0]), *row[1:]) for row in rows]))
    costs = dict(zip(COST_NAMES, map(int, layout.exact_costs(genome)[0]), strict=True))
    console.print(
        f"MACs {costs['macs']:,}  params {costs['params']:,}  BitOps {costs['bitops']:,}\n"
        f"weights {costs['size_bits'] / 8192:.2f} KiB  peak activations {costs['peak_act_bits'] / 8192:.2f} KiB",
        highlight=False)


def rich_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], title: str | None = None) -> Table:
    """A :meth:`SpaceLayout.genome_table` as a rich table (cells printed as text, never as markup)."""
    table = Table(*headers, box=box.SIMPLE_HEAD, title=title, title_justify="left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    return table
