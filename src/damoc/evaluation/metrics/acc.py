"""``acc``: multiple-choice accuracy by the highest log-likelihood."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import argmax, mean
from damoc.registry import NoParams, registry


@registry("metric").register("acc")
class Accuracy:
    """Share of examples whose highest-loglikelihood choice is the answer (lm-evaluation-harness ``acc``).

    Definition: ``acc`` of lm-evaluation-harness ``multiple_choice`` tasks (Gao et al., 2024,
    "The Language Model Evaluation Harness"): argmax over the summed token log-probabilities of each
    choice's continuation; ties go to the first choice, as ``numpy.argmax``.
    """

    name: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    Params = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean of ``argmax(logliks) == answer``."""
        return mean([float(argmax(r["logliks"]) == r["answer"]) for r in rows])
