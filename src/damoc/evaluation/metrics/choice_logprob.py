"""``choice_logprob``: the log-probability the model gives the right choice among the choices."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from damoc.evaluation.metrics.base import METRICS, mean
from damoc.registry import Method


@METRICS.register("choice_logprob")
class ChoiceLogProbability(Method):
    """Mean log-probability of the right choice among the choices: the log score (Good 1952), a proper scoring rule.

    Definition: per example ``log p_a = l_a - log sum_i exp(l_i)``, where ``l_i`` is choice ``i``'s summed
    token log-likelihood (as ``acc`` uses) and ``a`` the right choice; the mean over examples is minus the
    cross-entropy of the model's distribution over the choices (the softmax lm-evaluation-harness feeds
    its ``brier_score``, Gao et al. 2024). It is at most 0; uniform guessing scores ``log(1 / k)``
    (-1.386 for four choices). Unlike ``acc`` and ``choice_prob`` it punishes a confident wrong answer
    without bound, so a proxy that is sure and wrong ranks below one that hesitates: on the fidelity
    cells it is the score under which the full model tuned on a random subset ranks best
    (``benchmarks/rank_metrics.py``). Not bounded to [0, 1], unlike the other metrics.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """Mean of ``log softmax(logliks)[answer]``."""
        return mean([right_choice_logprob(r["logliks"], r["answer"]) for r in rows])


def right_choice_logprob(logliks: list[float], answer: int) -> float:
    """``l_a - logsumexp(l)``, computed stably."""
    top = max(logliks)
    return logliks[answer] - top - math.log(sum(math.exp(x - top) for x in logliks))
