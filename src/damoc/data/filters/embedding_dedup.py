"""``embedding_dedup``: semantic near-duplicate removal by a cosine threshold on sentence embeddings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from pydantic import Field

from damoc.data.base import FILTERS, EmbeddingParams, FilterRecord, StageContext
from damoc.data.filters.random import seeded_subset
from damoc.registry import Method
from damoc.tasks.example import Example

log = logging.getLogger(__name__)

_BLOCK = 512  # rows compared per matrix product: exact, and bounded memory for large sets


@FILTERS.register("embedding_dedup")
class EmbeddingDedupFilter(Method):
    """Drop an example whose embedding is within a cosine threshold of an earlier kept one (SemDeDup; Abbas et al. 2023, arXiv 2303.09540).

    The question, the (sorted) choices and the context are each embedded with the MiniLM sentence
    encoder (:func:`damoc.data.base.item_parts`); two examples are as similar as their least similar
    part, min over parts of cos(e_i, e_j), so one stem asked over other options, or another question
    about the same passage, is not a duplicate. In data order an example is kept when that similarity
    to every example kept before it is below ``threshold``. SemDeDup compares within k-means clusters
    to save time; damoc compares with all kept examples, exactly, in blocks. The threshold decides
    what goes; ``keep_ratio`` then caps what is left (a seeded uniform sample of the survivors; 1.0:
    no cap). Score: each example's largest similarity to the examples kept before it (-1 for the first).
    """

    class Params(EmbeddingParams):
        keep_ratio: float = Field(1.0, gt=0, le=1, description="cap: at most this fraction of the set is kept")
        threshold: float = Field(
            0.95, gt=-1, le=1, description="cosine similarity at or above which an example is a duplicate"
        )

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of the examples no earlier kept example duplicates, capped at ``keep_ratio``."""
        from damoc.data.embeddings import embed_item_parts

        p = self.params
        if not examples:
            self.record = FilterRecord("max_cosine")
            return []
        vectors, masks = embed_item_parts(
            examples, p.embedding_model, p.batch_size, ctx, p.embedding_dtype, close=p.threshold
        )
        unique, max_sim = admit_diverse(vectors, list(range(len(examples))), p.threshold, masks=masks)
        kept = seeded_subset(unique, p.kept_of(len(examples)), ctx.seed)
        self.record = dedup_record("max_cosine", max_sim.tolist(), unique, kept, len(examples))
        log.info(
            "embedding_dedup: %d of %d unique at cosine < %g; kept %d",
            len(unique),
            len(examples),
            p.threshold,
            len(kept),
        )
        return kept


def admit_diverse(
    vectors: np.ndarray | Sequence[np.ndarray],
    order: list[int],
    threshold: float,
    limit: int | None = None,
    masks: Sequence[np.ndarray] | None = None,
) -> tuple[list[int], np.ndarray]:
    """Greedy admission: in ``order``, admit a row whose cosine similarity to every admitted row is below ``threshold``.

    Rows must be L2-normalised. ``vectors`` is one matrix, or a sequence of matrices (one per part of
    an item, rows aligned) where two rows are as similar as their least similar part; ``masks`` (one
    boolean row mask per matrix) leave a part out of a pair's min unless both rows have it embedded
    (:func:`damoc.data.embeddings.embed_item_parts` with ``close``). Stops once
    ``limit`` rows are admitted (None: no limit).

    Returns:
        The admitted row indices in admission order, and per row its largest similarity to the rows
        admitted before its turn (-1 when none was; NaN for rows never reached).
    """
    xs = [np.asarray(v, dtype=np.float64) for v in ([vectors] if isinstance(vectors, np.ndarray) else vectors)]

    ms = [np.asarray(m, dtype=bool) for m in masks] if masks is not None else None

    def sims(rows: np.ndarray, cols: Sequence[int] | np.ndarray) -> np.ndarray:
        out = xs[0][rows] @ xs[0][cols].T
        for k in range(1, len(xs)):
            part = xs[k][rows] @ xs[k][cols].T
            if ms is not None:
                part = np.where(ms[k][rows][:, None] & ms[k][cols][None, :], part, np.inf)
            out = np.minimum(out, part)
        return out

    n = len(xs[0])
    kept: list[int] = []
    max_sim = np.full(n, np.nan)
    limit = len(order) if limit is None else limit
    for lo in range(0, len(order), _BLOCK):
        if len(kept) >= limit:
            break
        block = np.asarray(order[lo : lo + _BLOCK], dtype=np.int64)
        prior = sims(block, kept).max(axis=1) if kept else np.full(len(block), -1.0)
        inner = sims(block, block)
        admitted: list[int] = []  # positions within the block
        for j, row in enumerate(block.tolist()):
            if len(kept) >= limit:
                break
            sim = max(float(prior[j]), float(inner[j, admitted].max()) if admitted else -1.0)
            max_sim[row] = sim
            if sim < threshold:
                admitted.append(j)
                kept.append(row)
    return kept, max_sim


def dedup_record(score_name: str, scores: list[float], unique: list[int], kept: list[int], n: int) -> FilterRecord:
    """The record of a threshold filter capped by ``keep_ratio``: dropped as duplicates, then by the cap."""
    unique_set, kept_set = set(unique), set(kept)
    reasons = {i: "duplicate" for i in range(n) if i not in unique_set}
    reasons |= {i: "keep_ratio" for i in unique if i not in kept_set}
    dropped = {"duplicate": n - len(unique), "keep_ratio": len(unique) - len(kept)}
    clean = [None if np.isnan(s) else float(s) for s in scores]
    return FilterRecord(score_name, clean, dropped, reasons)
