"""Turning examples into training sequences: prompt tokens masked, target tokens learned.

The prompt/target boundary is tokenised the way lm-evaluation-harness does it (encode the whole
string and the prompt; the target is the tail), so fine-tuning teaches exactly the tokens that
evaluation scores.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from damoc.config import TrainingConfig
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt, target_text
from damoc.tasks.tokens import encode_pair
from damoc.training.base import IGNORE_INDEX, Feature

if TYPE_CHECKING:
    import torch


def encode_example(
    tokenizer: Any, ex: Example, max_seq_len: int, prefix: list[int], spec: PromptSpec | None = None
) -> Feature:
    """``prefix + prompt + target + eos`` with the prompt masked, at most ``max_seq_len`` tokens.

    ``prompt`` and ``target`` are evaluation's context and continuation ids (lm-eval's split, the
    tokenizer's own BOS included); a prompt that already starts with ``prefix`` does not get it twice.
    Too long: the prompt loses tokens from its left (the prefix stays); the target is only cut
    when it alone does not fit. ``spec`` holds the prompt settings (None: default plain template).
    """
    prompt, target = encode_pair(tokenizer, render_prompt(ex, spec, tokenizer), target_text(ex, spec, tokenizer))
    if prefix and prompt[: len(prefix)] == prefix:
        prompt = prompt[len(prefix) :]
    if tokenizer.eos_token_id is not None:
        target = [*target, tokenizer.eos_token_id]
    target = target[:max_seq_len]
    head = prefix[: max(0, max_seq_len - len(target))]
    room = max_seq_len - len(target) - len(head)
    prompt = prompt[max(0, len(prompt) - room) :] if room > 0 else []
    context = head + prompt
    return Feature(input_ids=context + target, labels=[IGNORE_INDEX] * len(context) + target)


def collate(features: list[Feature], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a micro-batch to its longest sequence: input_ids, attention_mask, labels."""
    import torch

    width = max(len(f.input_ids) for f in features)
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    for i, f in enumerate(features):
        n = len(f.input_ids)
        ids[i, :n] = torch.tensor(f.input_ids)
        labels[i, :n] = torch.tensor(f.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def plan_steps(num_examples: int, cfg: TrainingConfig, generator: torch.Generator) -> list[list[list[int]]]:
    """Example indices for every optimizer step, split into gradient-accumulation micro-batches.

    ``max_steps`` full steps cycle over reshuffled epochs; otherwise ``num_epochs`` passes (the last
    step may be smaller). Shuffling draws only from ``generator``, so a seed fixes the order.
    """
    import torch

    per_step = cfg.batch_size * cfg.gradient_accumulation_steps
    epoch_total = max(1, math.ceil(cfg.num_epochs * num_examples))
    total = cfg.max_steps * per_step if cfg.max_steps is not None else epoch_total
    stream: list[int] = []
    while len(stream) < total:
        stream.extend(torch.randperm(num_examples, generator=generator).tolist())
    stream = stream[:total]
    steps = [stream[i : i + per_step] for i in range(0, total, per_step)]
    return [[s[j : j + cfg.batch_size] for j in range(0, len(s), cfg.batch_size)] for s in steps]
