"""Tokenising the prompt/answer boundary, shared by training and evaluation.

Fine-tuning must teach exactly the tokens that evaluation scores, so both stages split a
(prompt, answer) pair the way lm-evaluation-harness 0.4.13 does (``TemplateLM._encode_pair`` with
``HFLM.tok_encode`` at its default ``add_bos_token=None``), with these functions.
"""

from __future__ import annotations

from typing import Any


def special_prefix(tokenizer: Any) -> list[int]:
    """Tokens the tokenizer puts before any text (a BOS for Llama/Gemma tokenizers; often none)."""
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    n = len(with_special) - len(plain)
    return list(with_special[:n]) if n > 0 and with_special[n:] == plain else []


def prefix_token_id(tokenizer: Any) -> int | None:
    """lm-eval's ``prefix_token_id``: the BOS id, else the EOS id."""
    bos = getattr(tokenizer, "bos_token_id", None)
    return bos if bos is not None else getattr(tokenizer, "eos_token_id", None)


def encode_text(tokenizer: Any, text: str) -> list[int]:
    """Ids of ``text`` as lm-eval's ``HFLM.tok_encode``: with the tokenizer's own special tokens.

    A BOS is therefore added only where the tokenizer adds one by default, and never when the text
    already starts with the text of :func:`prefix_token_id` (a chat template that writes its own BOS).
    """
    prefix = prefix_token_id(tokenizer)
    has_prefix = prefix is not None and text.startswith(tokenizer.decode(prefix))
    return list(tokenizer.encode(text, add_special_tokens=not has_prefix))


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation ids split like lm-eval's ``_encode_pair``.

    The context's trailing whitespace (spaces, newlines, tabs) moves to the front of the
    continuation; then the whole string and the context are encoded (:func:`encode_text`) and the
    continuation is the whole's tail after ``len(context ids)``. The context ids are returned as
    encoded alone, as lm-eval feeds them. An empty context is lm-eval's empty-context case: the
    :func:`prefix_token_id` is the context, unless the continuation already starts with it.
    """
    if not context:
        cont = list(tokenizer.encode(continuation, add_special_tokens=False))
        prefix = prefix_token_id(tokenizer)
        if prefix is None or (cont and cont[0] == prefix):
            return cont[:1], cont[1:]
        return [prefix], cont
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = encode_text(tokenizer, context + continuation)
    ctx = encode_text(tokenizer, context)
    return ctx, whole[len(ctx) :]
