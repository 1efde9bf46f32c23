"""``nasco latency profile|check``: build a per-layer latency table on a device, and check it end to end."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from nasco.evo.cli.space import CliError, parse_shape


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latency", help="per-layer latency look-up tables: profile on a device, check",
                       description="Measure every layer configuration of a search space on a device into a "
                                   "look-up table (the latency objective), and check its predictions against "
                                   "whole networks measured end to end.")
    actions = p.add_subparsers(dest="latency_command", metavar="ACTION", required=True)
    prof = actions.add_parser("profile", help="time every layer configuration of a space",
                              description="Time every distinct layer configuration of the space in --rounds "
                                          "rounds that visit every entry in turn (each round: warm-up, then "
                                          "--repeats runs; the entry keeps the median and interquartile range of "
                                          "its quietest round, which makes a shared machine's changing load "
                                          "matter less), then fit the per-network overhead from --calibrate whole "
                                          "networks measured the same way. Resumes an existing OUT.")
    prof.add_argument("--space", default="default", help="space TOML, or 'default' (the default space for --input)")
    prof.add_argument("--input", default="1x28x28", help="CxHxW of the default space (1x28x28)")
    prof.add_argument("--classes", type=int, default=10, help="classes of the default space (10)")
    prof.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (cpu)")
    prof.add_argument("--batch", type=int, default=1, help="batch size (1)")
    prof.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    prof.add_argument("--repeats", type=int, default=10, help="timed runs per entry and round (10)")
    prof.add_argument("--rounds", type=int, default=7, help="rounds over all entries (7)")
    prof.add_argument("--warmup", type=int, default=3, help="untimed runs before each round's timing (3)")
    prof.add_argument("--calibrate", type=int, default=12, help="whole networks for the overhead fit (12)")
    prof.add_argument("--budget", type=float, default=0.0, help="seconds for the whole profile (0: none)")
    prof.add_argument("--seed", type=int, default=0, help="seed of the calibration networks (0)")
    prof.add_argument("-o", "--out", required=True, help="the table: .json or .h5")
    prof.set_defaults(run=run_profile)
    check = actions.add_parser("check", help="predicted vs measured latency of random networks",
                               description="Build N random networks of the table's space, measure them end to end "
                                           "on the table's device (same batch and threads, in rounds as the "
                                           "profile) and compare with the "
                                           "table's predictions: Spearman ρ and mean absolute percentage error.")
    check.add_argument("lut", metavar="LUT", help="latency table (.json or .h5)")
    check.add_argument("--space", default="default", help="the space the table was made for (default)")
    check.add_argument("--classes", type=int, default=10, help="classes of the default space (10)")
    check.add_argument("--samples", type=int, default=50, help="random networks (50)")
    check.add_argument("--repeats", type=int, default=10, help="timed runs per network and round (10)")
    check.add_argument("--rounds", type=int, default=7, help="rounds over all networks (7)")
    check.add_argument("--seed", type=int, default=1, help="seed of the networks (1)")
    check.add_argument("--plot", metavar="PNG", help="predicted vs measured scatter")
    check.set_defaults(run=run_check)


def _layout(space: str, input_shape: tuple[int, int, int], classes: int):
    from nasco.evo.space.default import default_space
    from nasco.evo.space.layout import compile_space
    from nasco.evo.space.toml_io import load_space

    return compile_space(default_space(input_shape, classes) if space == "default" else load_space(space))


def run_profile(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.latency.workflow import build_latency_table

    if args.batch < 1 or args.threads < 1 or args.rounds < 1 or args.repeats < 3 or args.calibrate < 2:
        raise CliError("--batch, --threads, --rounds ≥ 1, --repeats ≥ 3 and --calibrate ≥ 2 are required")
    layout = _layout(args.space, parse_shape(args.input), args.classes)
    with Progress(TextColumn("profiling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("layers", total=None)
        table = build_latency_table(layout, args.out, device=args.device, batch=args.batch, threads=args.threads,
                                    warmup=args.warmup, repeats=args.repeats, rounds=args.rounds,
                                    calibrate=args.calibrate, budget_s=args.budget, seed=args.seed,
                                    progress=lambda done, total: bar.update(task, completed=done, total=total))
    if table.skipped:
        console.print(f"{len(table.skipped)} entries would not fit in --budget {args.budget:g}s and were skipped: "
                      "rerun with a larger budget (the table resumes)", highlight=False)
        return 1
    console.print(f"{len(table.keys)} layer configurations of space {layout.space.space_id} at "
                  f"{list(layout.space.input_shape)} on {table.device['name']} (batch {args.batch}, {args.threads} "
                  f"threads); overhead {table.overhead[0]:.1f} µs + {table.overhead[1]:.2f} µs/layer → {args.out}",
                  highlight=False)
    return 0


def run_check(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.latency.table import LatencyTable
    from nasco.evo.latency.workflow import check_latency_table
    from nasco.evo.results.plots import plot_parity

    if args.samples < 3 or args.rounds < 1 or args.repeats < 3:
        raise CliError("--samples ≥ 3, --rounds ≥ 1 and --repeats ≥ 3 are required")
    table = LatencyTable.load(args.lut)
    layout = _layout(args.space, tuple(table.input_shape), args.classes)
    check = check_latency_table(table, layout, samples=args.samples, seed=args.seed, repeats=args.repeats,
                                rounds=args.rounds)
    measured = check.measured
    console.print(f"{args.samples} random networks on {table.device['name']}: Spearman ρ {check.rho:.3f}, MAPE "
                  f"{100 * check.mape:.1f}% (measured {measured.min():.0f}–{measured.max():.0f} µs)", highlight=False)
    if args.plot:
        plot_parity(args.plot, measured / 1e3, check.predicted / 1e3, xlabel="measured (ms)",
                    ylabel="predicted by the table (ms)", title=f"ρ {check.rho:.3f}, MAPE {100 * check.mape:.1f}%")
        console.print(f"wrote {args.plot}", highlight=False)
    return 0
