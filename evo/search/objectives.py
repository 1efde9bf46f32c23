"""The objectives registry: one entry per objective; the loop, fronts, report and CLI read it.

An objective is minimised. Its **source** is a cheap ``cost`` (known before evaluation: the
space kernels' exact costs, a latency table, a ``genes`` space's cost function or a table
evaluator's cheap columns) or an evaluator ``metric`` (known only after evaluation). Built-ins
are listed in :data:`BUILTIN`; any other value by name is ``metric:NAME`` (e.g.
``names = ["error", "metric:flops"]``), a cost when the space or evaluator declares ``NAME``
cheap, a metric otherwise. Adding a built-in objective is one line in :data:`BUILTIN`.
"""

from __future__ import annotations

from dataclasses import dataclass

from nasco.evo.errors import NascoError

METRIC_PREFIX = "metric:"


@dataclass(frozen=True)
class Objective:
    """One objective.

    Attributes:
        name: as written in the config (``"bitops"``, ``"metric:flops"``).
        column: the archive column holding its value (``"size_bits"``, ``"flops"``).
        unit: display unit after ``scale`` (``"%"``, ``"KiB"``; empty: as stored).
        scale: display value = stored value × scale.
        log: minimised as log10 (costs that span decades), so crowding sees decades.
        source: ``"cost"`` or ``"metric"`` (see the module docstring).
        constraint: the ``[constraints]`` key bounding it (``"max_bitops"``), empty if none.
        constraint_unit: stored value per unit of the constraint (``max_size_kb`` × 8192 bits).
    """

    name: str
    column: str
    unit: str = ""
    scale: float = 1.0
    log: bool = False
    source: str = "metric"
    constraint: str = ""
    constraint_unit: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.name.removeprefix(METRIC_PREFIX)} ({self.unit})" if self.unit else \
            self.name.removeprefix(METRIC_PREFIX)


BUILTIN: dict[str, Objective] = {o.name: o for o in (
    Objective("error", "error", "%", 100.0),
    Objective("macs", "macs", "M", 1e-6, True, "cost", "max_macs"),
    Objective("params", "params", "k", 1e-3, True, "cost", "max_params"),
    Objective("bitops", "bitops", "G", 1e-9, True, "cost", "max_bitops"),
    Objective("size", "size_bits", "KiB", 1 / 8192, True, "cost", "max_size_kb", 8192.0),
    Objective("peak_memory", "peak_act_bits", "KiB", 1 / 8192, True, "cost", "max_peak_memory_kb", 8192.0),
    Objective("latency", "latency_us", "ms", 1e-3, True, "cost", "max_latency_ms", 1000.0),
)}
NETWORK_COSTS = ("macs", "params", "bitops", "size", "peak_memory", "latency")  # need a network space kind


def objective(name: str, cheap: tuple[str, ...] = ()) -> Objective:
    """The registry entry of ``name``; ``cheap``: value names known before evaluation.

    Raises:
        NascoError: an unknown name (naming the allowed ones).
    """
    if name in BUILTIN:
        return BUILTIN[name]
    if isinstance(name, str) and name.startswith(METRIC_PREFIX) and len(name) > len(METRIC_PREFIX):
        column = name[len(METRIC_PREFIX):]
        builtin = next((o for o in BUILTIN.values() if o.column == column), None)
        if builtin is not None:  # the archive's column would be read back as the built-in objective
            raise NascoError(f"objective {name!r} is not allowed: {column!r} is the column of the built-in objective "
                             f"{builtin.name!r}; allowed: {builtin.name!r} itself (network spaces), or a value "
                             f"named otherwise (e.g. metric:{column}_count, with the evaluator returning that name)")
        source = "cost" if column in cheap else "metric"
        return Objective(name, column, log=source == "cost", source=source)
    raise NascoError(f"objective {name!r} is not allowed; allowed: {', '.join(BUILTIN)} or metric:NAME "
                     "(any value the evaluator returns or the space declares cheap)")


def by_column(column: str) -> Objective:
    """The objective stored in archive ``column`` (a built-in, else ``metric:column``)."""
    for o in BUILTIN.values():
        if o.column == column:
            return o
    return objective(METRIC_PREFIX + column)
