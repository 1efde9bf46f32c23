"""A campaign's task as plain data: load it anywhere (driver or worker) and name it in the archive."""

from __future__ import annotations

import dataclasses

from nasco.evo.search.config import TaskSection
from nasco.evo.train.datasets import Task, TensorSplit, load_task


def task_spec(section: TaskSection, seed: int) -> dict:
    """The JSON-ready description of a task (what the archive registers, what workers load)."""
    spec = {**dataclasses.asdict(section), "split_seed": seed}
    for option, default in (("skip_bad_files", False), ("max_length", 0), ("tokenizer", "")):
        if spec[option] == default:
            spec.pop(option)  # descriptions (task ids) from before the option stay the same
    if section.train_subset:
        spec["subset"] = "stratified"  # archives before it trained on the first N: another description
        spec["val"] = "follows_subset"  # … and validated on the whole validation split
    return spec


def load_task_spec(spec: dict) -> Task:
    """Load the task a :func:`task_spec` describes (optionally a subset of the training split:
    class-stratified, or the first N for descriptions archived before stratification; the
    validation split shrunk with it, or whole for descriptions archived before that).

    Raises:
        DatasetError: missing or malformed data, or an option that does not apply to the dataset.
    """
    subset = spec["train_subset"]
    stratified = spec.get("subset") == "stratified"
    task = load_task(spec["dataset"], root=spec["root"] or None, download=spec["download"],
                     val_fraction=spec["val_fraction"], seed=spec["split_seed"],
                     image_size=spec["image_size"] or None, train_subset=subset if stratified else 0,
                     skip_bad_files=spec.get("skip_bad_files", False), max_length=spec.get("max_length") or None,
                     tokenizer=spec.get("tokenizer") or None,
                     val_follows_subset=spec.get("val") == "follows_subset")
    if subset and not stratified and subset < len(task.train) and spec["dataset"] != "imagefolder":  # as it trained
        task.train = TensorSplit(task.train.x[:subset], task.train.y[:subset])
        task.name = f"{task.name}:train{subset}"
    return task
