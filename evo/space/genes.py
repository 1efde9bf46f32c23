"""The ``genes`` space kind: named genes with explicit choices and no network.

For users whose evaluator does the rest (their own model and training, a tabular benchmark):
the search, screening, archive and fronts work on the genes alone. TOML::

    kind = "genes"
    name = "my-space"
    costs = "mypackage.costs:estimate"   # optional cheap costs, see below

    [genes]
    depth = [2, 4, 8]
    activation = ["relu", "gelu", "silu"]

    [encoding]                  # optional: how a surrogate sees a gene
    depth = "onehot"            # default: ordinal for numbers, onehot for strings

Every gene is active (the canonical form is the genome itself). ``costs`` names a function
``f(values: dict[str, numpy.ndarray]) -> dict[str, numpy.ndarray]`` that receives each gene's
chosen values for a batch of N genomes and returns named cheap costs (float (N,) each): the
loop calls it on *unevaluated* genomes for constraints, screening and surrogate features.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nasco.evo.errors import SpaceError
from nasco.evo.registry import load_entry
from nasco.evo.space.base import SpaceKind, SpaceLayout

MAX_GENES = 10_000
MAX_CHOICES = 32_767  # genomes are stored as int16
ENCODINGS = ("onehot", "ordinal")  # how a gene's choice reaches a surrogate


@dataclass(frozen=True)
class GenesSpace:
    """Named genes, each with its tuple of choices (numbers or strings); optional cost entry."""

    genes: tuple[tuple[str, tuple], ...]
    name: str = "genes"
    costs: str = ""
    encoding: tuple[tuple[str, str], ...] = ()  # gene → "onehot" | "ordinal", overriding the inferred one
    kind = "genes"

    def __post_init__(self) -> None:
        if not self.genes:
            raise SpaceError("genes: an empty table is not allowed; allowed: at least one gene with its choices")
        if len(self.genes) > MAX_GENES:
            raise SpaceError(f"genes: {len(self.genes)} genes are not allowed; allowed: at most {MAX_GENES}")
        for gene, choices in self.genes:
            where = f"genes.{gene}"
            if not choices or len(choices) > MAX_CHOICES:
                raise SpaceError(f"{where}: {len(choices)} choices are not allowed; allowed: 1..{MAX_CHOICES}")
            kinds = {type(c) for c in choices}
            if not (kinds <= {int, float} or kinds == {str}):
                raise SpaceError(f"{where}: {list(choices)!r} is not allowed; allowed: a list of numbers or of strings")
            if any(isinstance(c, float) and not math.isfinite(c) for c in choices):
                raise SpaceError(f"{where}: {list(choices)!r} has a non-finite number; allowed: finite numbers")
            if len(set(choices)) != len(choices):
                raise SpaceError(f"{where}: {list(choices)!r} repeats a choice; allowed: distinct choices")
        names = {g for g, _ in self.genes}
        for gene, how in self.encoding:
            if gene not in names or how not in ENCODINGS:
                raise SpaceError(f"encoding.{gene}: {how!r} is not allowed; allowed: a gene of the space "
                                 f"({', '.join(sorted(names)[:8])}) = {' or '.join(ENCODINGS)}")

    @property
    def space_id(self) -> str:
        """Stable id: sha256 of the canonical JSON of everything but ``name`` (16 hex digits)."""
        data = self.to_dict()
        data.pop("name")
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"kind": "genes", "name": self.name, "genes": {g: list(c) for g, c in self.genes}}
        if self.costs:
            data["costs"] = self.costs
        if self.encoding:
            data["encoding"] = dict(self.encoding)
        return data


class GenesLayout(SpaceLayout):
    """The compiled ``genes`` space: genes in declaration order; cheap costs from the cost entry."""

    def __init__(self, space: GenesSpace) -> None:
        self.space = space
        self.gene_names = tuple(g for g, _ in space.genes)
        self.gene_choices = tuple(tuple(c) for _, c in space.genes)
        self.numeric = np.array([not isinstance(c[0], str) for c in self.gene_choices])
        declared = dict(space.encoding)
        self.encodings = tuple(declared.get(g, "ordinal" if numeric else "onehot")
                               for g, numeric in zip(self.gene_names, self.numeric, strict=True))

    @cached_property
    def _cost_function(self):
        return load_entry(self.space.costs, "space.costs") if self.space.costs else None

    @cached_property
    def cost_names(self) -> tuple[str, ...]:
        if self._cost_function is None:
            return ()
        return tuple(self._call_costs(np.zeros((1, self.n_genes), dtype=np.int64)))

    def canonicalize(self, genomes: np.ndarray) -> np.ndarray:
        single = np.asarray(genomes).ndim == 1
        array = self.as_genomes(genomes)
        return array[0] if single else array

    def _call_costs(self, genomes: np.ndarray) -> dict[str, np.ndarray]:
        values = {name: np.array(choices, dtype=object if isinstance(choices[0], str) else np.float64)[genomes[:, g]]
                  for g, (name, choices) in enumerate(zip(self.gene_names, self.gene_choices, strict=True))}
        try:
            out = self._cost_function(values)
        except Exception as err:
            raise SpaceError(f"space.costs = {self.space.costs!r} raised {type(err).__name__}: {err}") from err
        if not isinstance(out, dict) or not out:
            raise SpaceError(f"space.costs = {self.space.costs!r} returned {type(out).__name__}; allowed: a non-empty "
                             "dict of cost name → array (N,)")
        checked = {}
        for name, column in out.items():
            column = np.asarray(column, dtype=np.float64).reshape(-1)
            if not isinstance(name, str) or column.shape != (len(genomes),) or not np.all(np.isfinite(column)):
                raise SpaceError(f"space.costs = {self.space.costs!r}: cost {name!r} is not allowed; allowed: a name "
                                 f"and {len(genomes)} finite numbers (one per genome)")
            checked[name] = column
        return checked

    def costs(self, genomes: np.ndarray) -> np.ndarray:
        genomes = self.as_genomes(genomes)
        if self._cost_function is None or not len(genomes):
            return np.zeros((len(genomes), len(self.cost_names)))
        out = self._call_costs(genomes)
        if tuple(out) != self.cost_names:
            raise SpaceError(f"space.costs = {self.space.costs!r} returned costs {list(out)}, earlier "
                             f"{list(self.cost_names)}; allowed: the same names every call")
        return np.column_stack([out[name] for name in self.cost_names])

    def features(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, F): each varying gene by its encoding — ``ordinal``: the choice index scaled to [0, 1];
        ``onehot``: one column per choice (one column for two choices) — then log10(1 + cost) of each cheap
        cost. Genes of strings are one-hot unless declared ordinal (unordered names must not look ordered to
        a surrogate); genes of numbers ordinal unless declared one-hot."""
        genomes = self.as_genomes(genomes)
        columns = []
        for g, (n, how) in enumerate(zip(self.upper_bounds, self.encodings, strict=True)):
            if n < 2:
                continue
            if how == "onehot" and n > 2:
                columns.append(np.eye(n)[genomes[:, g]])
            else:
                columns.append((genomes[:, g] / (n - 1))[:, None])
        columns.append(np.log10(1.0 + np.maximum(self.costs(genomes), 0.0)))
        return np.column_stack(columns).astype(np.float64)


