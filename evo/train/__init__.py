"""Training candidates: torch models from layer tables, QAT, pruning, the trainer, datasets, candidate files."""

from nasco.evo.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "build_model": "builder", "CandidateNet": "builder", "CandidateFileError": "candidate_io",
    "load_candidate": "candidate_io", "save_candidate": "candidate_io", "DatasetError": "datasets", "Task": "datasets",
    "load_task": "datasets", "TrainConfig": "trainer", "TrainConfigError": "trainer", "TrainResult": "trainer",
    "evaluate": "trainer", "train_candidate": "trainer",
    "build_network": "models", "network_kind": "models", "NetworkKind": "models",
    "PackedFileError": "packed", "read_packed": "packed", "save_packed": "packed",
    "qdq_model": "qdq", "float_model": "qdq",
})
