"""``cluster_balanced``: the same number of examples from every k-means cluster of the embeddings."""

from __future__ import annotations

import logging
import random

import numpy as np
from pydantic import Field

from damoc.data.base import FILTERS, EmbeddingParams, FilterRecord, StageContext
from damoc.data.clustering import k_means
from damoc.registry import Method
from damoc.tasks.example import Example

log = logging.getLogger(__name__)


@FILTERS.register("cluster_balanced")
class ClusterBalancedFilter(Method):
    """Keep an equal share of every k-means cluster of the embeddings (balanced sampling; Vo et al. 2024, arXiv 2405.15613).

    Context and question are embedded with the MiniLM sentence encoder and split into
    ``num_clusters`` clusters by scikit-learn's k-means (k-means++, seeded). The budget is shared out
    equally: every cluster gets the same quota, a cluster smaller than its quota gives all its
    members, and slots left over go one each to the largest clusters (see :func:`balanced_quotas`).
    Within a cluster the members are a seeded uniform sample, so rare topics are over-represented
    relative to the data and frequent ones thinned, unlike ``hybrid``'s size-proportional quotas.
    Recorded per example: its cluster.
    """

    class Params(EmbeddingParams):
        num_clusters: int = Field(8, gt=0, description="k-means clusters (capped at the number of examples)")

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of equal per-cluster seeded samples, ``keep_ratio`` of the set in all."""
        from damoc.data.embeddings import embed_examples

        p = self.params
        if not examples:
            self.record = FilterRecord("cluster")
            return []
        vectors = embed_examples(examples, p.embedding_model, p.batch_size, ctx, p.embedding_dtype)
        labels = k_means(vectors, min(p.num_clusters, len(examples)), seed=ctx.seed)
        kept = select_balanced(labels, p.kept_of(len(examples)), seed=ctx.seed)
        self.record = FilterRecord("cluster", [float(c) for c in labels])
        log.info(
            "cluster_balanced: kept %d of %d from %d clusters", len(kept), len(examples), len(set(labels.tolist()))
        )
        return kept


def balanced_quotas(sizes: list[int], k: int) -> list[int]:
    """Split ``k`` (at most ``sum(sizes)``) over clusters as equally as their sizes allow.

    Each round, every cluster with members left gets ``left // open`` more (fewer if it runs out);
    when fewer slots remain than open clusters, they go one each to the largest clusters (by size,
    ties to the lower index).
    """
    quotas = [0] * len(sizes)
    left = min(k, sum(sizes))
    open_ = [c for c, s in enumerate(sizes) if s > 0]
    while left > 0:
        share = left // len(open_)
        if share == 0:
            for c in sorted(open_, key=lambda c: (-sizes[c], c))[:left]:
                quotas[c] += 1
            break
        for c in open_:
            take = min(share, sizes[c] - quotas[c])
            quotas[c] += take
            left -= take
        open_ = [c for c in open_ if quotas[c] < sizes[c]]
    return quotas


def select_balanced(labels: np.ndarray, k: int, *, seed: int) -> list[int]:
    """``k`` indices: :func:`balanced_quotas` per cluster label, each a seeded sample of its members."""
    rng = random.Random(seed)
    clusters = sorted(set(labels.tolist()))
    members = [np.flatnonzero(labels == c).tolist() for c in clusters]
    quotas = balanced_quotas([len(m) for m in members], k)
    return sorted(i for m, q in zip(members, quotas, strict=True) for i in rng.sample(m, q))
