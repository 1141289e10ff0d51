"""``choice_prob``: the probability the model gives the right choice among the choices."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, mean
from damoc.evaluation.metrics.choice_logprob import right_choice_logprob
from damoc.registry import Method


@METRICS.register("choice_prob")
class ChoiceProbability(Method):
    """Mean probability of the right choice: softmax over the choices' log-likelihoods (lm-eval brier_score's input, Gao et al. 2024).

    Definition: per example ``p_a = exp(l_a) / sum_i exp(l_i)``, where ``l_i`` is choice ``i``'s summed
    token log-likelihood (as ``acc`` uses) and ``a`` the right choice: the probability lm-evaluation-harness
    feeds its ``brier_score``, read at the right choice. It is the expected accuracy of answering by
    sampling a choice from the model, so uniform guessing scores ``1 / k`` as ``acc`` does; unlike
    ``acc`` it moves with every example's margin, not only with the ones that flip, which makes it a
    steadier ranking signal on a small eval split (``benchmarks/rank_metrics.py``).
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean of ``softmax(logliks)[answer]``."""
        return mean([_right_choice_probability(r["logliks"], r["answer"]) for r in rows])


def _right_choice_probability(logliks: list[float], answer: int) -> float:
    return math.exp(right_choice_logprob(logliks, answer))
