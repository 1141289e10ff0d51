"""``f1``: token-overlap F1 of QA answers after SQuAD normalisation."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import f1_score, mean
from damoc.registry import NoParams, registry


@registry("metric").register("f1")
class TokenF1:
    """Mean token-level F1 between the generated and the reference answer (SQuAD F1).

    Definition: the SQuAD evaluation script (Rajpurkar et al., 2016; v2.0 for empty answers, which
    score 1 only when both are empty): bag-of-tokens precision and recall of the normalised strings.
    """

    name: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]] = ("qa",)

    Params = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean F1 of ``prediction`` against ``answer``."""
        return mean([f1_score(str(r["prediction"]), str(r["answer"])) for r in rows])
