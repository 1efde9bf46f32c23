"""Latency look-up tables: every layer configuration a space can produce, the table file, predictions.

:func:`layer_configurations` enumerates exactly the distinct layer keys of a space (see
:mod:`nasco.kernels.latency` for the key) by a walk over the layer program whose state is
(kept channels, height, width, the depth of the current stage, and the genes already chosen
that later layers read again), so no combination is invented that no genome can produce.
:class:`LatencyTable` is the measured table with its device description; it is stored as JSON
or HDF5 and refuses to serve a space or input shape it was not measured for.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nasco.evo.errors import NascoError
from nasco.evo.space.genome import as_genomes
from nasco.evo.space.layout import GenomeLayout
from nasco.kernels.latency import batch_latency, pack_key, unpack_key
from nasco.kernels.tables import (
    KIND_DEPTHWISE,
    KIND_LINEAR,
    PRUNE_EPS,
    S_BLOCK_INDEX,
    S_CH_CONST,
    S_CH_GENE_A,
    S_CH_GENE_B,
    S_DEPTH_GENE,
    S_KERNEL_CONST,
    S_KERNEL_GENE,
    S_KIND,
    S_PRUNE_GENE,
    S_STRIDE,
)

ACT_ROLES = ("stem", "expand", "depthwise", "head")  # roles whose layer is followed by ReLU6
FORMAT_VERSION = 2


class LatencyError(NascoError, ValueError):
    """A latency table is missing entries, belongs to another space/input, or is malformed."""


def slot_activations(layout: GenomeLayout) -> np.ndarray:
    """int64 (L,): 1 where the slot's layer is followed by ReLU6."""
    return np.array([int(role in ACT_ROLES) for role in layout.slot_roles], dtype=np.int64)


def _slot_genes(slot: np.ndarray) -> list[int]:
    return [int(g) for g in (slot[S_KERNEL_GENE], slot[S_CH_GENE_A], slot[S_CH_GENE_B], slot[S_PRUNE_GENE],
                             slot[S_DEPTH_GENE]) if g >= 0]


