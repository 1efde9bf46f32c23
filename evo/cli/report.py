"""``nasco report`` (one self-contained HTML file) and ``nasco export`` (a usable model of a record)."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from nasco.evo.cli.front import archive_path
from nasco.evo.errors import NascoError
from nasco.evo.results.front import parse_objectives


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="an interactive HTML report of a campaign or archive",
                       description="Write one self-contained HTML file (plotly inlined, works offline): "
                                   "interactive Pareto front (hover: summary; click: layer table), hypervolume "
                                   "over generations and trained candidates, surrogate parity per refit, "
                                   "per-layer bits/prune heat map of the front, configuration and timings.")
    p.add_argument("source", metavar="RUN_DIR|ARCHIVE", help="a campaign's run folder or an archive (.h5)")
    p.add_argument("-o", "--out", default="report.html", help="output file (report.html)")
    p.add_argument("--task", help="task id (default: the only task)")
    p.add_argument("--objectives", help="comma-separated objectives (default: the campaign's, or error,bitops)")
    p.add_argument("--fidelity", type=int, help="epochs (default: the retrained final front if the campaign made "
                                                  "one, else the search fidelity)")
    p.add_argument("--search", action="store_true", help="the search-fidelity front instead of the final front")
    p.set_defaults(run=run_report)

    e = sub.add_parser("export", help="retrain an archived candidate exactly, save it deployable and measure it",
                       description="Retrain record ID (genome hash, prefix or #row) from its task's recipe, "
                                   "fidelity and seed — reproducing the archived network — and write genome.json, "
                                   "model.pt (state dict), record.json and README.md to DIR (load it with "
                                   "nasco.evo.load_model(DIR)), plus the --format files: packed (model.packed: "
                                   "integer weights at their bit-widths, BatchNorm folded), qdq (model.qdq.onnx: "
                                   "QuantizeLinear/DequantizeLinear graph for ONNX Runtime), float (model.onnx: "
                                   "float ops simulating the quantization). Each ONNX file is run by ONNX Runtime "
                                   "on the test split: accuracy vs torch, max logit difference, latency at batch 1 "
                                   "and 32 (qdq next to the plain float graph of the same network); the packed "
                                   "file's bytes are compared with the size objective.")
    e.add_argument("archive", metavar="ARCHIVE", help="archive (.h5) or run folder")
    e.add_argument("id", metavar="ID", help="genome hash, unique hash prefix, or #row")
    e.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    e.add_argument("--task", help="task id when the genome has records of several tasks")
    e.add_argument("--retrain-epochs", type=int, metavar="E", help="train for E epochs instead of the record's")
    e.add_argument("--root", help="dataset folder, when the task needs one (default: the run folder's task.root)")
    e.add_argument("--download", action="store_true", help="let torchvision download the dataset into --root")
    e.add_argument("--format", metavar="F[,F…]",
                   help="deployable files: packed, qdq, float, comma-separated (default: packed for image networks, "
                        "none for sequence networks, which export float only; qdq and float need nasco[onnx])")
    e.add_argument("--allow-mismatch", action="store_true",
                   help="export even when the retraining does not reproduce the archived validation error")
    e.add_argument("--threads", type=int, default=1, metavar="N", help="ONNX Runtime intra-op threads when timing "
                                                                        "(default 1)")
    e.add_argument("--no-measure", action="store_true", help="write the files without running ONNX Runtime")
    e.set_defaults(run=run_export)


def run_report(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.results.report import write_report

    source = args.source if not args.source.endswith(".h5") else str(archive_path(args.source))
    objectives = parse_objectives(args.objectives) if args.objectives else None
    path = write_report(source, args.out, task=args.task, objectives=objectives, fidelity=args.fidelity,
                        stage="search" if args.search else "final")
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)", highlight=False)
    return 0


def run_export(args: argparse.Namespace, console: Console) -> int:
    from nasco.evo.results.deploy import ACCURACY_TOLERANCE_PP
    from nasco.evo.results.export import export_candidate
    from nasco.evo.results.front import campaign_task_root

    if args.threads < 1:
        raise NascoError(f"--threads {args.threads}: must be at least 1")
    path = archive_path(args.archive)
    root = args.root if args.root is not None else campaign_task_root(path.parent)  # a run folder's task.root
    result = export_candidate(path, args.id, args.out, root=root, download=args.download,
                              retrain_epochs=args.retrain_epochs,
                              formats=None if args.format is None else [f.strip() for f in args.format.split(",")],
                              allow_mismatch=args.allow_mismatch, measure=not args.no_measure, threads=args.threads,
                              task=args.task)
    if result.reproduced is None:
        console.print(f"retrained: val error {result.val_error:.4f} (archived {result.archived_error:.4f} at its "
                      "own fidelity)", highlight=False)
    else:
        state = "reproduced exactly" if result.reproduced else "NOT reproduced (exported on request)"
        console.print(f"{state}: val error {result.val_error:.4f}, archived {result.archived_error:.4f}",
                      highlight=False)
    if result.packed is not None:
        p = result.packed
        console.print(f"{p.path.name}: {p.file_bytes:,} bytes = {p.tensor_bytes:,} tensor bytes + {p.header_bytes:,} "
                      f"header; size objective {p.objective_bytes:,.0f} bytes (tensors {p.tensor_excess:+.2%}: "
                      f"{p.act_param_bytes} bytes of activation scales/zero points, {p.padding_bytes:.1f} of byte "
                      f"padding; file {p.file_excess:+.2%})", highlight=False)
    if result.checks:
        table = Table(title=f"ONNX Runtime on the {result.checks[0].split} split ({result.checks[0].n} examples, "
                            f"{result.checks[0].threads} thread(s))")
        for column in ("file", "bytes", "acc torch %", "acc ORT %", "max |Δlogit|", "ms batch 1", "ms batch 32"):
            table.add_column(column, justify="left" if column == "file" else "right")
        for c in result.checks:
            table.add_row(c.path.name if c.path else f"({c.label}, not written)", f"{c.file_bytes:,}",
                          f"{c.torch_accuracy * 100:.2f}", f"{c.ort_accuracy * 100:.2f}", f"{c.max_abs_diff:.2e}",
                          f"{c.latency_ms[1]:.3f}", f"{c.latency_ms[32]:.3f}")
        console.print(table)
        for c in result.checks:
            if c.label != "plain float" and not c.agrees:  # the plain float graph drops activation quantization
                console.print(f"[yellow]warning:[/] {c.label}: ONNX Runtime accuracy differs from torch by "
                              f"{c.accuracy_gap_pp:.2f} points (tolerance {ACCURACY_TOLERANCE_PP})")
    console.print(f"wrote {result.folder}", highlight=False)
    return 0
