"""Data filters: each module registers one method that chooses which training examples to keep.

The contract is :class:`damoc.data.base.Filter`: ``select(examples, ctx) -> indices``.
"""

# the filter imports stay on one line, unwrapped by isort and the formatter: the README's "Add a method"
# section shows that line and tests/test_add_method.py checks it
from damoc.data.base import Filter, StageContext  # noqa: I001

# fmt: off
from damoc.data.filters import cluster_balanced, deita, embedding_dedup, hybrid, ifd, k_center, minhash_dedup, perplexity, random, rules
# fmt: on

__all__ = [
    "Filter",
    "StageContext",
    "cluster_balanced",
    "deita",
    "embedding_dedup",
    "hybrid",
    "ifd",
    "k_center",
    "minhash_dedup",
    "perplexity",
    "random",
    "rules",
]
