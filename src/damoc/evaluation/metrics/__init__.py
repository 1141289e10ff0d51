"""Evaluation metrics, one per module; importing this package registers them (no torch here)."""

from damoc.evaluation.metrics import acc, acc_norm, choice_logprob, choice_prob, exact_match, f1
from damoc.evaluation.metrics.base import Metric, build_metrics

__all__ = ["Metric", "acc", "acc_norm", "build_metrics", "choice_logprob", "choice_prob", "exact_match", "f1"]