class GenesKind(SpaceKind):
    name = "genes"
    network = False

    def from_dict(self, data: dict) -> GenesSpace:
        allowed = ("kind", "name", "genes", "costs", "encoding")
        if not isinstance(data, dict):
            raise SpaceError(f"space: {data!r} is not allowed; allowed: a table with keys {list(allowed)}")
        for key in data:
            if key not in allowed:
                raise SpaceError(f"space: unknown key {key!r}; allowed keys: {list(allowed)}")
        genes = data.get("genes")
        if not isinstance(genes, dict):
            raise SpaceError(f"genes: {genes!r} is not allowed; allowed: a table of gene name = [choices]")
        for gene, choices in genes.items():
            if not isinstance(choices, list):
                raise SpaceError(f"genes.{gene}: {choices!r} is not allowed; allowed: a list of choices")
        name, costs = data.get("name", "genes"), data.get("costs", "")
        if not isinstance(name, str) or not isinstance(costs, str):
            raise SpaceError(f"space.name / space.costs: {name!r} / {costs!r}; allowed: strings")
        encoding = data.get("encoding", {})
        if not isinstance(encoding, dict):
            raise SpaceError(f"encoding: {encoding!r} is not allowed; allowed: a table of gene = onehot or ordinal")
        return GenesSpace(tuple((g, tuple(c)) for g, c in genes.items()), name, costs,
                          tuple((str(g), how) for g, how in encoding.items()))

    def compile(self, space: GenesSpace) -> GenesLayout:
        return GenesLayout(space)

