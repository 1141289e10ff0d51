"""``ties``: trim the removed layers' deltas by magnitude, elect signs, add the disjoint mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS, merge_targets
from damoc.model.mergers.deltas import fold_deltas, keep_largest, ties_merge
from damoc.registry import Method, MethodParams


@MERGERS.register("ties")
class Ties(Method):
    """TIES merge of removed layers into kept neighbours: trim, elect sign, disjoint mean (Yadav et al. 2023, arXiv 2306.01708).

    For a kept layer t receiving removed layers r (its nearest) each parameter's deltas
    ``d_r = W_r - W_t`` are trimmed to their ``round(density * n)`` largest magnitudes (``d'_r``);
    each entry's sign is elected as ``s = sign(sum_r d'_r)`` and the merged delta is the mean of the
    ``d'_r`` entries of sign ``s`` (zeros and the other sign do not count); then
    ``W_t += weight * merged``. Deterministic: no seed is used. ``density=0`` (or ``weight=0``) is
    plain removal. Defaults match ``dare_ties``.
    """

    class Params(MethodParams):
        density: float = Field(
            0.3, ge=0, le=1, description="fraction of each delta's largest-magnitude entries kept; 0 = plain removal"
        )
        weight: float = Field(0.1, ge=0, le=2, description="scale of the merged delta added to the kept layer")

    params: Params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Add the trimmed, sign-elected mean delta of the removed layers to their nearest kept layers, in place."""
        density = self.params.density
        if density == 0:
            return merge_targets(len(layers), removed)
        return fold_deltas(
            layers, removed, lambda deltas: ties_merge([keep_largest(d, density) for d in deltas]), self.params.weight
        )
