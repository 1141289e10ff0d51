"""Reusing a shared prefix of decoder layers: record each layer's input once, start later runs from it.

Scoring a layer's removal by the loss of the model without it (``perplexity_drop``) runs the model
once per candidate layer, and every run recomputes the layers before the candidate exactly as the
model without any candidate does. :func:`layer_inputs` records, in one pass, the hidden state that
enters each decoder layer; :func:`starting_at` runs the model from such a recorded state: the layers
before it are skipped (:func:`damoc.model.tolerance.skipping`) and the first layer left gets the
recorded state in place of its input. Attention masks, position embeddings and per-layer settings
(Gemma-3's sliding layers) are computed by the model's own forward, as in any run, so the result
equals the run that computes the prefix (same operations on the same values).

Every supported architecture (``architectures.json``) passes the hidden state to a decoder layer as
its first positional argument, which is where the recorded state is put.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def layer_inputs(model: Any, batch: dict[str, Any]) -> list[Any]:
    """The hidden state entering each decoder layer of ``model`` as it stands, for one batch (one pass)."""
    import torch

    from damoc.model.layers import decoder_layers
    from damoc.training.loop import causal_lm

    seen: list[Any] = []
    handles = [
        layer.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
        for layer in decoder_layers(model)
    ]
    try:
        with torch.inference_mode():
            causal_lm(model).get_decoder()(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
            )
    finally:
        for handle in handles:
            handle.remove()
    return seen


@contextmanager
def starting_at(model: Any, hidden: Any) -> Iterator[None]:
    """Feed ``hidden`` to the model's first decoder layer instead of what reaches it (the embeddings).

    Used inside ``skipping(model, prefix)``, where the first layer left is the one whose recorded
    input ``hidden`` is.
    """
    from damoc.model.layers import decoder_layers

    def replace(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if args[0].shape != hidden.shape:
            raise RuntimeError(f"recorded hidden state {tuple(hidden.shape)} does not fit {tuple(args[0].shape)}")
        return (hidden, *args[1:])

    handle = decoder_layers(model)[0].register_forward_pre_hook(replace)
    try:
        yield
    finally:
        handle.remove()
