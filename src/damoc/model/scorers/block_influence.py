"""``block_influence``: layer importance = 1 - cosine(input, output) of each layer (ShortGPT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, ScorerParams, lowest, removable_layers
from damoc.model.layers import decoder_layers
from damoc.model.similarity import Positions, collect_layer_similarity
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("block_influence")
class BlockInfluence(Method):
    """Block Influence BI_i = 1 - E_{X,t}[cos(x_{i,t}, x_{i+1,t})]; removes the lowest (ShortGPT, Men et al. 2024, arXiv 2403.03853).

    ``x_i`` is layer ``i``'s input and ``x_{i+1}`` its output (for the last layer, before the final
    norm); the mean runs over every non-pad calibration token, pooled across sequences. A layer whose
    output points the same way as its input changes little and is removed first.
    """

    Params = ScorerParams
    params: ScorerParams

    def score(
        self,
        model: Any,
        batches: Sequence[dict[str, Any]],
        num_remove: int,
        progress: ProgressFn | None,
        loss_batches: Sequence[dict[str, Any]] | None = None,
    ) -> LayerScores:
        """Block influence of every layer; the ``num_remove`` least influential are removed."""
        return score_block_influence(model, batches, num_remove, "all", self.params, progress)


def score_block_influence(
    model: Any,
    batches: Sequence[dict[str, Any]],
    num_remove: int,
    positions: Positions,
    params: ScorerParams,
    progress: ProgressFn | None,
) -> LayerScores:
    """``1 - mean cos`` over ``positions`` for every layer; the ``num_remove`` lowest unprotected ones removed."""
    allowed = removable_layers(len(decoder_layers(model)), num_remove, params)  # fail before the passes
    sim = collect_layer_similarity(
        model, batches, gaps=(1,), positions=positions, progress=progress, total=len(batches)
    )[1]
    scores = [1.0 - c for c in sim.cosine]
    return LayerScores(scores=scores, removed=lowest(scores, num_remove, allowed), tokens=sim.tokens)
