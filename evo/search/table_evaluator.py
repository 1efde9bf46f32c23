"""The ``table`` evaluator: metrics looked up in a user file (a tabular benchmark, past results).

Files: CSV/TSV (header row), JSON (a list of row objects, or an object of key → row object) or
HDF5 (one 1-D dataset per column). A genome's row is found by its gene values — one column per
gene, named like the gene, holding the chosen value — or, with ``key = "COLUMN"``, by that
column: the chosen values joined by ``key_separator`` (e.g. ``"01201102"`` for NAS-Bench-Macro).
``metrics`` are the columns returned as evaluation results (default: every other numeric
column); ``cheap`` columns are known for any genome before evaluation (FLOPs, parameters) and
serve constraints, screening and surrogate features. A genome missing from the table is a
failed result naming it; duplicate keys and missing columns are errors before any evaluation.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import EvalResult, Evaluator


class TableError(NascoError, ValueError):
    """A table file is unreadable, lacks a column, or has duplicate keys."""


def read_columns(path: Path) -> dict[str, list]:
    """Columns of a CSV/TSV, JSON or HDF5 table as lists of values (strings or numbers)."""
    if not path.is_file():
        raise TableError(f"evaluator.file: {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","))
            return {name: [r[name] for r in rows] for name in (rows[0] if rows else [])}
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
                data = [{"key": k, **v} for k, v in data.items()]
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise TableError(f"{path}: allowed JSON: a list of row objects, or an object of key → row object")
            names = list(dict.fromkeys(k for r in data for k in r))
            return {name: [r.get(name) for r in data] for name in names}
        if suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as f:
                return {name: [v.decode() if isinstance(v, bytes) else v for v in f[name][()].tolist()]
                        for name in f if isinstance(f[name], h5py.Dataset) and f[name].ndim == 1}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as err:
        raise TableError(f"evaluator.file: {path}: cannot read the table ({err})") from None
    raise TableError(f"evaluator.file: {path.name!r} is not allowed; allowed: .csv, .tsv, .json, .h5/.hdf5")


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _as_key(value: Any) -> str:
    """A value as it appears in a key: numbers without a trailing ``.0``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        number = _number(value)
        if math.isfinite(number) and number.is_integer() and "." in value:  # "2.0" → "2"
            return str(int(number))
        return value.strip()
    return str(value)


