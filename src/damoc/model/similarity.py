"""Layer similarity from calibration text: the shared measurement behind every layer scorer.

Hidden states are captured with forward hooks on the decoder layers while only the decoder body runs
(no LM head: Gemma's 262k-token vocabulary makes full logits huge), and reduced batch by batch, so
no more than one batch's hidden states is held at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from damoc.model.layers import decoder_body, decoder_layers
from damoc.progress import ProgressFn, tick

log = logging.getLogger(__name__)

Positions = Literal["all", "last", "answer"]
"""Token positions a similarity averages over: every non-pad token, each sequence's last one, or the
answer-bearing ones (whose next token is labelled, :func:`answer_token_weights`)."""


@dataclass(frozen=True)
class LayerSimilarity:
    """Mean similarity between hidden states ``h[l]`` and ``h[l + gap]`` over the chosen token positions.

    ``h[0]`` is the input of the first decoder layer and ``h[l]`` the output of layer ``l - 1`` (for
    ``l = L`` the last layer's output *before* the final norm), so with ``gap=1`` entry ``l``
    compares layer ``l``'s input with its output.
    """

    gap: int
    cosine: list[float]
    angular: list[float]
    positions: int
    tokens: int


def cosine(a: Any, b: Any) -> Any:
    """Cosine similarity along the last dimension, in fp32 and clamped to [-1, 1].

    fp32 because bf16 cosines near 1 are too coarse to rank layers; the clamp keeps arccos finite.
    """
    import torch.nn.functional as F

    return F.cosine_similarity(a.float(), b.float(), dim=-1).clamp(-1.0, 1.0)


def angular_distance(a: Any, b: Any) -> Any:
    """``arccos(cos(a, b)) / pi`` along the last dimension: 0 = same direction, 1 = opposite."""
    import math

    import torch

    return torch.arccos(cosine(a, b)) / math.pi


def last_token_weights(mask: Any) -> Any:
    """1 at each row's last non-pad position, 0 elsewhere (right or left padding alike)."""
    import torch

    index = torch.arange(1, mask.shape[-1] + 1, device=mask.device)
    last = (mask.long() * index).argmax(dim=-1, keepdim=True)
    weights = torch.zeros(mask.shape, device=mask.device).scatter_(-1, last, 1.0)
    return weights * mask.float()


def answer_token_weights(labels: Any) -> Any:
    """1 at each position whose *next* token is labelled (``labels != -100``), 0 elsewhere.

    The shift is the loss's: the hidden state at ``t`` predicts token ``t + 1``, so these are the
    states the answer flows through (the last answer token, which predicts nothing, is excluded).
    """
    import torch

    from damoc.training.base import IGNORE_INDEX

    weights = torch.zeros(labels.shape, device=labels.device)
    weights[:, :-1] = (labels[:, 1:] != IGNORE_INDEX).float()
    return weights


def position_weights(batch: dict[str, Any], positions: Positions) -> Any:
    """``[batch, seq]`` weights of the token positions a similarity averages over."""
    mask = batch["attention_mask"]
    if positions == "last":
        return last_token_weights(mask)
    if positions == "answer":
        if "labels" not in batch:
            raise ValueError("positions='answer' needs batches with labels (damoc.model.tolerance.answer_batches)")
        return answer_token_weights(batch["labels"]) * mask.float()
    return mask.float()


def similarity_sums(states: Sequence[Any], weights: Any, gap: int) -> tuple[Any, Any]:
    """Weighted sums over positions of cosine and angular distance between ``states[i]`` and ``states[i + gap]``.

    Args:
        states: hidden states ``[batch, seq, hidden]``, ``h[0]`` .. ``h[L]``.
        weights: ``[batch, seq]`` position weights (the attention mask, or :func:`last_token_weights`).
        gap: layer distance.

    Returns:
        (cosine sums, angular sums), float64 tensors of ``len(states) - gap`` entries.
    """
    import math

    import torch

    count = len(states) - gap
    cos_sums, ang_sums = torch.zeros(count, dtype=torch.float64), torch.zeros(count, dtype=torch.float64)
    w = weights.float()
    for i in range(count):
        cos = cosine(states[i], states[i + gap])  # one pair at a time: fp32 copies of every state are big
        cos_sums[i] = float((cos * w).sum())
        ang_sums[i] = float((torch.arccos(cos) / math.pi * w).sum())
    return cos_sums, ang_sums


def _hidden_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0] if args else kwargs["hidden_states"]


def _hidden_output(output: Any) -> Any:
    return output[0] if isinstance(output, (tuple, list)) else output


def _register_hooks(layers: Any, states: list[Any]) -> list[Any]:
    def grab_input(_mod: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        states.append(_hidden_input(args, kwargs).detach())

    def grab_output(_mod: Any, _args: Any, output: Any) -> None:
        states.append(_hidden_output(output).detach())

    handles = [layers[0].register_forward_pre_hook(grab_input, with_kwargs=True)]
    handles += [layer.register_forward_hook(grab_output) for layer in layers]
    return handles


def collect_layer_similarity(
    model: Any,
    batches: Iterable[dict[str, Any]],
    gaps: Sequence[int] = (1,),
    positions: Positions = "all",
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> dict[int, LayerSimilarity]:
    """Mean cosine similarity and angular distance between hidden states ``gap`` layers apart.

    Args:
        model: a causal LM of a supported architecture (see ``architectures.json``).
        batches: dicts with ``input_ids`` and ``attention_mask`` tensors on the model's device.
        gaps: layer distances to measure (1 = each layer's input vs its output).
        positions: ``all`` non-pad tokens, only each sequence's ``last`` non-pad token, or the
            ``answer``-bearing tokens (batches then need ``labels``).
        progress: called after each batch.
        total: number of batches, for progress.

    Returns:
        gap -> :class:`LayerSimilarity` with ``num_layers + 1 - gap`` entries.
    """
    import torch

    n = len(decoder_layers(model))
    if any(not 1 <= g <= n for g in gaps):
        raise ValueError(f"gaps must be in 1..{n}, got {list(gaps)}")
    if positions not in ("all", "last", "answer"):
        raise ValueError(f"positions must be 'all', 'last' or 'answer', got {positions!r}")
    sums = {g: (torch.zeros(n + 1 - g, dtype=torch.float64), torch.zeros(n + 1 - g, dtype=torch.float64)) for g in gaps}
    tokens, counted = 0, 0
    with _capture_hidden_states(decoder_layers(model)) as states, torch.inference_mode():
        for i, batch in enumerate(batches):
            states.clear()
            mask = batch["attention_mask"]
            decoder_body(model)(input_ids=batch["input_ids"], attention_mask=mask, use_cache=False)
            weights = position_weights(batch, positions)
            for g in gaps:
                cos, ang = similarity_sums(states, weights, g)
                sums[g][0].add_(cos)
                sums[g][1].add_(ang)
            tokens += int(mask.sum())
            counted += int(weights.sum())
            tick(progress, "scoring layers", i + 1, total or i + 1)
    denom = max(counted, 1)
    return {
        g: LayerSimilarity(g, (c / denom).tolist(), (a / denom).tolist(), counted, tokens) for g, (c, a) in sums.items()
    }


@contextmanager
def _capture_hidden_states(layers: Any) -> Iterator[list[Any]]:
    """A list that each forward pass fills with ``h[0]`` .. ``h[L]`` (the last one before the final norm)."""
    states: list[Any] = []
    handles = _register_hooks(layers, states)
    try:
        yield states
    finally:
        for h in handles:
            h.remove()
        states.clear()
