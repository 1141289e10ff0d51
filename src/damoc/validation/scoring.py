"""Evaluating the model being fine-tuned, in place, with damoc's own scorers and metrics.

The PEFT wrapper stays on (the LoRA layers sit inside the base model, so the decoder and head of
:func:`damoc.evaluation.heads.causal_lm` include them); the model goes to eval mode for the
evaluation and back to train mode after, with the torch RNG state restored, so a learning-curve
point changes nothing in the training that follows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from damoc.config import EvaluationConfig, TaskType
from damoc.progress import ProgressFn
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec


@dataclass(frozen=True)
class Scoring:
    """How the ground truth is scored: the same task type, metrics, lengths and prompt as the proxy's."""

    task_type: TaskType
    metrics: list[str]
    evaluation: EvaluationConfig
    prompt: PromptSpec | None = None


@dataclass(frozen=True)
class Scored:
    """One evaluation: metric values, per-example prediction rows and wall seconds."""

    metrics: dict[str, float]
    rows: list[dict[str, Any]]
    seconds: float


def evaluate_in_place(
    model: Any, tokenizer: Any, examples: list[Example], scoring: Scoring, progress: ProgressFn | None = None
) -> Scored:
    """Score ``examples`` with ``model`` as it is now (eval mode for the call, train mode after)."""
    import torch

    from damoc.evaluation.metrics import build_metrics
    from damoc.evaluation.stage import predict

    start = time.perf_counter()
    rng = torch.get_rng_state()
    model.eval()
    try:
        rows = predict(examples, scoring.task_type, model, tokenizer, scoring.evaluation, progress, scoring.prompt)
    finally:
        model.train()
        torch.set_rng_state(rng)
    values = {m.name: float(m.compute(rows)) for m in build_metrics(scoring.metrics, scoring.task_type)}
    return Scored(metrics=values, rows=rows, seconds=round(time.perf_counter() - start, 3))
