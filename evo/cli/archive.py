"""``nasco archive info|export|merge``: inspect, export and merge HDF5 archives."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from nasco.archive import HDF5Archive
from nasco.archive.ops import export_table, merge_archives, summarize


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("archive", help="inspect, export and merge archives",
                       description="Inspect, export and merge nasco HDF5 archives (readable while a campaign "
                                   "writes them).")
    commands = p.add_subparsers(dest="archive_command", metavar="ACTION", required=True)

    info = commands.add_parser("info", help="schema, spaces, tasks, counts and file size",
                               description="Print an archive's schema version, spaces, tasks, value columns, "
                                           "warm-start sources, counts by status, fidelity and generation, and "
                                           "its file size.")
    info.add_argument("file", metavar="FILE", help="archive (.h5)")
    info.set_defaults(run=run_info)

    export = commands.add_parser("export", help="write records as CSV or JSON Lines",
                                 description="Write committed records (optionally of one task) as CSV or JSON "
                                             "Lines, with genome, curve and every value column.")
    export.add_argument("file", metavar="FILE", help="archive (.h5)")
    export.add_argument("--format", required=True, choices=("csv", "jsonl"), help="output format")
    export.add_argument("--task", help="only records of this task id")
    export.add_argument("-o", "--out", required=True, metavar="OUT", help="output file ('-' for stdout)")
    export.set_defaults(run=run_export)

    merge = commands.add_parser("merge", help="merge archives into a new one",
                                description="Merge archives into the new archive OUT, dropping duplicates "
                                            "(same genome hash, task and fidelity; the first input wins) and "
                                            "recording where each record came from.")
    merge.add_argument("out", metavar="OUT", help="new archive to write (must not exist)")
    merge.add_argument("inputs", metavar="IN", nargs="+", help="archives to merge")
    merge.set_defaults(run=run_merge)


def run_info(args: argparse.Namespace, console: Console) -> None:
    with HDF5Archive(args.file) as archive:
        info = summarize(archive)
    console.print(f"[bold]{info['path']}[/]  schema v{info['schema_version']}  {info['records']:,} records  "
                  f"{info['file_bytes'] / 1024:.1f} KiB ({info['bytes_per_record']:.0f} B/record)", highlight=False)
    console.print(f"columns: {', '.join(info['columns'])}", highlight=False)
    console.print(f"spaces: {', '.join(f'{k} ({g} genes)' for k, g in info['spaces'].items()) or '-'}",
                  highlight=False)
    console.print(f"tasks: {', '.join(info['tasks']) or '-'}", highlight=False)
    for path, entry in info["sources"].items():  # a warm-started campaign's source archives
        console.print(f"warm-start source: {path} ({entry['records']:,} records copied, records SHA-256 "
                      f"{entry['sha256']})", highlight=False)
    for title, key in (("status", "by_status"), ("task", "by_task"), ("fidelity", "by_fidelity"),
                       ("generation", "by_generation")):
        table = Table(title, "records", title=f"by {title}", title_justify="left")
        for value, count in info[key].items():
            table.add_row(str(value), f"{count:,}")
        console.print(table)


def run_export(args: argparse.Namespace, console: Console) -> None:
    with HDF5Archive(args.file) as archive:
        table = archive.read(task=args.task)
    if args.out == "-":
        export_table(table, sys.stdout, args.format)
        return
    n = export_table(table, args.out, args.format)
    console.print(f"wrote {n:,} records to {args.out}", highlight=False)


def run_merge(args: argparse.Namespace, console: Console) -> None:
    kept, dropped = merge_archives(args.out, args.inputs)
    console.print(f"merged {len(args.inputs)} archives into {args.out}: {kept:,} records, {dropped:,} duplicates "
                  "dropped", highlight=False)
