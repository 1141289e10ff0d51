"""``dare_ties``: fold each removed layer into its nearest kept layer as a sparse, sign-elected delta."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS, merge_targets
from damoc.model.mergers.deltas import dare_drop, fold_deltas, ties_merge
from damoc.registry import Method, MethodParams


@MERGERS.register("dare_ties")
class DareTies(Method):
    """Sparse merging of removed layers into kept neighbours with DARE + TIES (DaMoC, Huang et al. 2025, arXiv 2509.01221).

    DaMoC keeps a pruned model's ability by sparsely merging the removed layers into the remaining
    ones. For a kept layer t receiving removed layers r (its nearest, as in LaCo, Yang et al. 2024,
    arXiv 2402.11187) each parameter gets ``W_t += weight * ties(dare(W_r - W_t))``: DARE (Yu et al.
    2024, arXiv 2311.03099) keeps a random ``density`` fraction of each delta and rescales it by
    ``1/density``; TIES (Yadav et al. 2023, arXiv 2306.01708) elects one sign per entry and averages
    the deltas that agree with it. ``density=0`` (or ``weight=0``) is plain removal.

    Neighbouring layers are not fine-tunes of one another, so their deltas are large: on SmolLM2-135M
    (8 of 30 layers removed) a weight of 1 (LaCo's full addition) wrecks the proxy, hence the small
    default weight.
    """

    class Params(MethodParams):
        density: float = Field(
            0.3, ge=0, le=1, description="fraction of each layer delta kept (DARE); 0 = plain removal"
        )
        weight: float = Field(0.1, ge=0, le=2, description="scale of the merged delta added to the kept layer")

    params: Params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Add the sparse deltas of the removed layers to their nearest kept layers, in place."""
        import torch

        density = self.params.density
        if density == 0:
            return merge_targets(len(layers), removed)
        gen = torch.Generator().manual_seed(seed)
        return fold_deltas(
            layers, removed, lambda deltas: ties_merge([dare_drop(d, density, gen) for d in deltas]), self.params.weight
        )
