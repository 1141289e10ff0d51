"""``acc``: multiple-choice accuracy by the highest log-likelihood."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, argmax, mean
from damoc.registry import Method


@METRICS.register("acc")
class Accuracy(Method):
    """Share of examples whose highest-loglikelihood choice is the answer (lm-evaluation-harness ``acc``, Gao et al. 2024).

    Definition: ``acc`` of lm-evaluation-harness ``multiple_choice`` tasks (Gao et al., 2024,
    "The Language Model Evaluation Harness"): argmax over the summed token log-probabilities of each
    choice's continuation; ties go to the first choice, as ``numpy.argmax``.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean of ``argmax(logliks) == answer``."""
        return mean([float(argmax(r["logliks"]) == r["answer"]) for r in rows])
