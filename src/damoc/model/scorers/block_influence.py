"""``block_influence``: layer importance = 1 - cosine(input, output) of each layer (ShortGPT)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, lowest
from damoc.model.similarity import collect_layer_similarity
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("block_influence")
class BlockInfluence(Method):
    """Block Influence BI_i = 1 - E_{X,t}[cos(x_{i,t}, x_{i+1,t})]; removes the lowest (ShortGPT, Men et al. 2024, arXiv 2403.03853).

    ``x_i`` is layer ``i``'s input and ``x_{i+1}`` its output (for the last layer, before the final
    norm); the mean runs over every non-pad calibration token, pooled across sequences. A layer whose
    output points the same way as its input changes little and is removed first.
    """

    def score(
        self, model: Any, batches: Sequence[dict[str, Any]], num_remove: int, progress: ProgressFn | None
    ) -> LayerScores:
        """Block influence of every layer; the ``num_remove`` least influential are removed."""
        sim = collect_layer_similarity(model, batches, gaps=(1,), progress=progress, total=len(batches))[1]
        scores = [1.0 - c for c in sim.cosine]
        return LayerScores(scores=scores, removed=lowest(scores, num_remove), tokens=sim.tokens)
