"""``nasco front`` and ``nasco show``: the Pareto front of an archive, and one candidate in detail."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nasco.archive import ArchiveDamagedError, ArchiveError, HDF5Archive
from nasco.archive.atomic import write_atomic
from nasco.evo.cli.space import CliError, rich_table
from nasco.evo.errors import NascoError
from nasco.evo.results.front import (
    SCALE,
    UNITS,
    Front,
    find_record,
    load_front,
    parse_objectives,
    writer_is_live,
)
from nasco.evo.search.run_folder import front_csv_text
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.toml_io import space_from_dict

MAX_WATCH_S = 86_400  # --watch refreshes at least daily (inf or 1e10 would never refresh, or overflow a sleep)


def archive_path(path: str, *, must_exist: bool = True) -> Path:
    """An archive file, or a run folder holding ``archive.h5`` (which may not exist yet when
    ``must_exist`` is False: a watcher waits for it)."""
    p = Path(path)
    if p.is_dir() or (not must_exist and not p.suffix):
        p = p / "archive.h5"
    if must_exist and not p.is_file():
        raise CliError(f"{path}: no archive there (an .h5 file or a run folder with archive.h5)")
    return p


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("front", help="the Pareto front of an archive: table, CSV/JSON, plot",
                       description="Show the non-dominated successful records of one task and fidelity. Works "
                                   "on an archive a campaign is writing (SWMR); --watch follows it.")
    p.add_argument("archive", metavar="ARCHIVE", help="archive (.h5) or run folder")
    p.add_argument("--task", help="task id (default: the archive's only task)")
    p.add_argument("--objectives", help="comma-separated objectives (default: the campaign's, else error,bitops)")
    p.add_argument("--fidelity", type=int, help="epochs (default: the retrained final front if the campaign made "
                                                  "one, else the search fidelity)")
    p.add_argument("--search", action="store_true", help="the search-fidelity front (short trainings) instead of the "
                                                         "retrained final front")
    p.add_argument("--sort", default=None, help="sort column: an objective, or macs, mean_w_bits, mean_prune, depth "
                                                "… (default: the first objective)")
    p.add_argument("--csv", metavar="PATH", help="write the front as CSV ('-' for stdout)")
    p.add_argument("--json", metavar="PATH", help="write the front as JSON ('-' for stdout)")
    p.add_argument("--plot", metavar="PNG", help="draw the front (2 objectives: scatter + step; 3+: pairs)")
    p.add_argument("--knee", action="store_true", help="mark the knee point (table and plot)")
    p.add_argument("--watch", type=float, metavar="SECONDS",
                   help="refresh every SECONDS until Ctrl-C; waits for the archive and its first record, and "
                        "follows a recovered file")
    p.set_defaults(run=run_front)

    s = sub.add_parser("show", help="one archived candidate: layer table, costs, curve",
                       description="Show one record: its layer table with per-layer bits and prune ratio, costs, "
                                   "objectives and training curve. ID is a genome hash (or a unique prefix) or "
                                   "#ROW.")
    s.add_argument("archive", metavar="ARCHIVE", help="archive (.h5) or run folder")
    s.add_argument("id", metavar="ID", help="genome hash, unique hash prefix, or #row")
    s.add_argument("--task", help="task id when the genome has records of several tasks")
    s.add_argument("--plot", metavar="PNG", help="per-layer bits/prune bars and the training curve")
    s.set_defaults(run=run_show)


def _fmt(name: str, value: float) -> str:
    return f"{value * SCALE[name]:.3f}" if name == "error" else f"{value * SCALE[name]:.4g}"


def _front_table(front: Front, rows: list[dict], title: str, knee: int | None) -> Table:
    names = [f"val {n} ({UNITS[n]})" if n == "error" and front.stage == "final"
             else (f"{n} ({UNITS[n]})" if UNITS[n] else n) for n in front.objectives]
    tested = front.stage == "final"
    network = front.layout.network
    extra = ["MACs", "size KiB", "w bits", "a bits", "prune", "depth"] if network else \
        [k for k in (rows[0] if rows else {}) if k not in ("index", "genome_hash", "test_error", "generation",
                                                          "campaign", *front.objectives)]
    table = Table("hash", *names, *(["test error (%)"] if tested else []), *extra, "gen", title=title,
                  title_justify="left")
    for r in rows:
        mark = " ★" if knee is not None and r["index"] == knee else ""
        test = ([_fmt("error", r["test_error"]) if r["test_error"] is not None else "—"] if tested else [])
        cells = [f"{r['macs']:,}", f"{r['size_kib']:.2f}", f"{r['mean_w_bits']:.1f}", f"{r['mean_a_bits']:.1f}",
                 f"{r['mean_prune']:.2f}", str(r["depth"])] if network else [f"{r[k]:.6g}" for k in extra]
        table.add_row(r["genome_hash"] + mark, *(_fmt(n, r[n]) for n in front.objectives), *test, *cells,
                      str(r["generation"]))
    return table


def _load(path: Path, args: argparse.Namespace) -> tuple[Front, list[dict], int | None]:
    objectives = parse_objectives(args.objectives) if args.objectives else None
    front, rows = load_front(path, task=args.task, objectives=objectives, fidelity=args.fidelity,
                             stage="search" if args.search else "final", sort=args.sort)
    return front, rows, front.knee() if args.knee else None


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
    else:
        write_atomic(target, text)


def run_front(args: argparse.Namespace, console: Console) -> int:
    if args.watch is not None and not 0 < args.watch <= MAX_WATCH_S:
        raise CliError(f"--watch: {args.watch} is not allowed; allowed: seconds > 0, at most {MAX_WATCH_S:,} "
                       "(one day)")
    path = archive_path(args.archive, must_exist=not args.watch)
    damaged_in_a_row, waiting_for = 0, ""
    while True:
        started = time.perf_counter()
        try:
            front, rows, knee = _load(path, args)
            damaged_in_a_row = 0
        except (ArchiveError, NascoError) as err:
            # A watcher waits: for the campaign to create the archive and commit its first record, and
            # across a recovery that replaces the file; a file still unreadable 3 times running is damaged.
            damaged_in_a_row += isinstance(err, ArchiveDamagedError)
            if not args.watch or damaged_in_a_row >= 3:
                raise
            if str(err) != waiting_for:  # one line per reason, not one per tick
                waiting_for = str(err)
                console.print(f"{time.strftime('%H:%M:%S')} waiting: {err}", highlight=False, markup=False,
                              soft_wrap=True)
            time.sleep(args.watch)
            continue
        waiting_for = ""
        live = writer_is_live(path)
        state = {True: "live: a campaign is writing this archive", False: "finished (no writer)",
                 None: "writer state unknown"}[live]
        kind = "final front, retrained" if front.stage == "final" else "search front"
        title = (f"{front.task}, {kind} at {front.fidelity} epochs: {len(rows)} on the front of {len(front.F)} "
                 f"records — {state} — read {time.strftime('%H:%M:%S')} in {time.perf_counter() - started:.2f}s")
        machine = args.csv == "-" or args.json == "-"
        if not machine:
            console.print(_front_table(front, rows, title, knee))
        if args.csv:
            _write(args.csv, front_csv_text(rows))
        if args.json:
            _write(args.json, json.dumps({"task": front.task, "fidelity": front.fidelity, "stage": front.stage,
                                          "objectives": front.objectives, "knee": knee, "front": rows}, indent=1)
                   + "\n")
        if args.plot:
            from nasco.evo.results.plots import plot_front

            plot_front(front, args.plot, knee=args.knee)
            if not machine:
                console.print(f"wrote {args.plot}", highlight=False)
        if not args.watch:
            return 0
        time.sleep(args.watch)


def run_show(args: argparse.Namespace, console: Console) -> int:
    with HDF5Archive(archive_path(args.archive)) as archive:
        table, spaces = archive.table(), dict(archive.spaces)
    i = find_record(table, args.id, args.task)
    record = table.record(i)
    layout = compile_any(space_from_dict(spaces[record.space_id]["space"]))
    if args.plot and not layout.network:
        raise CliError("--plot: per-layer bars need a network space kind; this record's space has plain genes")
    console.print(f"{record.genome_hash}  task {record.task_id}  fidelity {record.fidelity}  status {record.status}"
                  f"{' (' + record.reason + ')' if record.reason else ''}  campaign {record.campaign_id or '—'}  "
                  f"generation {record.generation}  seed {record.seed}  {record.wall_time_s:.1f}s on {record.device}",
                  highlight=False, markup=False, soft_wrap=True)
    values = Table("value", "", title="objectives and costs", title_justify="left")
    for name, value in record.values.items():
        values.add_row(name, f"{value:.4f}" if name.endswith("error") else f"{value:,.6g}")
    console.print(values)
    headers, rows = layout.genome_table(record.genome)
    console.print(rich_table(headers, rows, title="layers" if layout.network else "genes"))
    curve = np.asarray(record.curve)
    if len(curve):
        console.print("val error per epoch: " + " ".join(f"{v:.3f}" for v in curve), highlight=False)
    if args.plot:
        from nasco.evo.results.plots import plot_candidate

        plot_candidate(layout.decode(record.genome), curve, args.plot, f"{record.genome_hash} ({record.task_id}, "
                                                                        f"{record.fidelity} epochs)")
        console.print(f"wrote {args.plot}", highlight=False)
    return 0


