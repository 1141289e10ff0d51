"""``angular_all_tokens``: the ``angular`` block choice with distances averaged over every token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, ScorerParams
from damoc.model.scorers.angular import score_angular
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("angular_all_tokens")
class AngularAllTokens(Method):
    """Angular distance arccos(cos(x_t^l, x_t^(l+n)))/pi averaged over all non-pad tokens t; removes the closest n-layer block (variant of Gromov et al. 2024, arXiv 2403.17887).

    The paper (and ``angular``) measures only each sequence's last token; this variant averages
    over every non-pad token, as ShortGPT's Block Influence does, and was damoc's ``angular`` before.
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
        """Per-layer all-token angular distances, and the contiguous ``num_remove`` block to remove."""
        return score_angular(model, batches, num_remove, "all", self.params, progress)
