"""What every search-space kind offers (docs/ARCHITECTURE.md §2): the compiled layout the search works on,
and the kind itself (declare, load/dump, compile, default space); the registry of kinds is
:mod:`nasco.evo.space.kinds`.

A **layout** is a compiled space: ``G`` genes, each an index into its choices. The campaign
loop, NSGA-II, the surrogate and the archive only use what :class:`SpaceLayout` declares, so a
new kind (a network family, or plain named genes) works everywhere by implementing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasco.archive.record import genome_key
from nasco.evo.errors import GenomeError, SpaceError
from nasco.evo.space.features import genome_features
from nasco.evo.space.genome import canonicalize, fixed_genome
from nasco.kernels.tables import COST_NAMES


class SpaceLayout(ABC):
    """A compiled search space. Subclasses set ``space`` (with ``space_id``, ``kind``, ``to_dict()``),
    ``gene_names`` (G,) and ``gene_choices`` (G,) and implement the abstract methods."""

    space: Any
    gene_names: tuple[str, ...]
    gene_choices: tuple[tuple, ...]

    network: bool = False  # True for kinds that describe a network (exact kernel costs, a torch model)

    @property
    def n_genes(self) -> int:
        return len(self.gene_names)

    @property
    def upper_bounds(self) -> np.ndarray:
        """int64 (G,): exclusive upper bound of each gene (its number of choices)."""
        return np.array([len(c) for c in self.gene_choices], dtype=np.int64)

    @property
    def cost_names(self) -> tuple[str, ...]:
        """Names of the cheap costs :meth:`costs` returns (known before any evaluation)."""
        return ()

    def as_genomes(self, genomes: Sequence | np.ndarray) -> np.ndarray:
        """Validate genomes and return them as int64 (N, G).

        Raises:
            GenomeError: wrong dimensionality or length, a non-integer value, or a gene out of
                its bounds (the message names the gene, its value and the allowed range).
        """
        array = np.asarray(genomes)
        if array.ndim == 1:
            array = array[None, :]
        n_genes = self.n_genes
        if array.ndim != 2:
            raise GenomeError(f"genomes: shape {array.shape} is not allowed; allowed: (G,) or (N, G) with G={n_genes}")
        if array.shape[1] != n_genes:
            raise GenomeError(f"genome length: {array.shape[1]} is not allowed; this space has G={n_genes} genes")
        if array.size and not np.issubdtype(array.dtype, np.integer) and not _integral(array):
            raise GenomeError(f"genome values: dtype {array.dtype} with non-integer values; allowed: integers")
        array = array.astype(np.int64)
        bad = (array < 0) | (array >= self.upper_bounds)
        if bad.any():
            n, g = np.argwhere(bad)[0]
            raise GenomeError(
                f"gene {g} ({self.gene_names[g]}) of genome {n}: value {array[n, g]} is out of bounds; "
                f"allowed: 0..{self.upper_bounds[g] - 1} (choices {list(self.gene_choices[g])})")
        return array

    @abstractmethod
    def canonicalize(self, genomes: np.ndarray) -> np.ndarray:
        """The canonical form (inactive genes zeroed), int64, same shape as the input. Idempotent."""

    def hash(self, genome: np.ndarray) -> str:
        """Stable 16-hex-digit hash of (space id, canonical genome): the archive key."""
        return genome_key(self.space.space_id, self.canonicalize(np.asarray(genome).reshape(-1)))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` canonical genomes drawn uniformly per gene, int64 (n, G)."""
        return self.canonicalize(rng.integers(0, self.upper_bounds, size=(n, self.n_genes), dtype=np.int64))

    def cheapest(self) -> np.ndarray:
        """Genomes (k, G) likely to have the lowest costs (checked with random ones for constraints)."""
        return np.zeros((0, self.n_genes), dtype=np.int64)

    def costs(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, len(cost_names)) cheap costs of genomes (N, G)."""
        return np.zeros((len(self.as_genomes(genomes)), 0))

    @abstractmethod
    def features(self, genomes: np.ndarray) -> np.ndarray:
        """float64 (N, F) surrogate features of genomes (N, G): encoded genes plus cheap costs."""

    def gene_values(self, genome: np.ndarray) -> dict[str, Any]:
        """``{gene name: chosen value}`` of one genome (G,)."""
        genome = self.as_genomes(genome)[0]
        return {name: _plain(choices[i]) for name, choices, i in zip(self.gene_names, self.gene_choices,
                                                                     genome.tolist(), strict=True)}

    def genome_table(self, genome: np.ndarray) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        """(column headers, rows of text) describing one genome (G,), as ``nasco space``, ``nasco front
        show`` and the report print it: its gene values here; a network kind's layer table."""
        return ("gene", "value"), [(name, str(value)) for name, value in self.gene_values(genome).items()]


