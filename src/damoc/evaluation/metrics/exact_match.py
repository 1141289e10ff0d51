"""``exact_match``: QA answers equal after SQuAD normalisation."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, exact_match_score, mean
from damoc.registry import Method


@METRICS.register("exact_match")
class ExactMatch(Method):
    """Share of generated answers equal to the reference after SQuAD normalisation (Rajpurkar et al. 2016).

    Definition: the SQuAD v1.1 evaluation script (Rajpurkar et al., 2016, "SQuAD: 100,000+ Questions
    for Machine Comprehension of Text"): lowercase, remove punctuation and the articles a/an/the,
    collapse whitespace, then compare; one reference answer per example.
    """

    task_types: ClassVar[tuple[str, ...]] = ("qa",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean exact match of ``prediction`` against ``answer``."""
        return mean([exact_match_score(str(r["prediction"]), str(r["answer"])) for r in rows])
