"""``angular_answer``: the ``angular`` block choice with distances averaged over the answer-bearing tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, ScorerParams, require_loss_batches
from damoc.model.scorers.angular import score_angular
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("angular_answer")
class AngularAnswer(Method):
    """Angular distance arccos(cos(x_t^l, x_t^(l+n)))/pi averaged over answer-bearing tokens t; removes the closest n-layer block (task-aware variant of Gromov et al. 2024, arXiv 2403.17887).

    The positions ``t`` are those whose next token is part of the answer (``labels[t + 1] != -100``
    in :func:`damoc.model.tolerance.answer_batches`), pooled over the calibration examples, so a
    block that the answers flow through is kept even when it barely moves the prompt tokens.
    Per-layer scores are each single layer's distance ``d(x^l, x^(l+1))`` at those positions.
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
        """Per-layer answer-token angular distances (from ``loss_batches``), and the closest block to remove."""
        labelled = require_loss_batches(self.name, loss_batches)
        return score_angular(model, labelled, num_remove, "answer", self.params, progress)
