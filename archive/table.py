"""A read-only table of committed records: structured rows, value columns and the flat heaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasco.archive.errors import ArchiveError
from nasco.archive.record import ROW_DTYPE, STATUSES, Record


@dataclass(frozen=True)
class RecordTable:
    """Records as arrays (what readers return).

    Attributes:
        rows: structured array (N,) of :data:`~nasco.archive.record.ROW_DTYPE` (strings as UTF-8 bytes).
        values: float64 (N, K), columns ``columns``.
        columns: value column names.
        genomes (int16), curves (float32), text (uint8): the flat heaps the rows' offsets point into.
    """

    rows: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]
    genomes: np.ndarray
    curves: np.ndarray
    text: np.ndarray

    @staticmethod
    def empty(columns: tuple[str, ...]) -> RecordTable:
        return RecordTable(np.zeros(0, ROW_DTYPE), np.zeros((0, len(columns))), tuple(columns),
                           np.zeros(0, np.int16), np.zeros(0, np.float32), np.zeros(0, np.uint8))

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """One value column (float64 (N,)) or one row field (strings decoded)."""
        if name in self.columns:
            return self.values[:, self.columns.index(name)]
        if name in ROW_DTYPE.names:
            field = self.rows[name]
            return np.char.decode(field, "utf-8") if field.dtype.kind == "S" else field
        raise ArchiveError(f"column {name!r} is unknown; allowed: {list(self.columns) + list(ROW_DTYPE.names)}")

    def genome(self, i: int) -> np.ndarray:
        row = self.rows[i]
        return self.genomes[row["genome_offset"]:row["genome_offset"] + row["genome_length"]].astype(np.int64)

    def curve(self, i: int) -> np.ndarray:
        row = self.rows[i]
        return self.curves[row["curve_offset"]:row["curve_offset"] + row["curve_length"]]

    def reason(self, i: int) -> str:
        row = self.rows[i]
        return self.text[row["reason_offset"]:row["reason_offset"] + row["reason_length"]].tobytes().decode("utf-8")

    def genome_matrix(self) -> np.ndarray:
        """int64 (N, G) of all genomes; every row must come from spaces with the same G."""
        lengths = np.unique(self.rows["genome_length"])
        if len(lengths) > 1:
            raise ArchiveError(f"genome_matrix: records have genome lengths {lengths.tolist()}; filter by space first")
        g = int(lengths[0]) if len(lengths) else 0
        offsets = self.rows["genome_offset"]
        if len(offsets) and np.array_equal(offsets, offsets[0] + g * np.arange(len(offsets))):
            start = int(offsets[0])  # stored back to back (the usual case): one reshape, no gather
            return self.genomes[start:start + g * len(offsets)].reshape(-1, g).astype(np.int64)
        return self.genomes[offsets[:, None] + np.arange(g)[None, :]].astype(np.int64)

    def select(self, rows: np.ndarray) -> RecordTable:
        """The rows given by a boolean mask or an index array (heaps shared, not copied)."""
        return RecordTable(self.rows[rows], self.values[rows], self.columns, self.genomes, self.curves, self.text)

    def filter(self, *, task: str | None = None, space: str | None = None, status: str | None = None,
               fidelity: int | None = None, generation: int | None = None, campaign: str | None = None) -> RecordTable:
        """Rows matching every given filter."""
        mask = np.ones(len(self), dtype=bool)
        for field, value in (("task_id", task), ("space_id", space), ("campaign_id", campaign)):
            if value is not None:
                mask &= self.rows[field] == value.encode()
        if status is not None:
            if status not in STATUSES:
                raise ArchiveError(f"status: {status!r} is not allowed; allowed: {list(STATUSES)}")
            mask &= self.rows["status"] == STATUSES.index(status)
        for field, number in (("fidelity", fidelity), ("generation", generation)):
            if number is not None:
                mask &= self.rows[field] == number
        return self.select(mask)

    def record(self, i: int) -> Record:
        """Row ``i`` as a :class:`Record`."""
        row = self.rows[i]
        return Record(
            genome=self.genome(i), space_id=row["space_id"].decode(), task_id=row["task_id"].decode(),
            fidelity=int(row["fidelity"]), values=dict(zip(self.columns, self.values[i].tolist(), strict=True)),
            status=STATUSES[row["status"]], reason=self.reason(i), wall_time_s=float(row["wall_time_s"]),
            device=row["device"].decode(), seed=int(row["seed"]), generation=int(row["generation"]),
            campaign_id=row["campaign_id"].decode(), curve=self.curve(i).copy(), created=float(row["created"]),
            origin=row["origin"].decode(), origin_index=int(row["origin_index"]),
        )

    def records(self) -> list[Record]:
        return [self.record(i) for i in range(len(self))]
