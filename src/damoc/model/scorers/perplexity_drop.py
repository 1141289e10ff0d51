"""``perplexity_drop``: greedy removal of the layer whose absence raises the task's answer loss least (SLEB).

Each step skips every candidate layer (or block) in turn on top of those already removed, measures
the mean answer-token loss on the calibration sample (:func:`damoc.model.tolerance.answer_loss`: the
decoder runs once per batch and the output head only at answer positions) and removes the cheapest.
Removing ``k`` of ``L`` layers runs the model ``k * L`` times over the calibration sample, but the
layers before each candidate are computed once per step and reused (:func:`block_losses`), so a step
costs about half of ``L`` whole passes plus one;
``one_shot: true`` scores each layer's removal once and removes the ``k`` cheapest (``L + 1`` passes,
the PPL criterion of Shortened LLaMA, Kim et al. 2024, arXiv 2402.02834).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import Field, model_validator

from damoc.model.base import SCORERS, LayerScores, ScorerParams, lowest, removable_layers, require_loss_batches
from damoc.model.layers import decoder_layers
from damoc.model.tolerance import answer_loss, skipping
from damoc.progress import ProgressFn, tick
from damoc.registry import Method

log = logging.getLogger(__name__)


class PerplexityDropParams(ScorerParams):
    """Params of ``perplexity_drop``."""

    block_size: int = Field(1, ge=1, description="adjacent layers removed per greedy step (1: single layers, as SLEB)")
    one_shot: bool = Field(
        False, description="score each single layer's removal once and remove the k cheapest (L + 1 passes, not ~k*L)"
    )

    @model_validator(mode="after")
    def _one_shot_single_layers(self) -> PerplexityDropParams:
        if self.one_shot and self.block_size != 1:
            raise ValueError(f"one_shot scores single layers; block_size must be 1, got {self.block_size}")
        return self


@SCORERS.register("perplexity_drop")
class PerplexityDrop(Method):
    """Greedy: remove the layer (or block) whose removal raises the calibration answer loss least, until k are gone (SLEB, Song et al. 2024, arXiv 2402.09025).

    SLEB eliminates one transformer block per step by the lowest perplexity of the model without it
    on generic text; here the loss is the one fine-tuning minimises, on the task's calibration
    examples (prompt masked, answer + EOS). With ``block_size = b`` a step removes ``b`` layers
    adjacent in the model as it stands (the last step fewer if ``b`` does not divide ``k``).

    ``scores[i]`` is the rise of the mean answer-token loss (nats per token) caused by removing
    layer ``i`` on top of the layers removed before it: for a removed layer, measured at the step that
    picked it; for a kept layer, at the last step (with ``k = 0``, one step of single layers). With
    blocks, a layer gets the smallest rise of the candidate blocks containing it. Lower = less
    important, like every scorer; protected layers are measured too but never picked.

    ``one_shot``: ``scores[i] = loss(model without i) - loss(model)`` for every layer, measured once on
    the uncompressed model, and the ``k`` lowest allowed layers are removed together (Kim et al. 2024,
    arXiv 2402.02834, rank blocks by the perplexity without each). Interactions between removed
    layers are not seen, as with every one-pass scorer; the cost is ``L + 1`` passes.
    """

    Params = PerplexityDropParams
    params: PerplexityDropParams

    def score(
        self,
        model: Any,
        batches: Sequence[dict[str, Any]],
        num_remove: int,
        progress: ProgressFn | None,
        loss_batches: Sequence[dict[str, Any]] | None = None,
    ) -> LayerScores:
        """Greedy answer-loss removal over ``loss_batches``; ``batches`` (unlabelled) are not used."""
        labelled = require_loss_batches(self.name, loss_batches)
        allowed = removable_layers(len(decoder_layers(model)), num_remove, self.params)
        if self.params.one_shot:
            return remove_one_shot(model, labelled, num_remove, allowed, progress)
        return remove_greedily(model, labelled, num_remove, self.params.block_size, allowed, progress)


def step_sizes(num_remove: int, block_size: int) -> list[int]:
    """Layers removed at each greedy step (``[1]``, one scoring-only step, when nothing is removed)."""
    if num_remove == 0:
        return [1]
    return [min(block_size, num_remove - done) for done in range(0, num_remove, block_size)]


def candidate_blocks(present: Sequence[int], size: int) -> list[tuple[int, ...]]:
    """Every run of ``size`` layers adjacent among ``present``, leaving at least one layer."""
    if len(present) <= size:
        return []
    return [tuple(present[j : j + size]) for j in range(len(present) - size + 1)]


def remove_greedily(
    model: Any,
    batches: Sequence[dict[str, Any]],
    num_remove: int,
    block_size: int,
    allowed: range,
    progress: ProgressFn | None,
) -> LayerScores:
    """The greedy loop of :class:`PerplexityDrop` on labelled ``batches``; only ``allowed`` layers are picked."""
    num_layers = len(decoder_layers(model))
    sizes = step_sizes(num_remove, block_size)
    total = sum(len(candidate_blocks(range(num_layers - sum(sizes[:s])), n)) for s, n in enumerate(sizes))
    scores = [0.0] * num_layers
    removed: list[int] = []
    done = 0
    base = answer_loss(model, batches)
    for size in sizes:
        present = [i for i in range(num_layers) if i not in set(removed)]
        blocks = candidate_blocks(present, size)
        losses = block_losses(model, batches, removed, blocks, progress, (done, total))
        done += len(blocks)
        for i in present:
            scores[i] = min((loss - base for b, loss in losses.items() if i in b), default=scores[i])
        if len(removed) < num_remove:
            pick = min((b for b in losses if all(i in allowed for i in b)), key=lambda b: (losses[b], b))
            log.debug("removing layers %s: answer loss %.4f -> %.4f", list(pick), base, losses[pick])
            removed += pick
            base = losses[pick]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    return LayerScores(scores=scores, removed=sorted(removed), tokens=tokens)


def remove_one_shot(
    model: Any, batches: Sequence[dict[str, Any]], num_remove: int, allowed: range, progress: ProgressFn | None
) -> LayerScores:
    """Each layer's loss rise when it alone is skipped; the ``num_remove`` lowest allowed are removed."""
    num_layers = len(decoder_layers(model))
    base = answer_loss(model, batches)
    losses = block_losses(model, batches, [], [(i,) for i in range(num_layers)], progress, (0, num_layers))
    scores = [losses[(i,)] - base for i in range(num_layers)]
    removed = lowest(scores, num_remove, allowed) if num_remove else []
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    return LayerScores(scores=scores, removed=removed, tokens=tokens)


