"""The factory of the built-in ``train`` evaluator (the registry names it by import path) and its
campaign hooks: the supernet's inherited error as a surrogate feature."""

from __future__ import annotations

from typing import Any

from nasco.evo.search.evaluators import evaluator_kind
from nasco.evo.search.supernet_feature import InheritedErrors
from nasco.evo.search.train_evaluator import TrainEvaluator, train_worker_spec


class CampaignTrainEvaluator(TrainEvaluator):
    """nasco's trainer as a campaign's evaluator (``evaluator.kind = "train"``)."""

    def surrogate_feature(self, config: Any, plan: Any, folder: Any, monitor: Any) -> InheritedErrors:
        """The error each genome inherits from the campaign's supernet (trained or resumed when needed)."""
        return InheritedErrors.create(config, plan, folder, monitor)


@evaluator_kind(needs_task=True, needs_network=True, surrogate_feature=True)
def train_evaluator(config: Any, layout: Any, task: Any) -> CampaignTrainEvaluator:
    """nasco's trainer with the campaign's recipe; the task id is the data's, its description the recipe."""
    spec, description = train_worker_spec(config, layout)
    if config.training.teacher:
        check_teacher(config.training.teacher, task)
    return CampaignTrainEvaluator(spec, task.name, description)


def check_teacher(folder: str, task: Any) -> None:
    """Load the teacher once before the first candidate: a teacher that cannot be loaded, or that sees
    other inputs or predicts other classes than the task, would fail every candidate.

    Raises:
        NascoError: naming the folder and what is wrong.
    """
    from nasco.evo.errors import NascoError
    from nasco.evo.train.candidate_io import load_candidate

    try:
        layout, _, _ = load_candidate(folder)
    except NascoError as err:
        raise NascoError(f"training.teacher: {err}") from None
    space = layout.space
    mine = (list(getattr(space, "input_shape", ())), int(space.num_classes))
    wanted = (list(getattr(task, "input_shape", ())) if hasattr(space, "input_shape") else [], int(task.num_classes))
    if mine != wanted:
        raise NascoError(f"training.teacher: {folder} is a network of inputs {mine[0]} and {mine[1]} classes; the "
                         f"task has inputs {wanted[0]} and {wanted[1]} classes")