def layer_configurations(layout: GenomeLayout) -> np.ndarray:
    """Sorted int64 keys of every distinct layer configuration the space can produce."""
    t = layout.tables
    slots, values, n_choices = t.slots, t.gene_values, t.gene_n
    act = slot_activations(layout)
    last_use: dict[int, int] = {}
    for i, slot in enumerate(slots):
        for g in _slot_genes(slot):
            last_use[g] = i
    c, h, w = (int(v) for v in t.input_chw)
    states = {(c, h, w, ())}  # (kept, h, w, sorted tuple of (gene, choice) still needed)
    keys: set[int] = set()
    for i, slot in enumerate(slots):
        following = set()
        for kept, height, width, chosen in states:
            for assignment in _assignments(dict(chosen), _slot_genes(slot), n_choices):
                def value(g: int, a=assignment) -> float:
                    return values[g, a[g]]

                depth_gene = int(slot[S_DEPTH_GENE])
                if depth_gene >= 0 and value(depth_gene) <= slot[S_BLOCK_INDEX]:
                    nxt = (kept, height, width)
                else:
                    kind, stride = int(slot[S_KIND]), int(slot[S_STRIDE])
                    kernel = int(value(int(slot[S_KERNEL_GENE]))) if slot[S_KERNEL_GENE] >= 0 \
                        else int(slot[S_KERNEL_CONST])
                    hh, ww = (1, 1) if kind == KIND_LINEAR else (height, width)
                    kept_out = kept
                    if kind != KIND_DEPTHWISE:
                        c_out = int(slot[S_CH_CONST])
                        for g in (int(slot[S_CH_GENE_A]), int(slot[S_CH_GENE_B])):
                            if g >= 0:
                                c_out *= int(value(g))
                        kept_out = c_out
                        if slot[S_PRUNE_GENE] >= 0:
                            kept_out = max(1, c_out - math.floor(value(int(slot[S_PRUNE_GENE])) * c_out + PRUNE_EPS))
                    keys.add(pack_key(kind, int(act[i]), kernel, stride, kept, kept_out, hh, ww))
                    nxt = (kept_out, (hh - 1) // stride + 1, (ww - 1) // stride + 1)
                remembered = tuple(sorted((g, v) for g, v in assignment.items() if last_use[g] > i))
                following.add((*nxt, remembered))
        states = following
    return np.array(sorted(keys), dtype=np.int64)


def _assignments(chosen: dict[int, int], genes: list[int], n_choices: np.ndarray):
    """Every assignment of ``genes`` consistent with ``chosen``."""
    free = [g for g in dict.fromkeys(genes) if g not in chosen]
    for combo in np.ndindex(*(int(n_choices[g]) for g in free)) if free else [()]:
        yield {**chosen, **dict(zip(free, (int(v) for v in combo), strict=True))}


@dataclass
class LatencyTable:
    """Measured per-layer latencies (µs) of one space at one input shape on one device.

    Attributes:
        space_id, input_shape: what the table was measured for.
        device: name, torch version, threads, batch (dict).
        keys: sorted int64 (K,); median_us, spread_us: float64 (K,) (NaN = not measured yet):
            the median and interquartile range of the quietest timing round (see
            :mod:`nasco.evo.latency.profile`); skipped: keys too slow for the budget.
        overhead: (c0, c1) µs per network and per layer (0, 0 until fitted).
        rounds: int64 (K,), timing rounds behind each entry (default: 1 per measured entry).
    """

    space_id: str
    input_shape: tuple[int, int, int]
    device: dict
    keys: np.ndarray
    median_us: np.ndarray
    spread_us: np.ndarray
    overhead: tuple[float, float] = (0.0, 0.0)
    skipped: list[int] = field(default_factory=list)
    rounds: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.rounds is None:
            self.rounds = np.isfinite(self.median_us).astype(np.int64)

    @property
    def complete(self) -> bool:
        return bool(np.isfinite(self.median_us).all())

    def check_layout(self, layout: GenomeLayout) -> None:
        if layout.space.space_id != self.space_id or tuple(layout.space.input_shape) != tuple(self.input_shape):
            raise LatencyError(f"this latency table was measured for space {self.space_id} at input "
                               f"{list(self.input_shape)}; it cannot serve space {layout.space.space_id} at input "
                               f"{list(layout.space.input_shape)} — profile that space with nasco latency profile")

    def predict(self, layout: GenomeLayout, genomes: np.ndarray) -> np.ndarray:
        """Predicted latency in µs of genomes (N, G) (Numba batch kernel)."""
        self.check_layout(layout)
        if not self.complete:
            raise LatencyError(f"the latency table has {int(np.isnan(self.median_us).sum())} unmeasured entries; "
                               "finish it with nasco latency profile (it resumes)")
        out, missing = batch_latency(layout.tables, slot_activations(layout), as_genomes(layout, genomes),
                                     self.keys, self.median_us, self.overhead)
        if (missing >= 0).any():
            raise LatencyError(f"layer configuration {unpack_key(int(missing[missing >= 0][0]))} is not in the "
                               "latency table")
        return out

    # ---------------------------------------------------------------- files
    def save(self, path: str | Path) -> None:
        path = Path(path)
        meta = {"format_version": FORMAT_VERSION, "space_id": self.space_id, "input_shape": list(self.input_shape),
                "device": self.device, "overhead": list(self.overhead), "skipped": [int(k) for k in self.skipped]}
        if path.suffix not in (".json", ".h5", ".hdf5"):
            raise LatencyError(f"{path}: allowed suffixes: .json, .h5")
        tmp = path.with_name(path.name + ".tmp")
        try:
            if path.suffix == ".json":
                entries = [{"key": int(k), **unpack_key(int(k)), "median_us": _num(m), "spread_us": _num(s),
                            "rounds": int(r)}
                           for k, m, s, r in zip(self.keys, self.median_us, self.spread_us, self.rounds, strict=True)]
                tmp.write_text(json.dumps({**meta, "entries": entries}, indent=0), encoding="utf-8")
            else:
                import h5py

                with h5py.File(tmp, "w") as f:
                    f.attrs["meta_json"] = json.dumps(meta)
                    for name in ("keys", "median_us", "spread_us", "rounds"):
                        f.create_dataset(name, data=getattr(self, name))
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    @staticmethod
    def load(path: str | Path) -> LatencyTable:
        path = Path(path)
        if not path.is_file():
            raise LatencyError(f"latency table {str(path)!r} not found")
        try:
            data, arrays = _read_table(path)
            if data.get("format_version") != FORMAT_VERSION:
                raise LatencyError(f"{path}: format_version {data.get('format_version')!r}; allowed: "
                                   f"{FORMAT_VERSION}")
            keys, median, spread, rounds = arrays
            return LatencyTable(data["space_id"], tuple(data["input_shape"]), data["device"], keys, median, spread,
                                overhead=tuple(data["overhead"]), skipped=data["skipped"], rounds=rounds)
        except LatencyError:
            raise
        except Exception as err:  # JSON, HDF5 and missing fields each fail their own way
            raise LatencyError(f"{path}: not a latency table written by nasco latency profile "
                               f"({type(err).__name__}: {str(err)[:200]})") from None


def _read_table(path: Path) -> tuple[dict, tuple[np.ndarray, ...]]:
    """(metadata, (keys, median µs, spread µs, rounds)) of a table file (.json, else HDF5)."""
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data.pop("entries")
        return data, (np.array([e["key"] for e in entries], dtype=np.int64),
                      np.array([np.nan if e["median_us"] is None else e["median_us"] for e in entries], np.float64),
                      np.array([np.nan if e["spread_us"] is None else e["spread_us"] for e in entries], np.float64),
                      np.array([e["rounds"] for e in entries], dtype=np.int64))
    import h5py

    with h5py.File(path, "r") as f:
        return json.loads(f.attrs["meta_json"]), (f["keys"][:], f["median_us"][:], f["spread_us"][:], f["rounds"][:])


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)
