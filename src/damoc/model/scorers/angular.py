"""``angular``: remove the n-layer block whose input and output last-token states are closest in angle (Gromov et al.)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, ScorerParams, removable_layers
from damoc.model.layers import decoder_layers
from damoc.model.similarity import Positions, collect_layer_similarity
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("angular")
class AngularBlock(Method):
    """Last-token angular distance arccos(cos(x_T^l, x_T^(l+n)))/pi; removes the closest n-layer block (Gromov et al. 2024, arXiv 2403.17887).

    "The Unreasonable Ineffectiveness of the Deeper Layers", section 3.2: ``x^l`` is the input of
    layer ``l`` and ``T`` each sequence's last non-pad token; the distance is averaged over the
    calibration sequences and layers ``l*..l*+n-1`` of the block with the smallest one are removed.
    Every start ``0..L-n`` is a candidate, and ``x^L`` is the last layer's output before the final
    norm (PruneMe skips ``l = 0`` and compares against the normed state there). Reported per-layer
    scores are each single layer's distance ``d(x^l, x^(l+1))``. ``angular_all_tokens`` averages
    over every token instead.
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
        """Per-layer last-token angular distances, and the contiguous ``num_remove`` block to remove."""
        return score_angular(model, batches, num_remove, "last", self.params, progress)


def closest_block(distances: Sequence[float], num_remove: int, allowed: range | None = None) -> list[int]:
    """Layers ``l*..l*+n-1`` where ``distances[l] = d(x^l, x^(l+n))`` is smallest (ties: the shallower block).

    ``allowed`` (default: every layer) holds the removable layers; a block must lie inside it.
    """
    if num_remove == 0:
        return []
    lo, hi = (0, len(distances) + num_remove - 1) if allowed is None else (allowed.start, allowed.stop)
    starts = range(lo, min(hi - num_remove + 1, len(distances)))
    start = min(starts, key=lambda i: (distances[i], i))
    return list(range(start, start + num_remove))


def score_angular(
    model: Any,
    batches: Sequence[dict[str, Any]],
    num_remove: int,
    positions: Positions,
    params: ScorerParams,
    progress: ProgressFn | None,
) -> LayerScores:
    """Angular distances over ``positions``: one-layer gaps as scores, the closest unprotected ``num_remove`` block removed."""
    allowed = removable_layers(len(decoder_layers(model)), num_remove, params)  # fail before the passes
    gaps = sorted({1, num_remove}) if num_remove > 0 else [1]
    sims = collect_layer_similarity(
        model, batches, gaps=gaps, positions=positions, progress=progress, total=len(batches)
    )
    removed = closest_block(sims[num_remove].angular, num_remove, allowed) if num_remove > 0 else []
    return LayerScores(scores=sims[1].angular, removed=removed, tokens=sims[1].tokens)
