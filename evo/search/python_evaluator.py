"""The ``python`` evaluator kind: ``[evaluator] entry = "package.module:callable"`` (with ``metrics``
listing what it returns) scored by :class:`~nasco.evo.search.evaluators.PythonEvaluator`, the
contract's adapter for plain functions (which :func:`nasco.evo.search.api.run_campaign` also uses for
a function given directly)."""

from __future__ import annotations

from typing import Any

from nasco.evo.errors import NascoError
from nasco.evo.search.evaluators import PythonEvaluator


def python_evaluator(config: Any, layout: Any, task: Any) -> PythonEvaluator:
    e = config.evaluator
    if not e.entry:
        raise NascoError("evaluator.kind = 'python' needs evaluator.entry = 'package.module:callable' "
                         "(or pass evaluator= to run_campaign)")
    return PythonEvaluator(e.entry, tuple(e.metrics) or ("error",))
