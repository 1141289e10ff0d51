"""``deita``: score-first, diversity-aware selection (DEITA's Repr Filter with IFD as the quality score)."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

from damoc.data.base import (
    FILTERS,
    EmbeddingModelParams,
    FilterRecord,
    KeepParams,
    PoolParams,
    StageContext,
    pooled_scores,
)
from damoc.data.filters.embedding_dedup import admit_diverse
from damoc.data.likelihood import IfdScore
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example

log = logging.getLogger(__name__)


@FILTERS.register("deita")
class DeitaFilter(Method):
    """Admit examples in quality order unless too close to one already kept (DEITA; Liu et al. 2024, arXiv 2312.15685).

    DEITA sorts the pool by a quality score and walks down it, adding an example only when its
    embedding's cosine similarity to its nearest already-selected neighbour is below ``threshold``,
    until the budget (``keep_ratio`` of the set) is full. DEITA's score is its trained complexity x
    quality scorers; damoc uses IFD from the ``ifd`` filter instead (no extra model): the quality order
    is descending IFD among the examples with IFD < 1, and those with IFD >= 1 are never admitted.
    Fewer are kept when too few examples are both helpful and diverse. Score: IFD. With ``pool`` (a
    multiple of the kept count) only a seeded random pool is scored and walked; the rest score None.
    """

    class Params(ReferenceModelParams, KeepParams, EmbeddingModelParams, PoolParams):
        threshold: float = Field(
            0.9, gt=-1, le=1, description="an example is admitted only below this cosine similarity to every kept one"
        )
        score: IfdScore = Field("ppl_ratio", description="IFD form used as the quality score (see the ifd filter)")

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices admitted in descending IFD (< 1) order whose embeddings stay below ``threshold`` similarity."""
        from damoc.data.embeddings import embed_examples
        from damoc.data.likelihood import compute_ifd

        p = self.params
        if not examples:
            self.record = FilterRecord("ifd")
            return []
        asked = p.kept_of(len(examples))
        pool = p.pool_of(len(examples), asked, ctx.seed)
        scored = [examples[i] for i in pool]
        pool_scores = compute_ifd(scored, p.reference_model, p.max_seq_len, p.batch_size, ctx, p.score)
        vectors = embed_examples(scored, p.embedding_model, p.batch_size, ctx, p.embedding_dtype)
        kept = sorted(pool[i] for i in select_deita(pool_scores, vectors, asked, p.threshold))
        self.record = FilterRecord("ifd", pooled_scores(len(examples), pool, pool_scores.tolist()))
        log.info("deita: kept %d of %d (asked %d; scored %d)", len(kept), len(examples), asked, len(pool))
        return kept


def quality_order(scores: np.ndarray) -> list[int]:
    """Indices with finite IFD below 1, highest IFD first (ties: lower index first), as ``select_by_ifd`` ranks."""
    valid = np.flatnonzero(np.isfinite(scores) & (scores < 1.0))
    return [int(i) for i in valid[np.argsort(-scores[valid], kind="stable")]]


def select_deita(scores: np.ndarray, vectors: np.ndarray, k: int, threshold: float) -> list[int]:
    """Up to ``k`` indices admitted by :func:`admit_diverse` along :func:`quality_order`, sorted."""
    kept, _ = admit_diverse(vectors, quality_order(scores), threshold, limit=k)
    return sorted(kept)
