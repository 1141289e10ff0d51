"""The metric contract and the text normalisation shared by the QA metrics.

Metrics are pure functions of the per-example prediction rows that :func:`damoc.evaluation.evaluate`
writes to ``predictions.jsonl``; they never import torch, so config validation and
``damoc.selection`` can load them cheaply.

Row shapes:
- multiple_choice: ``{"id", "answer": int, "logliks": [float, ...], "choice_lengths": [int, ...]}``
  (``choice_lengths``: characters of each raw choice, without the target delimiter, as lm-eval)
- qa: ``{"id", "answer": str, "prediction": str}``
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, ClassVar, Protocol

from damoc.errors import ConfigError
from damoc.registry import MethodParams, Registry

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


class Metric(Protocol):
    """A metric: which task types it fits and how it turns prediction rows into one number."""

    name: ClassVar[str]
    task_types: ClassVar[tuple[str, ...]]
    Params: ClassVar[type[MethodParams]]

    def compute(self, rows: list[dict[str, Any]]) -> float:
        """The metric over all rows, in [0, 1] except ``choice_logprob`` (at most 0); 0.0 for no rows."""
        ...


METRICS: Registry[Metric] = Registry("metric", "damoc.evaluation.metrics")


def build_metrics(names: list[str], task_type: str) -> list[Metric]:
    """Instantiate the named metrics, checking each fits ``task_type``.

    Raises:
        ConfigError: for an unknown metric or one that does not fit the task type.
    """
    out: list[Metric] = []
    for name in names:
        metric = METRICS.build(name, {}, where=f"evaluation.metrics.{name}")
        if task_type not in metric.task_types:
            fitting = [n for n in METRICS.names() if task_type in METRICS.get(n).task_types]
            raise ConfigError(
                f"evaluation.metrics: {name!r} does not apply to {task_type} tasks "
                f"(it fits {', '.join(metric.task_types)}); available for {task_type}: {', '.join(fitting)}"
            )
        out.append(metric)
    return out


def argmax(values: list[float]) -> int:
    """Index of the largest value; the first one on ties (as ``numpy.argmax``)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))


def mean(values: list[float]) -> float:
    """Arithmetic mean; 0.0 for an empty list."""
    return sum(values) / len(values) if values else 0.0


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles (a/an/the), collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction: str, answer: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(answer))


def f1_score(prediction: str, answer: str) -> float:
    """Token-overlap F1 of the normalised strings (SQuAD v2: two empty answers score 1)."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)
