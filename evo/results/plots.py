"""Static figures (matplotlib, Agg): the Pareto front and one candidate's per-layer compression."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from nasco.archive.atomic import atomic_output
from nasco.evo.results.front import SCALE, UNITS, Front
from nasco.evo.space.genome import LayerTable


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _label(name: str) -> str:
    return f"{name} ({UNITS[name]})"


def _panel(ax, front: Front, a: int, b: int, knee: int | None) -> None:
    names = front.objectives
    x, y = front.F[:, a] * SCALE[names[a]], front.F[:, b] * SCALE[names[b]]
    on = front.on_front
    ax.scatter(x[~on], y[~on], s=10, color="0.6", alpha=0.35, label="dominated", linewidths=0)
    order = np.flatnonzero(on)[np.argsort(x[on], kind="stable")]
    ax.scatter(x[order], y[order], s=22, color="C0", label="Pareto front", zorder=3)
    if len(names) == 2:
        ax.step(x[order], y[order], where="post", color="C0", lw=1.2)
    if knee is not None:
        ax.scatter([x[knee]], [y[knee]], s=120, marker="*", color="C3", zorder=4, label="knee")
    for i, name in ((a, names[a]), (b, names[b])):
        if name != "error":
            (ax.set_xscale if i == a else ax.set_yscale)("log")
    ax.set(xlabel=_label(names[a]), ylabel=_label(names[b]))
    ax.grid(alpha=0.3)


def plot_front(front: Front, path: str, *, knee: bool = False, title: str = "") -> None:
    """2 objectives: one scatter with the front as a step line; 3+: every pair in its own panel."""
    plt = _pyplot()
    pairs = list(itertools.combinations(range(len(front.objectives)), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.4), squeeze=False)
    knee_index = front.knee() if knee else None
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        _panel(ax, front, a, b, knee_index)
    axes[0][0].legend(loc="best", fontsize=8)
    fig.suptitle(title or f"{front.task}: {int(front.on_front.sum())} of {len(front.F)} records on the front "
                 f"(fidelity {front.fidelity})")
    fig.tight_layout()
    with atomic_output(path, "wb") as f:
        fig.savefig(f, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)


def plot_candidate(table: LayerTable, curve: np.ndarray, path: str, title: str) -> None:
    """Per-layer weight/activation bits and prune ratio (bars) and the validation error curve (LayerNorms
    of sequence networks, which have neither, are left out)."""
    plt = _pyplot()
    rows = [r for r in table.rows() if r["role"] not in ("norm", "ffn_norm")]
    prune = [1 - r["kept_c_out"] / r["c_out"] for r in rows]
    fig, (ax_bits, ax_prune, ax_curve) = plt.subplots(3, 1, figsize=(max(6.0, 0.35 * len(rows)), 8.0),
                                                      gridspec_kw={"height_ratios": [2, 1.4, 1.4]})
    x = np.arange(len(rows))
    ax_bits.bar(x - 0.2, [r["w_bits"] for r in rows], 0.4, label="weight bits")
    ax_bits.bar(x + 0.2, [r["a_bits"] for r in rows], 0.4, label="activation bits")
    ax_bits.set_yscale("log", base=2)
    ax_bits.set(ylabel="bits (32 = float)", yticks=[2, 4, 8, 16, 32], yticklabels=["2", "4", "8", "16", "32"])
    ax_bits.yaxis.set_minor_formatter(plt.NullFormatter())
    ax_bits.legend(fontsize=8)
    ax_prune.bar(x, prune, color="C2")
    ax_prune.set(ylabel="pruned share", ylim=(0, 1))
    ax_bits.set_xticks(x, [])
    ax_prune.set_xticks(x, [r["name"].replace("stages", "s").replace("blocks", "b") for r in rows], rotation=90,
                        fontsize=7)
    if len(curve):
        ax_curve.plot(np.arange(1, len(curve) + 1), 100 * np.asarray(curve), marker="o")
    ax_curve.set(xlabel="epoch", ylabel="val error (%)")
    ax_curve.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path, "wb") as f:
        fig.savefig(f, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)


def plot_parity(path: str | Path, x: np.ndarray, y: np.ndarray, *, xlabel: str, ylabel: str, title: str,
                log: bool = False) -> None:
    """A predicted-vs-true scatter (N,) with the diagonal, written to ``path`` (PNG)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(x, y, s=12, alpha=0.6)
    lo, hi = float(min(np.min(x), np.min(y))), float(max(np.max(x), np.max(y)))
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if log:
        ax.set(xscale="log", yscale="log")
    fig.tight_layout()
    with atomic_output(path, "wb") as f:
        fig.savefig(f, dpi=120, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
