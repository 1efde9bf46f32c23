"""``nasco surrogate fit|score``: fit accuracy predictors on an archive and measure their ranking."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from nasco.archive import HDF5Archive
from nasco.evo.cli.space import CliError
from nasco.evo.search.surrogate_io import fit_task_surrogate, from_target, search_fidelity, task_features
from nasco.surrogate import FAMILIES, default_families
from nasco.surrogate.selection import DEFAULT_FAMILY, FamilyScore, holdout_evaluation


def _families(text: str | None) -> list[str]:
    families = default_families() if not text else [f.strip() for f in text.split(",")]
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise CliError(f"--families: {unknown} unknown; allowed: {sorted(FAMILIES)}")
    return families


def _fidelity(table, args: argparse.Namespace) -> int | None:
    """``--fidelity``, or the task's search fidelity (the one with most records)."""
    return args.fidelity if args.fidelity is not None else search_fidelity(table, args.task)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("surrogate", help="fit and score accuracy predictors on an archive",
                       description="Fit the surrogate families (gp, trees, rbf, mlp, ensemble) on an archive's "
                                   "records of a task and compare them by cross-validated Kendall τ.")
    actions = p.add_subparsers(dest="surrogate_command", metavar="ACTION", required=True)
    for name, helptext in (("fit", "cross-validate every family, pick one (the ensemble unless another family "
                                   "beats it by more than one corrected standard error; without the ensemble "
                                   "among --families, the best mean τ − std τ)"),
                           ("score", "held-out Kendall τ at a given training size")):
        a = actions.add_parser(name, help=helptext, description=helptext)
        a.add_argument("archive", metavar="ARCHIVE", help="archive (.h5)")
        a.add_argument("--task", required=True, help="task id whose validation error is predicted")
        a.add_argument("--families", help=f"comma-separated subset of {','.join(sorted(FAMILIES))}")
        a.add_argument("--fidelity", type=int, help="records trained for this many epochs (default: the fidelity with "
                                                    "most records, the search's; fidelities are never mixed)")
        a.add_argument("--folds", type=int, default=5, help="cross-validation folds (5)")
        a.add_argument("--seed", type=int, default=0, help="seed (0)")
        a.add_argument("--plot", metavar="PNG", help="draw predicted vs true error")
    actions.choices["fit"].add_argument("--transfer-from", nargs="+", metavar="TASK",
                                        help="source tasks in the same space; used only if CV says it helps")
    actions.choices["fit"].set_defaults(run=run_fit)
    actions.choices["score"].add_argument("--train-size", type=int, required=True, help="training records N")
    actions.choices["score"].add_argument("--repeats", type=int, default=5, help="random splits (5)")
    actions.choices["score"].set_defaults(run=run_score)


def _score_table(title: str, scores: list[FamilyScore]) -> Table:
    table = Table("family", "τ mean", "τ std", "τ mean − std", "ρ", "RMSE (log err)", title=title,
                  title_justify="left")
    for s in scores:
        table.add_row(s.family, f"{s.tau_mean:.3f}", f"{s.tau_std:.3f}", f"{s.score:.3f}", f"{s.rho_mean:.3f}",
                      f"{s.rmse:.4f}")
    return table


def _parity_plot(path: str, y_true: np.ndarray, y_pred: np.ndarray, title: str) -> None:
    from nasco.evo.results.plots import plot_parity

    plot_parity(path, y_true, y_pred, xlabel="true validation error", ylabel="predicted validation error",
                title=title, log=True)


def run_fit(args: argparse.Namespace, console: Console) -> None:
    families = _families(args.families)
    with HDF5Archive(args.archive) as archive:
        table, spaces = archive.table(), dict(archive.spaces)
    fit = fit_task_surrogate(table, spaces, args.task, families=families, folds=args.folds, seed=args.seed,
                             fidelity=args.fidelity, transfer_from=args.transfer_from or ())
    console.print(f"{args.task}: {len(fit.y)} successful records at fidelity {fit.fidelity} epochs"
                  f"{'' if args.fidelity is not None else ' (the most records; --fidelity chooses another)'}, "
                  f"{fit.X.shape[1]} features", highlight=False)
    if args.transfer_from:
        console.print(_score_table("without transfer", fit.scores["plain"]))
        console.print(_score_table(f"with {', '.join(args.transfer_from)} as a feature", fit.scores["transfer"]))
        chosen = fit.scores["transfer" if fit.model.uses_transfer else "plain"][0].family
        console.print(f"chosen: {chosen}, {'with' if fit.model.uses_transfer else 'without'} transfer",
                      highlight=False)
    else:
        family_scores = fit.scores["plain"]
        console.print(_score_table("cross-validation", family_scores))
        console.print(f"chosen: {family_scores[0].family}", highlight=False)
        if any(s.family == DEFAULT_FAMILY for s in family_scores[1:]):
            console.print(f"(it beats the default {DEFAULT_FAMILY} by more than one corrected standard error of "
                          "their fold-wise τ difference)", highlight=False)
        elif family_scores[0].family == DEFAULT_FAMILY and len(family_scores) > 1:
            console.print("(the default: no family beats it by more than one corrected standard error of their "
                          "fold-wise τ difference)", highlight=False)
    if args.plot:
        _parity_plot(args.plot, from_target(fit.y), from_target(fit.model.predict(fit.X)[0]),
                     f"{args.task}: fit on all records")
        console.print(f"wrote {args.plot}", highlight=False)


def run_score(args: argparse.Namespace, console: Console) -> None:
    families = _families(args.families)
    with HDF5Archive(args.archive) as archive:
        table = archive.table()
        fidelity = _fidelity(table, args)
        _, X, y = task_features(table, dict(archive.spaces), args.task, fidelity=fidelity)
    console.print(f"{args.task}: {len(y)} successful records at fidelity {fidelity} epochs", highlight=False)
    runs = holdout_evaluation(X, y, args.train_size, repeats=args.repeats, families=families, folds=args.folds,
                              seed=args.seed)
    table = Table("family", "held-out τ mean", "τ std", title=f"{args.task}: train on {args.train_size}, test on "
                  f"{len(y) - args.train_size}, {args.repeats} repeats", title_justify="left")
    for family in families:
        taus = [r.tau[family] for r in runs]
        table.add_row(family, f"{np.mean(taus):.3f}", f"{np.std(taus):.3f}")
    selected = [r.selected_tau for r in runs]
    table.add_row("selected", f"{np.mean(selected):.3f}", f"{np.std(selected):.3f}")
    console.print(table)
    console.print(f"selected per repeat: {', '.join(r.selected for r in runs)}", highlight=False)
    if args.plot:
        _parity_plot(args.plot, from_target(np.concatenate([r.y_true for r in runs])),
                     from_target(np.concatenate([r.y_pred for r in runs])),
                     f"{args.task}: held out, train {args.train_size}")
        console.print(f"wrote {args.plot}", highlight=False)
