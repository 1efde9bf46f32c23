"""What a running campaign shows: a rich progress bar per generation and a plain line log.

Each generation ends with one line (on the console and in ``log.txt``): trained (``evaluated`` when the
evaluator does not train: supernet, python, table), reused, screened and failed counts, hypervolume, the
surrogate's cross-validated Kendall τ and its seconds (selection and fit + proposal: screening, or inner search
and picks), the best value of every objective, elapsed time and an ETA from the mean time per candidate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@dataclass
class GenerationStats:
    """Counts and measures of one generation."""

    generation: int
    asked: int = 0
    screened: int = 0
    trained: int = 0
    reused: int = 0
    failed: int = 0
    screening: str = "random"
    tau: float = float("nan")
    selection_s: float = 0.0  # seconds selecting and fitting the surrogate
    proposal_s: float = 0.0  # seconds proposing with it (screening, or inner search and picks)
    hypervolume: float = float("nan")
    best: dict[str, float] = field(default_factory=dict)
    predicted: dict[str, float] = field(default_factory=dict)  # genome hash → surrogate's predicted error


class CampaignMonitor:
    """Console progress and the run folder's ``log.txt``."""

    def __init__(self, console: Console, log_path: Path, total_candidates: int, verb: str = "trained") -> None:
        self.console = console
        self.verb = verb  # what the search does to a candidate: trained, or evaluated
        self.log_path = log_path
        self.total = total_candidates
        self.started = time.monotonic()
        self.done = 0
        self._progress: Progress | None = None
        self._task = None

    def log(self, message: str) -> None:
        """One timestamped line in ``log.txt`` and on the console."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")
        self.console.print(message, highlight=False, markup=False, soft_wrap=True)

    def start_generation(self, generation: int, n_jobs: int) -> None:
        if not n_jobs or not self.console.is_terminal:
            return
        self._progress = Progress(TextColumn("gen {task.fields[gen]}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.description}"), TimeElapsedColumn(), console=self.console,
                                  transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.verb, total=n_jobs, gen=generation)

    def candidate_done(self, description: str, trained: bool) -> None:
        self.done += int(trained)
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=description)

    def end_generation(self, stats: GenerationStats) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        elapsed = time.monotonic() - self.started
        eta = ""
        if self.done and self.total:
            eta = f" eta {max(0.0, elapsed / self.done * (self.total - self.done)):.0f}s"
        best = " ".join(f"{k}={v:.4g}" for k, v in stats.best.items())
        if stats.screening == "front":
            self.log(f"final fidelity: trained {stats.trained} reused {stats.reused} failed {stats.failed} "
                     f"elapsed {elapsed:.0f}s")
            return
        surrogate = f" surrogate {stats.selection_s:.1f}+{stats.proposal_s:.1f}s" if stats.selection_s else ""
        self.log(f"gen {stats.generation}: {self.verb} {stats.trained} reused {stats.reused} failed {stats.failed} "
                 f"screened {stats.screened}/{stats.asked} ({stats.screening}) HV {stats.hypervolume:.4f} "
                 f"tau {stats.tau:.3f}{surrogate} best {best} elapsed {elapsed:.0f}s{eta}")
