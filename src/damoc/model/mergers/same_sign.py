"""``same_sign``: merge the largest removed-layer differences that agree with the elected sign."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS, merge_targets
from damoc.model.mergers.deltas import agreeing, elect_sign, fold_deltas, keep_largest
from damoc.registry import Method, MethodParams


@MERGERS.register("same_sign")
class SameSign(Method):
    """Same-sign sparse merge of removed layers into kept neighbours (DaMoC, Huang et al. 2025, arXiv 2509.01221).

    DaMoC's sparse-merging idea with TIES's sign election (Yadav et al. 2023, arXiv 2306.01708)
    applied before sparsification: for a kept layer t receiving removed layers r (its nearest), each
    parameter's deltas ``d_r = W_r - W_t`` elect ``s = sign(sum_r d_r)`` on the full deltas; the
    entries that agree with ``s`` are summed, ``a = sum_r d_r * [sign(d_r) = s]``, and only the
    ``round(density * n)`` largest magnitudes of ``a`` are kept: ``W_t += weight * top(a)``. Unlike
    ``ties`` the trim is global over the removed layers (not per layer) and the agreeing deltas add
    up rather than average. Deterministic (no seed); ``density=0`` (or ``weight=0``) is plain removal.
    """

    class Params(MethodParams):
        density: float = Field(
            0.3, ge=0, le=1, description="fraction of the agreeing sum's largest entries kept; 0 = plain removal"
        )
        weight: float = Field(0.1, ge=0, le=2, description="scale of the merged delta added to the kept layer")

    params: Params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Add the largest sign-agreeing deltas of the removed layers to their nearest kept layers, in place."""
        density = self.params.density
        if density == 0:
            return merge_targets(len(layers), removed)
        return fold_deltas(layers, removed, lambda deltas: same_sign_merge(deltas, density), self.params.weight)


def same_sign_merge(deltas: list[Any], density: float) -> Any:
    """Sum of the entries that agree with the elected sign, trimmed to its ``density`` largest magnitudes."""
    import torch

    stacked = torch.stack(deltas)
    summed = (stacked * agreeing(stacked, elect_sign(stacked))).sum(dim=0)
    return keep_largest(summed, density)
