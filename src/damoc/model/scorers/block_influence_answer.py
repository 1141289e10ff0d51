"""``block_influence_answer``: Block Influence measured only where the task's answers are predicted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import SCORERS, LayerScores, ScorerParams, require_loss_batches
from damoc.model.scorers.block_influence import score_block_influence
from damoc.progress import ProgressFn
from damoc.registry import Method


@SCORERS.register("block_influence_answer")
class BlockInfluenceAnswer(Method):
    """BI_i = 1 - E_{X,t in A}[cos(x_{i,t}, x_{i+1,t})] over answer-bearing tokens A; removes the lowest (task-aware variant of ShortGPT, Men et al. 2024, arXiv 2403.03853).

    ``A`` holds the positions ``t`` whose next token is part of the answer (``labels[t + 1] != -100``
    in :func:`damoc.model.tolerance.answer_batches`: the target and EOS, the prompt masked), the
    states the answer loss is computed from. A layer that turns those states is kept even when it
    barely touches the prompt tokens that dominate ``block_influence``'s all-token mean.
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
        """Answer-token block influence of every layer (from ``loss_batches``); the lowest are removed."""
        labelled = require_loss_batches(self.name, loss_batches)
        return score_block_influence(model, labelled, num_remove, "answer", self.params, progress)
