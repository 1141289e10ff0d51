"""Tokenising the prompt/answer boundary, shared by training and evaluation.

Fine-tuning must teach exactly the tokens that evaluation scores, so both stages split a
(prompt, answer) pair the way lm-evaluation-harness does, with these functions.
"""

from __future__ import annotations

from typing import Any


def special_prefix(tokenizer: Any) -> list[int]:
    """Tokens the tokenizer puts before any text (a BOS for Llama/Gemma tokenizers; often none)."""
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    n = len(with_special) - len(plain)
    return list(with_special[:n]) if n > 0 and with_special[n:] == plain else []


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation ids split like lm-eval: encode the whole and the context, take the tail.

    Trailing spaces of the context move to the continuation first, as lm-eval does.
    """
    n_spaces = len(context) - len(context.rstrip(" "))
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"]
    return list(whole[: len(ctx)]), list(whole[len(ctx) :])
