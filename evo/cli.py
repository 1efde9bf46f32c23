"""The ``nasco`` command line: a thin layer over the library (one module per subcommand)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from nasco.evo import cli_space
from nasco.evo.errors import NascoError

SUBCOMMANDS = (cli_space,)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasco",
        description="Search a network's architecture together with its per-layer compression.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nasco`` console script; returns the exit status."""
    args = make_parser().parse_args(argv)
    try:
        args.run(args, Console())
    except NascoError as err:
        Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False, markup=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
