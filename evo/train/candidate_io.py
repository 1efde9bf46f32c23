"""Save and load a trained candidate: ``genome.json`` (genome, space, hash) + ``model.pt`` (state dict).

The state dict is of the slim network; it is loaded with ``torch.load(weights_only=True)``
(no pickled objects) into a network rebuilt from the genome and space.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from nasco.evo.errors import NascoError
from nasco.evo.space.base import SpaceLayout
from nasco.evo.space.genome import as_genomes, genome_hash
from nasco.evo.space.kinds import compile_any
from nasco.evo.space.toml_io import space_from_dict
from nasco.evo.train.models import build_network

GENOME_FILE = "genome.json"
WEIGHTS_FILE = "model.pt"
FORMAT_VERSION = 1


class CandidateFileError(NascoError, ValueError):
    """A saved candidate folder is missing files or does not match its genome."""


def save_candidate(directory: str | Path, layout: SpaceLayout, genome: np.ndarray, model: torch.nn.Module) -> Path:
    """Write the slim ``model`` of ``genome`` to ``directory`` (created if needed); returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    canonical = as_genomes(layout, genome)[0]
    meta = {
        "format_version": FORMAT_VERSION,
        "genome": canonical.tolist(),
        "genome_hash": genome_hash(layout, canonical),
        "space_id": layout.space.space_id,
        "space": layout.space.to_dict(),
    }
    (directory / GENOME_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, directory / WEIGHTS_FILE)
    return directory


def load_candidate(directory: str | Path, *, device: str | torch.device = "cpu") -> tuple[SpaceLayout, np.ndarray,
                                                                                           torch.nn.Module]:
    """Rebuild the slim network saved by :func:`save_candidate` and load its weights (eval mode)."""
    directory = Path(directory)
    for name in (GENOME_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise CandidateFileError(f"{directory}: missing {name}; a saved candidate has {GENOME_FILE} and "
                                     f"{WEIGHTS_FILE}")
    try:
        meta = json.loads((directory / GENOME_FILE).read_text(encoding="utf-8"))
        version, space, genes, stored_hash = meta.get("format_version"), meta["space"], meta["genome"], \
            meta["genome_hash"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise CandidateFileError(f"{directory / GENOME_FILE}: not a candidate description written by nasco "
                                 f"({type(err).__name__}: {err})") from None
    if version != FORMAT_VERSION:
        raise CandidateFileError(f"{directory / GENOME_FILE}: format_version {version!r} is not allowed; allowed: "
                                 f"{FORMAT_VERSION}")
    layout = compile_any(space_from_dict(space))
    genome = as_genomes(layout, np.array(genes, dtype=np.int64))[0]
    if genome_hash(layout, genome) != stored_hash:
        raise CandidateFileError(f"{directory / GENOME_FILE}: genome_hash {stored_hash} does not match "
                                 f"the genome and space ({genome_hash(layout, genome)})")
    model = build_network(layout, genome, slim=True)
    try:
        state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as err:  # torch reports a non-zip, a pickle it refuses, a truncated file … each its own way
        raise CandidateFileError(f"{directory / WEIGHTS_FILE}: not a PyTorch state dict ({str(err)[:200]})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CandidateFileError(f"{directory / WEIGHTS_FILE}: holds a {type(state).__name__}, not a state dict of "
                                 "tensors")
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CandidateFileError(f"{directory / WEIGHTS_FILE}: the weights do not fit the network of "
                                 f"{GENOME_FILE} ({str(err).splitlines()[0][:200]} …)") from None
    return layout, genome, model.to(device).eval()
