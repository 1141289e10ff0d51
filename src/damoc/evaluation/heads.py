"""Token-level helpers for scoring: lm-eval's context/continuation split and a cheap output head.

The prompt/answer split itself lives in ``damoc.tasks.tokens``, shared with training.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


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
