"""Token-level helpers for scoring: lm-eval's context/continuation split and a cheap output head.

Stages do not import each other, so these few lines mirror ``damoc.training.features`` and
``damoc.training.loop``; both must tokenise the prompt/answer boundary the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


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


def causal_lm(model: Any) -> Any:
    """The transformers causal LM inside a PEFT wrapper (or ``model`` itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def hidden_states(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Last-layer hidden states (after the final norm), without running the output head."""
    decoder = causal_lm(model).get_decoder()
    return decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def head_logits(model: Any, hidden: torch.Tensor) -> torch.Tensor:
    """Vocabulary logits (float32) for selected hidden states, with the model's logit soft-capping."""
    import torch

    lm = causal_lm(model)
    logits = lm.get_output_embeddings()(hidden).float()
    cap = getattr(lm.config, "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits
