"""A campaign's ``front.csv`` and console table: the search front, with full-fidelity errors where retrained."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nasco.archive import RecordTable
from nasco.evo.search.objectives import by_column
from nasco.evo.search.plan import NETWORK_COST_COLUMNS, CampaignPlan
from nasco.evo.search.run_folder import FRONT_FILE, write_front_csv
from nasco.kernels.tables import COST_NAMES


def _measured(value: float) -> float | str:
    """A value for front.csv: empty where nothing was measured (NaN: e.g. no test split)."""
    return "" if math.isnan(value) else float(value)


def front_rows(plan: CampaignPlan, front: RecordTable, final: RecordTable | None) -> list[dict]:
    """One dict per front member, best search error first: hash, errors, value columns, genome."""
    final_by_hash = {} if final is None else {final.rows["genome_hash"][i]: i for i in range(len(final))}
    value_columns = [c for c in front.columns if c not in ("error", "test_error")
                     and (c in plan.columns or c in NETWORK_COST_COLUMNS)]
    rows = []
    for i in np.argsort(front.column("error"), kind="stable"):
        j = final_by_hash.get(front.rows["genome_hash"][i])
        row = {"genome_hash": front.rows["genome_hash"][i].decode(), "search_error": front.column("error")[i],
               "final_val_error": final.column("error")[j] if j is not None else "",
               "test_error": _measured(final.column("test_error")[j]) if j is not None else ""}
        for column in value_columns:
            value = front.column(column)[i]
            row[column] = int(value) if column in COST_NAMES else value
        row["genome"] = " ".join(map(str, front.genome(i).tolist()))
        rows.append(row)
    return rows


def write_front(folder: Path, console: Console, plan: CampaignPlan, front: RecordTable,
                final: RecordTable | None) -> None:
    """``front.csv`` in ``folder`` and the table on ``console``."""
    rows = front_rows(plan, front, final)
    write_front_csv(folder / FRONT_FILE, rows)
    show_front(console, rows, [o.column for o in plan.objectives if o.column != "error"],
               f"Pareto front ({len(rows)} candidates) → {folder / FRONT_FILE}")


NETWORK_TABLE = (("MACs", "macs", lambda v: f"{int(v):,}"), ("BitOps", "bitops", lambda v: f"{int(v):,}"),
                 ("size KiB", "size_bits", lambda v: f"{v / 8192:.2f}"))


def show_front(console: Console, rows: list[dict], columns: list[str], title: str) -> None:
    """The front as a rich table: errors (the final ones only when some member was retrained), then MACs,
    BitOps and size (network spaces) or the objectives' columns."""
    shown = NETWORK_TABLE if all(c in NETWORK_COST_COLUMNS for c in columns) else \
        tuple((by_column(c).name.removeprefix("metric:"), c, lambda v: f"{v:.6g}") for c in columns)
    errors = [("final val err", "final_val_error"), ("test err", "test_error")]
    errors = [(h, c) for h, c in errors if any(r[c] != "" for r in rows)]
    table = Table("hash", "search err", *[h for h, _ in errors], *[h for h, _, _ in shown], title=title,
                  title_justify="left")

    def fmt(v: float | str) -> str:
        return f"{v:.4f}" if v != "" else "—"

    for r in rows:
        table.add_row(r["genome_hash"], f"{r['search_error']:.4f}", *[fmt(r[c]) for _, c in errors],
                      *[f(r[c]) for _, c, f in shown])
    console.print(table)
