"""Data filters: each module registers one method that chooses which training examples to keep.

The contract is :class:`damoc.data.base.Filter`: ``select(examples, ctx) -> indices``.
"""

from damoc.data.base import Filter, StageContext
from damoc.data.filters import hybrid, ifd, k_center, random

__all__ = ["Filter", "StageContext", "hybrid", "ifd", "k_center", "random"]