class NetworkLayout(SpaceLayout):
    """The layout of a network kind: gene tables ``tables.gene_values`` (G, C), ``gene_n`` (G,) and
    ``gene_active`` (G, 2) with the meaning of :mod:`nasco.kernels.tables` (so the genome operations of
    :mod:`nasco.evo.space.genome` serve every network kind), exact kernel costs (``COST_NAMES``) and a
    layer table per genome. Subclasses implement :meth:`exact_costs`, :meth:`decode` and
    :attr:`layer_names`."""

    network = True

    @property
    def upper_bounds(self) -> np.ndarray:
        """int64 (G,): exclusive upper bound of each gene (its number of choices)."""
        return self.tables.gene_n

    @property
    def cost_names(self) -> tuple[str, ...]:
        return COST_NAMES

    def canonicalize(self, genomes: np.ndarray) -> np.ndarray:
        return canonicalize(self, genomes)

    def cheapest(self) -> np.ndarray:
        return fixed_genome(self, arch="min", weight_bits=0, act_bits=0, prune=1.0)[None, :]

    @abstractmethod
    def exact_costs(self, genomes: np.ndarray) -> np.ndarray:
        """int64 (N, 5) exact costs of genomes (N, G), columns ``COST_NAMES`` (validated first)."""

    def costs(self, genomes: np.ndarray) -> np.ndarray:
        return self.exact_costs(genomes).astype(np.float64)

    def features(self, genomes: np.ndarray) -> np.ndarray:
        return genome_features(self, genomes)

    @abstractmethod
    def decode(self, genome: np.ndarray) -> Any:
        """The layer table of one genome (G,): an object with ``rows()`` (dicts with ``name``, ``w_bits``,
        ``c_out``, ``kept_c_out``, …) and ``display()`` → (headers, rows of text)."""

    def genome_table(self, genome: np.ndarray) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        return self.decode(genome).display()

    def summary(self) -> str:
        """One line on the space for ``nasco space``: what its networks take and predict, and its slots."""
        return f"kind {self.space.kind}  {len(self.layer_names)} weight layers"

    @property
    @abstractmethod
    def layer_names(self) -> tuple[str, ...]:
        """Every weight layer a network of the space can have, in order (report maps)."""


def _integral(array: np.ndarray) -> bool:
    """True for a numeric array whose values are all finite whole numbers."""
    if not np.issubdtype(array.dtype, np.number):
        return False
    return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))


def _plain(value: Any) -> Any:
    """A choice as a plain Python value (whole floats of network spaces become ints)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


FEATURES = {  # what a space kind may declare in ``SpaceKind.features``, and what each enables
    "preprocess": "the sensitivity sweep of compression choices on a reference network (search.preprocess)",
    "latency_table": "per-layer latency look-up tables (objectives.latency_lut)",
    "supernet": "the weight-sharing supernet (evaluator.kind = 'supernet', supernet.surrogate_feature)",
}


def missing_features(kind: SpaceKind, used: list[tuple[str, str]]) -> str:
    """The refusal of config fields that need features ``kind`` does not declare; ``used``: (field, feature)."""
    return (f"{', '.join(name for name, _ in used)}: need{'s' if len(used) == 1 else ''} "
            f"{' and '.join(FEATURES[f] for _, f in used)}; space kind {kind.name!r} declares "
            f"{', '.join(sorted(kind.features)) or 'none of these features'} (SpaceKind.features)")


class SpaceKind(ABC):
    """A family of search spaces: how to read one from a dict (TOML), compile it, and make a default."""

    name: str = ""
    network: bool = False  # genomes are networks: exact kernel costs (NETWORK_COST_COLUMNS), layer tables
    model: str = ""  # network kinds: import path of the NetworkKind that builds, slims and checks its torch models
    inputs: str = ""  # what its default space is made for: "images", "texts", or "" (no default space)
    features: frozenset[str] = frozenset()  # what else it supports: see FEATURES

    @abstractmethod
    def from_dict(self, data: dict) -> Any:
        """The validated space declared by ``data`` (a TOML table)."""

    @abstractmethod
    def compile(self, space: Any) -> SpaceLayout:
        """The compiled layout of ``space``."""

    def default(self, input_shape: tuple[int, int, int], num_classes: int) -> Any:
        """The default space for an input; kinds without one raise :class:`SpaceError`."""
        raise SpaceError(f"space kind {self.name!r} has no default space; declare it ([space] file or genes)")

    def default_for(self, task: Any) -> Any:
        """The default space for a loaded task (its ``input_shape`` and ``num_classes``)."""
        return self.default(tuple(task.input_shape), task.num_classes)
