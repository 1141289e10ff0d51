"""``dare``: add the removed layers' randomly dropped and rescaled deltas to their nearest kept layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS, merge_targets
from damoc.model.mergers.deltas import dare_drop, fold_deltas
from damoc.registry import Method, MethodParams


@MERGERS.register("dare")
class Dare(Method):
    """DARE merge of removed layers into kept neighbours: drop and rescale the deltas (Yu et al. 2024, arXiv 2311.03099).

    For a kept layer t receiving removed layers r (its nearest) each parameter gets
    ``W_t += weight * sum_r m_r * (W_r - W_t) / (1 - p)`` with ``m_r ~ Bernoulli(1 - p)`` per entry:
    DARE drops a fraction ``p`` of each delta at random and rescales the rest by ``1/(1 - p)`` so the
    expected delta is unchanged, then adds the deltas as task arithmetic does. Here
    ``density = 1 - p``; ``density=0`` (or ``weight=0``) is plain removal. The mask is drawn from the
    run's seed, so one seed gives one merge. Defaults match ``dare_ties``.
    """

    class Params(MethodParams):
        density: float = Field(0.3, ge=0, le=1, description="fraction 1 - p of each delta kept; 0 = plain removal")
        weight: float = Field(0.1, ge=0, le=2, description="scale of the summed delta added to the kept layer")

    params: Params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Add the dropped and rescaled deltas of the removed layers to their nearest kept layers, in place."""
        import torch

        density = self.params.density
        if density == 0:
            return merge_targets(len(layers), removed)
        gen = torch.Generator().manual_seed(seed)
        return fold_deltas(
            layers, removed, lambda deltas: sum(dare_drop(d, density, gen) for d in deltas), self.params.weight
        )
