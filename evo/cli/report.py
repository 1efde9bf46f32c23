"""``nasco report`` (one self-contained HTML file) and ``nasco export`` (a usable model of a record)."""

from __future__ import annotations

import argparse

from rich.console import Console

from nasco.evo.cli.front import archive_path
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

    e = sub.add_parser("export", help="retrain an archived candidate exactly and save it (optionally ONNX)",
                       description="Retrain record ID (genome hash, prefix or #row) from its task's recipe, "
                                   "fidelity and seed — reproducing the archived network — and write genome.json, "
                                   "model.pt (state dict), record.json and README.md to DIR. Load it with "
                                   "nasco.evo.load_model(DIR).")
    e.add_argument("archive", metavar="ARCHIVE", help="archive (.h5) or run folder")
    e.add_argument("id", metavar="ID", help="genome hash, unique hash prefix, or #row")
    e.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    e.add_argument("--task", help="task id when the genome has records of several tasks")
    e.add_argument("--retrain-epochs", type=int, metavar="E", help="train for E epochs instead of the record's")
    e.add_argument("--root", help="dataset folder, when the task needs one")
    e.add_argument("--download", action="store_true", help="let torchvision download the dataset into --root")
    e.add_argument("--onnx", action="store_true", help="also write model.onnx and check it against torch")
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
    from nasco.evo.results.export import export_candidate

    result = export_candidate(archive_path(args.archive), args.id, args.out, root=args.root, download=args.download,
                              retrain_epochs=args.retrain_epochs, onnx=args.onnx, task=args.task)
    if result.reproduced is None:
        console.print(f"retrained: val error {result.val_error:.4f} (archived {result.archived_error:.4f} at its "
                      "own fidelity)", highlight=False)
    else:
        state = "reproduced exactly" if result.reproduced else "NOT reproduced (different machine or torch?)"
        console.print(f"{state}: val error {result.val_error:.4f}, archived {result.archived_error:.4f}",
                      highlight=False)
    if result.onnx_max_abs_diff is not None:
        console.print(f"model.onnx: max |ONNX Runtime − torch| logit difference {result.onnx_max_abs_diff:.2e}",
                      highlight=False)
    console.print(f"wrote {result.folder}", highlight=False)
    return 0
