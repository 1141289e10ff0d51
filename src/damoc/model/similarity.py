"""Layer similarity from calibration text: the shared measurement behind every layer scorer.

Hidden states are captured with forward hooks on the decoder layers while only the decoder body runs
(no LM head: Gemma's 262k-token vocabulary makes full logits huge), and reduced batch by batch, so
no more than one batch's hidden states is held at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from damoc.model.layers import decoder_body, decoder_layers
from damoc.progress import ProgressFn, tick

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerSimilarity:
    """Mean similarity between hidden states ``h[l]`` and ``h[l + gap]`` over non-pad tokens.

    ``h[0]`` is the input of the first decoder layer and ``h[l]`` the output of layer ``l - 1``, so
    with ``gap=1`` entry ``l`` compares layer ``l``'s input with its output.
    """

    gap: int
    cosine: list[float]
    angular: list[float]
    tokens: int


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


def _accumulate(states: list[Any], mask: Any, gap: int, sums: dict[str, Any]) -> None:
    import math

    import torch
    import torch.nn.functional as F

    weights = mask.float()
    for i in range(len(states) - gap):
        # one pair at a time in fp32: bf16 cosines near 1 are too coarse to rank layers
        cos = F.cosine_similarity(states[i].float(), states[i + gap].float(), dim=-1).clamp(-1.0, 1.0)
        sums["cosine"][i] += float((cos * weights).sum())
        sums["angular"][i] += float((torch.arccos(cos) / math.pi * weights).sum())


def collect_layer_similarity(
    model: Any,
    batches: Iterable[dict[str, Any]],
    gaps: Sequence[int] = (1,),
    progress: ProgressFn | None = None,
    total: int | None = None,
) -> dict[int, LayerSimilarity]:
    """Mean cosine similarity and angular distance between hidden states ``gap`` layers apart.

    Args:
        model: a causal LM of a supported architecture (see ``architectures.json``).
        batches: dicts with ``input_ids`` and ``attention_mask`` tensors on the model's device.
        gaps: layer distances to measure (1 = each layer's input vs its output).
        progress: called after each batch.
        total: number of batches, for progress.

    Returns:
        gap -> :class:`LayerSimilarity` with ``num_layers + 1 - gap`` entries.
    """
    import torch

    layers = decoder_layers(model)
    n = len(layers)
    if any(not 1 <= g <= n for g in gaps):
        raise ValueError(f"gaps must be in 1..{n}, got {list(gaps)}")
    sums = {g: {"cosine": torch.zeros(n + 1 - g, dtype=torch.float64)} for g in gaps}
    for g in gaps:
        sums[g]["angular"] = torch.zeros(n + 1 - g, dtype=torch.float64)
    tokens, states = 0, list[Any]()
    handles = _register_hooks(layers, states)
    try:
        with torch.inference_mode():
            for i, batch in enumerate(batches):
                states.clear()
                decoder_body(model)(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
                )
                for g in gaps:
                    _accumulate(states, batch["attention_mask"], g, sums[g])
                tokens += int(batch["attention_mask"].sum())
                tick(progress, "scoring layers", i + 1, total or i + 1)
    finally:
        for h in handles:
            h.remove()
        states.clear()
    denom = max(tokens, 1)
    return {
        g: LayerSimilarity(g, (s["cosine"] / denom).tolist(), (s["angular"] / denom).tolist(), tokens)
        for g, s in sums.items()
    }
