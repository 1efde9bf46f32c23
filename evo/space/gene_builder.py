"""Declaring a network space's genes while its layout is built: what the mobilenet and sequence
builders share (pinned genes, the check that every pinned gene exists, the gene tables)."""

from __future__ import annotations

import difflib

import numpy as np

from nasco.evo.errors import SpaceError


class GeneBuilder:
    """Collects genes in declaration order: ``genes`` holds (name, choices, depth gene, block index)."""

    def __init__(self, fixed: dict) -> None:
        self.genes: list[tuple[str, tuple, int, int]] = []
        self.fixed = dict(fixed)

    def gene(self, name: str, choices: tuple, depth_gene: int = -1, block: int = -1) -> int:
        """Declare a gene (its index); one the space pins (``fixed``) keeps only the pinned choice."""
        if name in self.fixed:
            value = self.fixed.pop(name)
            if value not in choices:
                raise SpaceError(f"fixed.{name}: {value!r} is not allowed; allowed: one of its choices "
                                 f"{list(choices)}")
            choices = (value,)
        self.genes.append((name, tuple(choices), depth_gene, block))
        return len(self.genes) - 1

    def check_fixed_used(self) -> None:
        """Raise SpaceError naming a pinned gene the space does not have (with the closest name)."""
        if not self.fixed:
            return
        names = [g[0] for g in self.genes]
        unknown = next(iter(self.fixed))
        close = difflib.get_close_matches(unknown, names, n=1)
        raise SpaceError(f"fixed.{unknown}: no such gene in this space"
                         + (f"; did you mean {close[0]!r}?" if close else f"; genes: {names[:6]} …"))

    def gene_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(choice values float64 (G, max choices) zero-padded, choice counts int64 (G,), (depth gene,
        block index) int64 (G, 2)) of the declared genes."""
        values = np.zeros((len(self.genes), max(len(g[1]) for g in self.genes)), dtype=np.float64)
        for g, (_, choices, _, _) in enumerate(self.genes):
            values[g, :len(choices)] = choices
        counts = np.array([len(g[1]) for g in self.genes], dtype=np.int64)
        active = np.array([(g[2], g[3]) for g in self.genes], dtype=np.int64)
        return values, counts, active

    def gene_names(self) -> tuple[str, ...]:
        return tuple(g[0] for g in self.genes)

    def gene_choices(self) -> tuple[tuple, ...]:
        return tuple(g[1] for g in self.genes)
