"""``angular``: remove the contiguous block whose input and output are closest in angle (Gromov et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores
from damoc.model.similarity import collect_layer_similarity
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("angular")
class AngularBlock(Method):
    """Angular distance d(h_l, h_{l+n}); removes the n-layer block with the smallest (Gromov et al. 2024, arXiv 2403.17887).

    "The Unreasonable Ineffectiveness of the Deeper Layers": the block [l, l+n) whose input and
    output hidden states are closest in angle (averaged over non-pad tokens) is removed as a whole.
    Reported per-layer scores are each single layer's angular distance d(h_l, h_{l+1}).
    """

    def score(
        self, model: Any, batches: Sequence[dict[str, Any]], num_remove: int, progress: ProgressFn | None
    ) -> LayerScores:
        """Per-layer angular distances, and the contiguous ``num_remove`` block to remove."""
        gaps = sorted({1, num_remove}) if num_remove > 0 else [1]
        sims = collect_layer_similarity(model, batches, gaps=gaps, progress=progress, total=len(batches))
        scores = sims[1].angular
        if num_remove == 0:
            return LayerScores(scores=scores, removed=[], tokens=sims[1].tokens)
        block = sims[num_remove].angular
        start = min(range(len(block)), key=lambda i: (block[i], i))
        return LayerScores(scores=scores, removed=list(range(start, start + num_remove)), tokens=sims[1].tokens)
