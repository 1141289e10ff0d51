"""``random``: a uniform random subset, the baseline every other filter must beat."""

from __future__ import annotations

import random as _random

from damoc.data.base import FILTERS, FilterRecord, KeepParams, StageContext
from damoc.registry import Method
from damoc.tasks.example import Example


@FILTERS.register("random")
class RandomFilter(Method):
    """Keep a uniform random subset of the training set (the baseline of DaMoC, arXiv 2509.01221)."""

    class Params(KeepParams):
        """``keep_ratio`` or ``keep_count`` only."""

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Seeded uniform sample of ``keep_ratio * len(examples)`` indices.

        Records each kept example's position in the seeded draw (``draw_order``, 0 first) and names
        every other example as not drawn.
        """
        n = len(examples)
        k = self.params.kept_of(n)
        drawn = _random.Random(ctx.seed).sample(range(n), k)
        order: list[float | None] = [None] * n
        for position, i in enumerate(drawn):
            order[i] = float(position)
        reasons = {i: f"not drawn (a seeded uniform sample of {k} of {n})" for i in range(n) if order[i] is None}
        self.record = FilterRecord("draw_order", order, {"not_drawn": n - k}, reasons)
        return sorted(drawn)


def seeded_subset(indices: list[int], k: int, seed: int) -> list[int]:
    """A seeded uniform sample of ``k`` of ``indices``, sorted (all of them when ``k`` is at least their count).

    The dedup and rule filters use it to honour ``keep_ratio`` as a cap on what their thresholds keep.
    """
    if k >= len(indices):
        return sorted(indices)
    return sorted(_random.Random(seed).sample(indices, k))
