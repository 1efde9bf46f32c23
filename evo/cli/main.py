"""The ``nasco`` command line: a thin layer over the library (one module per subcommand)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from rich.console import Console
from rich.markup import escape

from nasco.archive import ArchiveError, ArchiveWriteError
from nasco.evo.errors import NascoError

# Subcommand → the module that defines it. Only the module of the command being run is imported
# (all of them for `nasco --help`), so light commands never import torch.
COMMANDS = {"run": "run", "init": "run", "resume": "run", "front": "front", "show": "front",
            "report": "report", "export": "report", "space": "space", "train": "train",
            "archive": "archive", "surrogate": "surrogate", "latency": "latency",
            "supernet": "supernet"}


def make_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasco",
        description="Search a network's architecture together with its per-layer compression.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    wanted = [COMMANDS[words[0]]] if words and words[0] in COMMANDS else sorted(set(COMMANDS.values()))
    for name in dict.fromkeys(COMMANDS.values()):
        if name in wanted:
            import_module(f"nasco.evo.cli.{name}").add_parser(sub)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input (exit status 2); the surrogate's only if it was imported."""
    errors: list[type[Exception]] = [NascoError, ArchiveError]
    predictors = sys.modules.get("nasco.surrogate.predictors")
    if predictors is not None:
        errors.append(predictors.PredictorError)
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nasco`` console script; returns the exit status (2: bad input)."""
    args = make_parser(argv).parse_args(argv)
    console = Console()
    if not console.is_terminal:  # files and pipes: wide enough that tables are not cut
        console = Console(width=160)
    try:
        status = args.run(args, console)
    except ArchiveWriteError as err:
        print_error(str(err))
        if err.hdf5_failed:  # HDF5 cannot shut down after a failed write (it crashes at exit): end here
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        return 1
    except _user_errors() as err:
        print_error(str(err))
        return 2
    except OSError as err:  # the file system refused (permissions, not a folder, disk full …): one line, status 1
        print_error(describe_os_error(err))
        return 1
    return int(status or 0)


def describe_os_error(err: OSError) -> str:
    """``PATH: reason`` of a file-system error (no traceback: the path and the reason are the news)."""
    where = err.filename if err.filename is not None else ""
    reason = err.strerror or str(err)
    return f"{where}: {reason}" if where else reason


def print_error(text: str) -> None:
    Console(stderr=True).print(f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(main())
