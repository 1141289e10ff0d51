"""``acc_norm``: multiple-choice accuracy with log-likelihoods normalised by continuation length."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, argmax, mean
from damoc.registry import Method


@METRICS.register("acc_norm")
class NormalizedAccuracy(Method):
    """Accuracy after dividing each choice's loglikelihood by its length in characters (lm-eval ``acc_norm``, Gao et al. 2024).

    Definition: ``acc_norm`` of lm-evaluation-harness 0.4.13 ``multiple_choice`` tasks (Gao et al.,
    2024): argmax of ``loglik / len(choice)``, the length counted in characters of the raw choice text
    (the target delimiter, a leading space, is not counted), which removes the bias towards short
    answers; ties go to the first choice, as ``numpy.argmax``.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean of ``argmax(logliks / choice_lengths) == answer``."""
        hits = []
        for r in rows:
            normed = [ll / max(n, 1) for ll, n in zip(r["logliks"], r["choice_lengths"], strict=True)]
            hits.append(float(argmax(normed) == r["answer"]))
        return mean(hits)
