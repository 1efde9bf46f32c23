"""The ``nasco`` command line: a thin layer over the library (one module per subcommand)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from nasco.archive import ArchiveError
from nasco.evo import cli_archive, cli_front, cli_report, cli_run, cli_space, cli_surrogate, cli_train
from nasco.evo.errors import NascoError
from nasco.surrogate import PredictorError

SUBCOMMANDS = (cli_run, cli_front, cli_report, cli_space, cli_train, cli_archive, cli_surrogate)


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
    """Entry point of the ``nasco`` console script; returns the exit status (2: bad input)."""
    args = make_parser().parse_args(argv)
    console = Console()
    if not console.is_terminal:  # files and pipes: wide enough that tables are not cut
        console = Console(width=160)
    try:
        status = args.run(args, console)
    except (NascoError, ArchiveError, PredictorError) as err:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 2
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