def block_losses(
    model: Any,
    batches: Sequence[dict[str, Any]],
    removed: Sequence[int],
    blocks: Sequence[tuple[int, ...]],
    progress: ProgressFn | None,
    ticks: tuple[int, int],
) -> dict[tuple[int, ...], float]:
    """Mean answer-token loss of the model without ``removed`` and each block, as ``answer_loss`` gives it.

    The layers before a block are the same in every run, so each batch's hidden states entering the
    layers of the model without ``removed`` are recorded once (:func:`damoc.model.prefix.layer_inputs`)
    and a block's run starts from the state entering its first layer (:func:`damoc.model.prefix.starting_at`):
    a greedy step costs about half the layer passes of running every candidate whole. A block at the
    start (nothing to reuse) or at the end (no layer left to start from) runs whole. ``ticks``: (blocks
    done before, blocks in all) for the progress bar.
    """
    import torch

    from damoc.model.prefix import layer_inputs, starting_at
    from damoc.training.base import IGNORE_INDEX
    from damoc.training.loop import target_loss

    present = [i for i in range(len(decoder_layers(model))) if i not in set(removed)]
    totals = dict.fromkeys(blocks, 0.0)
    count = 0
    for b, batch in enumerate(batches):
        with skipping(model, sorted(removed)):
            inputs = layer_inputs(model, batch)
        count += int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        for block in blocks:
            j = present.index(block[0])
            whole = j == 0 or j + len(block) == len(present)
            prefix = [] if whole else present[:j]
            with torch.inference_mode(), skipping(model, sorted([*removed, *prefix, *block])):
                if whole:
                    totals[block] += float(target_loss(model, batch))
                else:
                    with starting_at(model, inputs[j]):
                        totals[block] += float(target_loss(model, batch))
        tick(progress, "scoring layers", ticks[0] + round(len(blocks) * (b + 1) / len(batches)), ticks[1])
    return {block: total / max(count, 1) for block, total in totals.items()}
