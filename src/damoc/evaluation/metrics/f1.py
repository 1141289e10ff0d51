"""``f1``: token-overlap F1 of QA answers after SQuAD normalisation."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, f1_score, mean
from damoc.registry import Method


@METRICS.register("f1")
class TokenF1(Method):
    """Mean token-level F1 between the generated and the reference answer (SQuAD F1, Rajpurkar et al. 2016).

    Definition: the SQuAD evaluation script (Rajpurkar et al., 2016; v2.0 for empty answers, which
    score 1 only when both are empty): bag-of-tokens precision and recall of the normalised strings.
    """

    task_types: ClassVar[tuple[str, ...]] = ("qa",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean F1 of ``prediction`` against ``answer``."""
        return mean([f1_score(str(r["prediction"]), str(r["answer"])) for r in rows])