class TableEvaluator(Evaluator):
    """Looks genomes up in a table; ``batched`` (a look-up costs microseconds)."""

    batched = True

    def __init__(self, path: str | Path, *, key: str = "", key_separator: str = "", metrics: tuple[str, ...] = (),
                 cheap: tuple[str, ...] = ()) -> None:
        self.path, self.key, self.key_separator = Path(path), key, key_separator
        self._metrics, self.cheap = tuple(metrics), tuple(cheap)
        self.columns = read_columns(self.path)
        if not self.columns or not len(next(iter(self.columns.values()))):
            raise TableError(f"evaluator.file: {self.path} has no rows")

    def bind(self, layout: Any) -> None:
        super().bind(layout)
        names = list(self.columns)
        key_columns = [self.key] if self.key else list(layout.gene_names)
        missing = [c for c in (*key_columns, *self._metrics, *self.cheap) if c not in self.columns]
        if missing:
            raise TableError(f"evaluator.file: {self.path} lacks column(s) {missing}; its columns: {names}"
                             + ("" if self.key else " (without evaluator.key, one column per gene, named like it)"))
        self._check_key_values(key_columns, layout)
        metrics = self._metrics or tuple(c for c in names if c not in (*key_columns, *self.cheap)
                                         and all(math.isfinite(_number(v)) for v in self.columns[c][:100]))
        if not metrics:
            raise TableError(f"evaluator.file: {self.path} has no numeric metric column besides the keys; "
                             f"columns: {names}")
        self.metrics = metrics
        self.index: dict[str, int] = {}
        for row, key in enumerate(self._row_keys(key_columns)):
            if key in self.index:
                raise TableError(f"evaluator.file: {self.path}: duplicate key {key!r} (rows {self.index[key] + 1} "
                                 f"and {row + 1}); allowed: one row per genome")
            self.index[key] = row
        self.metric_values = np.array([[_number(v) for v in self.columns[m]] for m in metrics], np.float64).T
        self.cheap_table = np.array([[_number(v) for v in self.columns[c]] for c in self.cheap],
                                    np.float64).T.reshape(len(self.index), len(self.cheap))
        del self.columns  # what workers need is the index and the value matrices

    def _check_key_values(self, key_columns: list[str], layout: Any) -> None:
        """Refuse key columns that no genome can match: numbers mixed with text ('001' never equals 1), or,
        one column per gene, a column none of whose values is a choice of its gene."""
        for column in key_columns:
            values = self.columns[column]
            numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            texts = [v for v in values if isinstance(v, str)]
            if numbers and texts:
                raise TableError(f"evaluator.file: {self.path}: key column {column!r} mixes numbers (e.g. "
                                 f"{numbers[0]!r}) and text (e.g. {texts[0]!r}); allowed: one type per key column, "
                                 "as the genome's values are written")
        choices = dict(zip(layout.gene_names, getattr(layout, "gene_choices", ()), strict=False))
        for column in key_columns if not self.key else []:
            if column not in choices:
                continue
            table = {_as_key(v) for v in self.columns[column]}
            allowed = {_as_key(c) for c in choices[column]}
            if table and not table & allowed:
                raise TableError(f"evaluator.file: {self.path}: column {column!r} holds {sorted(table)[:6]!r}, none "
                                 f"of them a choice of gene {column!r} ({sorted(allowed)[:6]!r}); no genome can be "
                                 "found: write the values as the space's choices")

    def _row_keys(self, key_columns: list[str]) -> list[str]:
        if self.key:
            return [_as_key(v) for v in self.columns[self.key]]
        rows = zip(*(self.columns[c] for c in key_columns), strict=True)
        return ["\x1f".join(_as_key(v) for v in row) for row in rows]

    def genome_key(self, genome: np.ndarray) -> str:
        values = self.layout.gene_values(genome).values()
        return (self.key_separator if self.key else "\x1f").join(_as_key(v) for v in values)

    def task_name(self) -> str:
        return f"table:{self.path.stem}"[:32]

    def describe(self) -> dict:
        return {"evaluator": "table", "file": self.path.name, "key": self.key, "metrics": list(self.metrics),
                "cheap": list(self.cheap), "rows": len(self.index)}

    def cheap_values(self, genomes: np.ndarray) -> np.ndarray:
        """Cheap columns of genomes (N, C); +inf for a genome the table lacks (it can never be feasible)."""
        out = np.full((len(genomes), len(self.cheap)), np.inf)
        for i, g in enumerate(genomes):
            row = self.index.get(self.genome_key(g))
            if row is not None:
                out[i] = self.cheap_table[row]
        return out

    def evaluate(self, genomes: np.ndarray, fidelity: int, seeds: np.ndarray, *, test: bool = False
                 ) -> list[EvalResult]:
        results = []
        for g in genomes:
            key = self.genome_key(g)
            row = self.index.get(key)
            if row is None:
                results.append(EvalResult.failed(f"genome {self.layout.hash(g)} (key {key.replace(chr(31), ',')!r}) "
                                                 f"is not in the table {self.path.name}"))
                continue
            results.append(EvalResult(dict(zip(self.metrics, self.metric_values[row].tolist(), strict=True)),
                                      device="table"))
        return results


def table_evaluator(config: Any, layout: Any, task: Any) -> TableEvaluator:
    e = config.evaluator
    if not e.file:
        raise TableError("evaluator.kind = 'table' needs evaluator.file (a .csv, .tsv, .json or .h5 table)")
    return TableEvaluator(e.file, key=e.key, key_separator=e.key_separator, metrics=tuple(e.metrics),
                          cheap=tuple(e.cheap))
