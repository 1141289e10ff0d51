"""Test loss: the mean negative log-likelihood per gold target token over an eval set.

AtS (Lin et al., ICML 2024) ranks by the test loss, not a task metric. Each example is tokenised as
training tokenises it (:func:`damoc.training.features.encode_example`: the prompt masked, the gold
answer and an eos learned) and scored with the training loss (:func:`damoc.training.loop.target_loss`),
so the loss measured here is the one fine-tuning lowers.
"""

from __future__ import annotations

from typing import Any

from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec


def answer_loss(
    model: Any, tokenizer: Any, examples: list[Example], max_seq_len: int, batch_size: int,
    prompt: PromptSpec | None = None,
) -> tuple[float, int]:  # fmt: skip
    """Mean NLL (nats) per gold target token over ``examples``, and the number of those tokens.

    Args:
        model: a causal LM (or a PEFT wrapper) in eval mode.
        tokenizer: its tokenizer, with a pad token.
        examples: the eval examples; the gold answer is ``target_text`` (the right choice, or the qa answer).
        max_seq_len: longest sequence; prompts lose tokens from the left first.
        batch_size: sequences per forward pass.
        prompt: the run's prompt settings (None: the default plain template).

    Returns:
        (mean loss, target tokens); the mean weights every token alike, as the training loss does.
    """
    import torch

    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import collate, encode_example
    from damoc.training.loop import target_loss

    prefix = special_prefix(tokenizer)
    features = [encode_example(tokenizer, ex, max_seq_len, prefix, prompt) for ex in examples]
    device = next(model.parameters()).device
    total, tokens = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            chunk = features[start : start + batch_size]
            batch = collate(chunk, tokenizer.pad_token_id)
            total += float(target_loss(model, {k: v.to(device) for k, v in batch.items()}))
            tokens += sum(f.num_targets for f in chunk)
    return total / max(tokens, 1), tokens
