"""The evaluator hooks the campaign loop calls instead of knowing concrete evaluators:
``reference_weights`` (search.preprocess) and ``surrogate_feature`` (supernet.surrogate_feature; its
campaign test is in test_supernet.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from campaign_helpers import tiny_config

from nasco.evo import NascoError, run_campaign
from nasco.evo.search.evaluators import Evaluator
from nasco.evo.search.run_folder import BOUNDS_FILE


def test_preprocess_narrows_the_bounds_with_the_train_evaluators_reference_network(tmp_path):
    torch.set_num_threads(1)
    folder = tmp_path / "pre"
    config = tiny_config(folder, search={"preprocess": True, "preprocess_threshold": 0.05, "generations": 1},
                         training={"final_epochs": 0})
    result = run_campaign(config)
    saved = json.loads((folder / BOUNDS_FILE).read_text())
    assert "pre-processing: reference network error" in (folder / "log.txt").read_text()
    low, high = np.array(saved["low"]), np.array(saved["high"])
    assert np.all(low <= high) and saved["removed"]  # a 5 % threshold removes some low-bit choices
    genomes = result.records.genome_matrix()
    assert np.all((genomes >= low) | (genomes == 0)) and np.all(genomes <= np.maximum(high, 0))


def test_an_evaluator_without_a_reference_network_refuses_preprocess(tmp_path):
    config = tiny_config(tmp_path / "fn", search={"preprocess": True}, training={"final_epochs": 0})
    with pytest.raises(NascoError, match=r"search\.preprocess: evaluator PythonEvaluator trains no reference network"):
        run_campaign(config, evaluator=lambda c: {"error": 0.5})


def test_the_hooks_default_to_nothing():
    class Plain(Evaluator):
        def evaluate(self, genomes, fidelity, seeds, *, test=False):
            return []

    assert Plain().reference_weights(np.zeros(3, np.int64), 1, 0) is None
    assert Plain().surrogate_feature(None, None, None, None) is None
