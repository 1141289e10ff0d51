"""Per-candidate removal depth (``model.max_loss_increase``): a candidate that cannot spare layers keeps them.

Which layers look redundant by similarity is not which layers a task needs: on ``medical_except``
removing a quarter of Qwen2.5-0.5B's layers took its accuracy to chance while Gemma-3 lost little.
With a tolerance ``t``, the depth is the largest ``k <= round(remove_ratio * L)`` whose removal set
(the scorer's choice for ``k`` layers) keeps the mean answer-token loss on the calibration sample
within ``(1 + t)`` of the uncompressed model's:

    k* = max { k : loss(model without S_k) <= (1 + t) * loss(model) },   k = K, K-1, ..., 0

tried from the deepest down, so a robust candidate costs one extra pass over the calibration sample.
The loss is the one fine-tuning minimises (prompt masked, answer + EOS learned), from
:func:`damoc.training.features.encode_example`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from damoc.progress import ProgressFn

log = logging.getLogger(__name__)


def answer_batches(
    tokenizer: Any, examples: Sequence[Any], max_seq_len: int, batch_size: int, prompt: Any, device: Any
) -> list[dict[str, Any]]:
    """Right-padded batches with the prompt masked in ``labels``, cut as fine-tuning cuts them."""
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import collate, encode_example

    prefix = special_prefix(tokenizer)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    feats = [encode_example(tokenizer, ex, max_seq_len, prefix, prompt) for ex in examples]
    out = []
    for i in range(0, len(feats), batch_size):
        out.append({k: v.to(device) for k, v in collate(feats[i : i + batch_size], pad_id).items()})
    return out


def answer_loss(model: Any, batches: Sequence[dict[str, Any]]) -> float:
    """Mean cross-entropy per answer token over ``batches``."""
    import torch

    from damoc.training.base import IGNORE_INDEX
    from damoc.training.loop import target_loss

    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in batches:
            total += float(target_loss(model, batch))
            count += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    return total / max(count, 1)


@contextmanager
def skipping(model: Any, removed: Sequence[int]) -> Iterator[None]:
    """Run ``model`` as if ``removed`` were gone, then put every layer, index and config value back."""
    from damoc.model.layers import architecture, decoder_layers, remove_layers

    if not removed:
        yield
        return
    arch = architecture(model)
    layers = decoder_layers(model)
    indices = [(m, m.layer_idx) for layer in layers for m in layer.modules() if hasattr(m, "layer_idx")]
    keys = ["num_hidden_layers", *arch["per_layer_config"]]
    saved = {k: getattr(model.config, k, None) for k in keys}
    parent_path, _, attr = arch["layers"].rpartition(".")
    parent = model
    for part in filter(None, parent_path.split(".")):
        parent = getattr(parent, part)
    remove_layers(model, list(removed))
    try:
        yield
    finally:
        setattr(parent, attr, layers)
        for module, idx in indices:
            module.layer_idx = idx
        for k, v in saved.items():
            if v is not None:
                setattr(model.config, k, v)


def choose_depth(
    model: Any,
    score_batches: Sequence[dict[str, Any]],
    loss_batches: Sequence[dict[str, Any]],
    scorer: Any,
    max_remove: int,
    tolerance: float,
    progress: ProgressFn | None = None,
) -> tuple[Any, dict[int, float]]:
    """The scorer's result at the deepest removal within ``tolerance``, and the loss of each depth tried.

    Args:
        model: the uncompressed candidate.
        score_batches: calibration batches for the scorer (prompt + target, unmasked).
        loss_batches: the same examples with the prompt masked (:func:`answer_batches`).
        scorer: the layer scorer (``model.scorer``).
        max_remove: the depth ``model.remove_ratio`` asks for.
        tolerance: the largest relative rise of the answer loss allowed.

    Returns:
        (the scorer's :class:`~damoc.model.base.LayerScores` for the chosen depth, {depth: answer loss}).
    """
    losses = {0: answer_loss(model, loss_batches)}
    limit = (1.0 + tolerance) * losses[0]
    result = scorer.score(model, score_batches, max_remove, progress, loss_batches)
    for k in range(max_remove, 0, -1):
        if k != max_remove:
            result = scorer.score(model, score_batches, k, None, loss_batches)
        with skipping(model, result.removed):
            losses[k] = answer_loss(model, loss_batches)
        if losses[k] <= limit:
            log.info("removing %d layers: answer loss %.4f <= %.4f (tolerance %g)", k, losses[k], limit, tolerance)
            return result, losses
        log.info("removing %d layers: answer loss %.4f > %.4f; trying fewer", k, losses[k], limit)
    return scorer.score(model, score_batches, 0, None, loss_batches), losses
