"""One evaluated candidate (:class:`Record`), its validation, and the archive's row layout."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from nasco.archive.errors import ArchiveError

STATUSES = ("ok", "failed")
GENE_MAX = 2**15 - 1  # genes are stored as int16

# Fixed-size UTF-8 string fields: name → maximum bytes.
STRING_FIELDS = {"genome_hash": 16, "space_id": 16, "task_id": 32, "campaign_id": 32, "device": 16, "origin": 64}

ROW_DTYPE = np.dtype([
    ("genome_hash", "S16"), ("space_id", "S16"), ("task_id", "S32"), ("campaign_id", "S32"),
    ("device", "S16"), ("origin", "S64"), ("origin_index", "<i8"),
    ("fidelity", "<i4"), ("status", "i1"), ("generation", "<i4"), ("seed", "<i8"),
    ("wall_time_s", "<f8"), ("created", "<f8"),
    ("genome_offset", "<i8"), ("genome_length", "<i4"),
    ("curve_offset", "<i8"), ("curve_length", "<i4"),
    ("reason_offset", "<i8"), ("reason_length", "<i4"),
])


def genome_key(space_id: str, genome: np.ndarray) -> str:
    """Stable 16-hex-digit hash of (space id, canonical genome) — the archive key."""
    payload = space_id.encode() + np.asarray(genome, dtype="<i8").tobytes()
    return hashlib.sha256(payload).hexdigest()[:16]


@dataclass
class Record:
    """One evaluated candidate.

    Attributes:
        genome: canonical genome, int (G,).
        space_id, task_id: keys of the archive's registered spaces and tasks.
        fidelity: training epochs.
        values: objectives and costs by column name (NaN where not measured).
        status: ``"ok"`` or ``"failed"``; reason: why it failed.
        wall_time_s, device, seed, generation, campaign_id: how it was produced.
        curve: validation error per epoch, float32.
        created: seconds since the Unix epoch (set on append when None).
        origin, origin_index: provenance after a merge.
    """

    genome: np.ndarray
    space_id: str
    task_id: str
    fidelity: int
    values: Mapping[str, float]
    status: str = "ok"
    reason: str = ""
    wall_time_s: float = 0.0
    device: str = "cpu"
    seed: int = 0
    generation: int = -1
    campaign_id: str = ""
    curve: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    created: float | None = None
    origin: str = ""
    origin_index: int = -1

    @property
    def genome_hash(self) -> str:
        return genome_key(self.space_id, self.genome)


def _utf8(name: str, value: object, limit: int | None) -> bytes:
    if not isinstance(value, str):
        raise ArchiveError(f"record.{name}: {value!r} is a {type(value).__name__}; allowed: a string")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ArchiveError(f"record.{name}: {value!r} is not valid UTF-8 ({err.reason})") from None
    if b"\x00" in data:
        raise ArchiveError(f"record.{name}: {value!r} contains a NUL character; allowed: text without NUL")
    if limit is not None and len(data) > limit:
        raise ArchiveError(f"record.{name}: {value!r} is {len(data)} UTF-8 bytes; allowed: at most {limit}")
    return data


def _int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ArchiveError(f"record.{name}: {value!r} is not allowed; allowed: integers ≥ {minimum}")
    return int(value)


def validate(record: Record, *, spaces: Mapping[str, dict], tasks: Mapping[str, dict],
             columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bytes]:
    """Check a record against the archive; returns (genome int16, values float64 (K,), curve, reason bytes).

    Raises:
        ArchiveError: naming the field, the value and what is allowed.
    """
    if record.space_id not in spaces:
        raise ArchiveError(f"record.space_id: {record.space_id!r} is not registered in this archive; "
                           f"registered: {sorted(spaces)}")
    if record.task_id not in tasks:
        raise ArchiveError(f"record.task_id: {record.task_id!r} is not registered in this archive; "
                           f"registered: {sorted(tasks)}")
    genome = np.asarray(record.genome)
    n_genes = spaces[record.space_id]["n_genes"]
    if genome.ndim != 1 or len(genome) != n_genes or not np.issubdtype(genome.dtype, np.integer):
        raise ArchiveError(f"record.genome: shape {genome.shape} dtype {genome.dtype} is not allowed; allowed: "
                           f"{n_genes} integers (space {record.space_id})")
    if len(genome) and (genome.min() < 0 or genome.max() > GENE_MAX):
        raise ArchiveError(f"record.genome: values {genome.min()}..{genome.max()} are not allowed; allowed: "
                           f"0..{GENE_MAX}")
    if set(record.values) != set(columns):
        raise ArchiveError(f"record.values: columns {sorted(record.values)} do not match the archive's "
                           f"columns {list(columns)}")
    values = np.array([record.values[c] for c in columns], dtype=np.float64)
    if np.isinf(values).any():
        raise ArchiveError(f"record.values: {dict(zip(columns, values.tolist(), strict=True))} has an infinite "
                           "value; allowed: finite numbers, or NaN for not measured")
    if record.status not in STATUSES:
        raise ArchiveError(f"record.status: {record.status!r} is not allowed; allowed: {list(STATUSES)}")
    _int("fidelity", record.fidelity, 0)
    _int("seed", record.seed, -(2**63))
    _int("generation", record.generation, -1)
    _int("origin_index", record.origin_index, -1)
    for name in ("wall_time_s",) + (("created",) if record.created is not None else ()):
        value = getattr(record, name)
        if not isinstance(value, (int, float, np.floating)) or not math.isfinite(value) or value < 0:
            raise ArchiveError(f"record.{name}: {value!r} is not allowed; allowed: finite numbers ≥ 0")
    for name, limit in STRING_FIELDS.items():
        if name != "genome_hash":
            _utf8(name, getattr(record, name), limit)
    curve = np.asarray(record.curve, dtype=np.float32).reshape(-1)
    return genome.astype(np.int16), values, curve, _utf8("reason", record.reason, None)


def to_row(record: Record, offsets: tuple[int, int, int], lengths: tuple[int, int, int]) -> tuple:
    """The record as a tuple in :data:`ROW_DTYPE` order (validated first)."""
    created = time.time() if record.created is None else record.created
    return (record.genome_hash.encode(), record.space_id.encode(), record.task_id.encode(),
            record.campaign_id.encode(), record.device.encode(), record.origin.encode(), record.origin_index,
            record.fidelity, STATUSES.index(record.status), record.generation, record.seed,
            float(record.wall_time_s), created,
            offsets[0], lengths[0], offsets[1], lengths[1], offsets[2], lengths[2])
