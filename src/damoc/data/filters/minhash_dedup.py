"""``minhash_dedup``: near-duplicate removal by MinHash LSH over word n-grams (the ``datasketch`` package)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pydantic import Field

from damoc.data.base import FILTERS, FilterRecord, KeepParams, StageContext, item_parts
from damoc.data.filters.embedding_dedup import dedup_record
from damoc.data.filters.random import seeded_subset
from damoc.registry import Method
from damoc.tasks.example import Example

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")


@FILTERS.register("minhash_dedup")
class MinHashDedupFilter(Method):
    """Drop an example whose word n-grams nearly repeat an earlier kept one (MinHash LSH; Lee et al. 2022, arXiv 2107.06499).

    Each part of an example's item (:func:`damoc.data.base.item_parts`: question, sorted choices,
    context), lowercased and split into words, is reduced to its set of ``ngram_size``-word shingles
    (the whole text when it is shorter) and sketched with ``num_perm`` MinHash permutations seeded by
    the run's seed (Broder 1997). Two examples are as similar as their least similar part (estimated
    Jaccard), so one stem asked over other options, or another question about the same passage, is
    not a duplicate. In data order an example is dropped when an LSH candidate among the kept
    examples (indexed on the question) is at least ``threshold`` similar, else it is kept and indexed.
    The threshold decides what goes; ``keep_ratio`` then caps what is left (a seeded uniform sample of
    the survivors; 1.0: no cap). Score: the largest similarity to an earlier kept example (0 when none
    is a candidate).
    """

    class Params(KeepParams):
        keep_ratio: float = Field(1.0, gt=0, le=1, description="cap: at most this fraction of the set is kept")
        threshold: float = Field(
            0.8, gt=0, le=1, description="estimated Jaccard similarity at or above which an example is a duplicate"
        )
        ngram_size: int = Field(3, gt=0, description="words per shingle")
        num_perm: int = Field(128, ge=16, description="MinHash permutations (more: a finer Jaccard estimate, slower)")

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of the examples that no earlier kept example nearly repeats, capped at ``keep_ratio``."""
        p = self.params
        unique, scores = minhash_unique(
            [item_parts(ex) for ex in examples], p.threshold, p.ngram_size, p.num_perm, seed=ctx.seed
        )
        kept = seeded_subset(unique, p.kept_of(len(examples)), ctx.seed)
        self.record = dedup_record("max_jaccard", scores, unique, kept, len(examples))
        log.info(
            "minhash_dedup: %d of %d unique at Jaccard < %g; kept %d",
            len(unique),
            len(examples),
            p.threshold,
            len(kept),
        )
        return kept


def shingles(text: str, ngram_size: int) -> set[bytes]:
    """The lowercased word ``ngram_size``-grams of ``text`` (one shingle of all words when it is shorter)."""
    words = _WORD.findall(text.lower())
    n = min(ngram_size, len(words))
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)} if words else set()


def minhash_unique(
    items: Sequence[str | Sequence[str]], threshold: float, ngram_size: int, num_perm: int, *, seed: int
) -> tuple[list[int], list[float]]:
    """Greedy MinHash LSH deduplication in input order.

    ``items`` are texts, or tuples of parts (rows aligned, e.g. :func:`damoc.data.base.item_parts`)
    whose similarity is the smallest of their parts' estimated Jaccard similarities; parts empty in
    every item are left out. Candidates come from an LSH index of the first part used.

    Returns:
        The indices kept (in order) and, per item, its largest similarity to a kept item before it
        among the LSH candidates (0.0 when there is none).
    """
    from datasketch import MinHash, MinHashLSH

    rows = [(t,) if isinstance(t, str) else tuple(t) for t in items]
    width = len(rows[0]) if rows else 0
    used = [k for k in range(width) if any(r[k] for r in rows)] or list(range(width))[:1]
    sketches = [
        MinHash.bulk([sorted(shingles(r[k], ngram_size)) for r in rows], num_perm=num_perm, seed=seed) for k in used
    ]
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: list[int] = []
    scores: list[float] = []
    for i in range(len(rows)):
        # LSH candidates are probable matches only: the estimated Jaccard of every part decides
        best = max((min(part[i].jaccard(part[j]) for part in sketches) for j in lsh.query(sketches[0][i])), default=0.0)
        scores.append(float(best))
        if best < threshold:
            lsh.insert(i, sketches[0][i])
            kept.append(i)
    return kept, scores
