"""``ifd``: quality-aware filtering by Instruction-Following Difficulty (Cherry LLM or Superfiltering form)."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

from damoc.data.base import FILTERS, FilterRecord, KeepParams, PoolParams, StageContext, pooled_scores
from damoc.data.likelihood import IfdScore
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example

log = logging.getLogger(__name__)


@FILTERS.register("ifd")
class IfdFilter(Method):
    """Keep the examples whose prompt helps most but not trivially (IFD; Li et al. 2024, arXiv 2308.12032 and 2402.00530).

    IFD compares the mean answer-token loss under a small reference model with and without the
    prompt. ``score`` picks the form: ``ppl_ratio`` (default), Superfiltering's
    ``PPL(A|Q) / PPL(A) = exp(meanCE(A|Q) - meanCE(A))`` (arXiv 2402.00530), or ``loss_ratio``,
    Cherry LLM's ``meanCE(A|Q) / meanCE(A)`` (arXiv 2308.12032). Both drop the same examples, those
    with IFD >= 1 (the prompt does not help); they rank the rest differently. Of the rest, the
    ``keep_ratio`` share of the whole set with the highest IFD is kept; fewer are kept when too few
    examples have IFD < 1.

    ``pool`` caps the cost: only a seeded uniform sample of ``pool`` times the kept count is scored
    (the best of a random pool, as Superfiltering's cheap reference model is a cost cap), so a proxy
    that keeps 4% of a large set does not pay two reference-model passes over all of it.

    ``ppl_ratio`` is the default because damoc scores with a small reference model for larger
    candidates, which is Superfiltering's weak-to-strong setting, and because it is what damoc has
    always computed, so earlier results stay valid. The answer alone is conditioned on the
    tokenizer's start token (BOS, else EOS), not on Cherry's ``"### Response:"``; see
    :func:`damoc.data.likelihood.ifd_losses`.
    """

    class Params(ReferenceModelParams, KeepParams, PoolParams):
        score: IfdScore = Field(
            "ppl_ratio",
            description="IFD form: ppl_ratio = exp(meanCE(A|Q) - meanCE(A)) (Superfiltering), "
            "loss_ratio = meanCE(A|Q) / meanCE(A) (Cherry LLM)",
        )

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of the highest-IFD examples among those with IFD < 1 (within the pool, if set)."""
        from damoc.data.likelihood import compute_ifd

        p = self.params
        if not examples:
            return []
        k = p.kept_of(len(examples))
        pool = p.pool_of(len(examples), k, ctx.seed)
        scores = compute_ifd([examples[i] for i in pool], p.reference_model, p.max_seq_len, p.batch_size, ctx, p.score)
        keep = sorted(pool[i] for i in select_by_ifd(scores, k))
        self.record = FilterRecord(
            score_name=f"ifd_{p.score}", scores=pooled_scores(len(examples), pool, scores.tolist())
        )
        log.info(
            "ifd (%s): %d of %d scored examples (of %d) have IFD < 1; kept %d (asked %d)",
            p.score,
            int((scores < 1).sum()),
            len(scores),
            len(examples),
            len(keep),
            k,
        )
        return keep


def select_by_ifd(scores: np.ndarray, k: int, candidates: np.ndarray | None = None) -> list[int]:
    """The ``k`` indices with the highest finite IFD below 1 (ties: lower index first).

    Args:
        scores: IFD of every example.
        k: how many to keep at most.
        candidates: restrict the choice to these indices (default: all).
    """
    pool = np.arange(len(scores)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    valid = pool[np.isfinite(scores[pool]) & (scores[pool] < 1.0)]
    ranked = valid[np.argsort(-scores[valid], kind="stable")]
    return sorted(int(i) for i in ranked[:k])
