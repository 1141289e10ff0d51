"""``hybrid``: quality-aware selection inside distribution-aware clusters."""

from __future__ import annotations

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
from damoc.data.clustering import k_means
from damoc.data.filters.ifd import select_by_ifd
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example


@FILTERS.register("hybrid")
class HybridFilter(Method):
    """Keep the highest-IFD examples of each embedding cluster (DaMoC hybrid filtering, arXiv 2509.01221).

    Examples are embedded and split into ``num_clusters`` k-means clusters (scikit-learn, seeded; distribution-aware); each
    cluster gets a share of the budget proportional to its size and fills it with its highest-IFD
    examples among those with IFD < 1 (quality-aware, as the ``ifd`` filter). Budget a cluster cannot
    fill goes to the best remaining examples of any cluster. With ``pool`` (a multiple of the kept
    count) only a seeded random pool is embedded, clustered and scored.
    """

    class Params(ReferenceModelParams, KeepParams, EmbeddingModelParams, PoolParams):
        num_clusters: int = Field(8, gt=0, description="k-means clusters (capped at the number of examples)")
        batch_size: int = Field(32, gt=0, description="sequences per forward pass (scoring model and encoder)")

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices kept: per-cluster IFD selection with size-proportional quotas."""
        from damoc.data.embeddings import embed_examples
        from damoc.data.likelihood import compute_ifd

        p = self.params
        if not examples:
            self.record = FilterRecord("ifd")
            return []
        asked = p.kept_of(len(examples))
        pool = p.pool_of(len(examples), asked, ctx.seed)
        scored = [examples[i] for i in pool]
        vectors = embed_examples(scored, p.embedding_model, p.batch_size, ctx, p.embedding_dtype)
        labels = k_means(vectors, min(p.num_clusters, len(scored)), seed=ctx.seed)
        scores = compute_ifd(scored, p.reference_model, p.max_seq_len, p.batch_size, ctx)
        self.record = FilterRecord("ifd", pooled_scores(len(examples), pool, scores.tolist()))
        return sorted(pool[i] for i in select_per_cluster(scores, labels, asked))


def cluster_quotas(sizes: list[int], k: int) -> list[int]:
    """Split ``k`` over clusters proportionally to ``sizes`` (largest remainder, ties to lower index)."""
    total = sum(sizes)
    exact = [k * s / total for s in sizes]
    quotas = [int(e) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda c: (-(exact[c] - quotas[c]), c))
    for c in by_remainder[: k - sum(quotas)]:
        quotas[c] += 1
    return quotas


def select_per_cluster(scores: np.ndarray, labels: np.ndarray, k: int) -> list[int]:
    """Per-cluster IFD selection with :func:`cluster_quotas`; unfilled budget goes to the best rest."""
    clusters = sorted(set(labels.tolist()))
    members = [np.flatnonzero(labels == c) for c in clusters]
    quotas = cluster_quotas([len(m) for m in members], k)
    kept = [i for m, q in zip(members, quotas, strict=True) for i in select_by_ifd(scores, q, candidates=m)]
    if len(kept) < k:
        rest = np.setdiff1d(np.arange(len(scores)), kept)
        kept += select_by_ifd(scores, k - len(kept), candidates=rest)
    return sorted(kept)
