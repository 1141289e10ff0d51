"""The ground-truth recipe: the training config, the epoch plan and the learning-curve steps.

The plan is drawn from one seeded ``torch.Generator``, one permutation per epoch (as
:func:`damoc.training.features.plan_steps` draws them), so a seed fixes every batch of every epoch
and a resumed run rebuilds exactly the batches it has not run yet. Epochs end on step boundaries
(an epoch's last step may be smaller), so "every epoch end" is a well-defined step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from damoc.config import GroundTruthConfig, RunConfig, TrainingConfig
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec

MAX_AUTO_SEQ_LEN = 1024
"""Cap on the automatic ``max_seq_len`` (the 99th percentile of the training lengths)."""
AUTO_SEQ_LEN_QUANTILE = 0.99


PROXY_ONLY_METRICS = ("choice_prob", "choice_logprob")
"""Smooth scores a proxy may be ranked by; the ground truth is judged by ``acc`` unless told otherwise."""


def truth_metric(cfg: RunConfig) -> str:
    """The metric the ground truth is judged by: ``ground_truth.metric``, else ``selection.rank_by``, or
    ``acc`` when that is a proxy-only score."""
    if cfg.ground_truth.metric is not None:
        return cfg.ground_truth.metric
    rank_by = cfg.selection.rank_by
    return "acc" if rank_by in PROXY_ONLY_METRICS else rank_by


def training_config(gt: GroundTruthConfig, max_seq_len: int) -> TrainingConfig:
    """The stage-3 :class:`TrainingConfig` of the ground-truth recipe (epochs, no step cap)."""
    shared = gt.model_dump(
        include={
            "method", "learning_rate", "batch_size", "gradient_accumulation_steps", "warmup_ratio",
            "weight_decay", "lora_r", "lora_alpha", "lora_dropout", "target_modules",
        }
    )  # fmt: skip
    return TrainingConfig(max_steps=None, num_epochs=gt.epochs, max_seq_len=max_seq_len, **shared)


@dataclass(frozen=True)
class EpochPlan:
    """Example indices of every optimizer step (split into micro-batches) and where epochs end.

    Attributes:
        steps: per optimizer step, its micro-batches of example indices.
        steps_per_epoch: optimizer steps in one whole epoch.
        epoch_ends: the step count at the end of each epoch (the last may end a partial epoch).
    """

    steps: list[list[list[int]]]
    steps_per_epoch: int
    epoch_ends: list[int]

    @property
    def total(self) -> int:
        """Number of optimizer steps."""
        return len(self.steps)


def plan_epochs(num_examples: int, cfg: TrainingConfig, seed: int) -> EpochPlan:
    """The whole multi-epoch plan, a pure function of its arguments.

    Each epoch is a fresh permutation from one generator seeded with ``seed``; a fractional last
    epoch takes the first ``ceil(fraction * num_examples)`` examples of its permutation.
    """
    import torch

    if num_examples < 1:
        raise ValueError("the plan needs at least one training example")
    generator = torch.Generator().manual_seed(seed)
    per_step = cfg.batch_size * cfg.gradient_accumulation_steps
    whole, fraction = int(cfg.num_epochs), cfg.num_epochs - int(cfg.num_epochs)
    rounds = whole + (1 if fraction > 1e-9 else 0)
    steps: list[list[list[int]]] = []
    ends: list[int] = []
    for epoch in range(rounds):
        order = torch.randperm(num_examples, generator=generator).tolist()
        if epoch == whole:
            order = order[: max(1, math.ceil(fraction * num_examples))]
        for i in range(0, len(order), per_step):
            chunk = order[i : i + per_step]
            steps.append([chunk[j : j + cfg.batch_size] for j in range(0, len(chunk), cfg.batch_size)])
        ends.append(len(steps))
    return EpochPlan(steps=steps, steps_per_epoch=math.ceil(num_examples / per_step), epoch_ends=ends)


def curve_steps(plan: EpochPlan, fractions: list[float], epochs: float) -> dict[int, float]:
    """Step -> epoch (as a number of epochs) of every learning-curve point.

    A fraction ``f`` lands on step ``round(f * steps_per_epoch)`` (at least 1); points past the end
    are dropped. Every epoch end is a point, the last one labelled with ``epochs`` itself.
    """
    points: dict[int, float] = {}
    for f in fractions:
        step = max(1, round(f * plan.steps_per_epoch))
        if step <= plan.total:
            points[step] = f
    for i, end in enumerate(plan.epoch_ends):
        points[end] = float(min(i + 1, epochs))
    return dict(sorted(points.items()))


def quantile_length(lengths: list[int], q: float = AUTO_SEQ_LEN_QUANTILE) -> int:
    """The nearest-rank ``q`` quantile of ``lengths`` (the smallest value with at least ``q`` of them at or below)."""
    if not lengths:
        raise ValueError("no lengths")
    ordered = sorted(lengths)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def auto_max_seq_len(
    tokenizer: Any, examples: list[Example], prompt: PromptSpec | None, cap: int = MAX_AUTO_SEQ_LEN
) -> int:
    """The 99th percentile of the examples' full training length (prefix + prompt + answer + eos), capped."""
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import encode_example

    prefix = special_prefix(tokenizer)
    lengths = [len(encode_example(tokenizer, ex, 1 << 30, prefix, prompt).input_ids) for ex in examples]
    return min(cap, quantile_length(lengths))
