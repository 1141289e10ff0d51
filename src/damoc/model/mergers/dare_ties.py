"""``dare_ties``: fold each removed layer into its nearest kept layer as a sparse, sign-elected delta."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS, merge_targets
from damoc.registry import Method, MethodParams

log = logging.getLogger(__name__)


@MERGERS.register("dare_ties")
class DareTies(Method):
    """Sparse merging of removed layers into kept neighbours with DARE + TIES (DaMoC, Huang et al. 2025, arXiv 2509.01221).

    DaMoC keeps a pruned model's ability by sparsely merging the removed layers into the remaining
    ones. For a kept layer t receiving removed layers r (its nearest, as in LaCo, Yang et al. 2024,
    arXiv 2402.11187) each parameter gets ``W_t += weight * ties(dare(W_r - W_t))``: DARE (Yu et al.
    2023, arXiv 2311.03099) keeps a random ``density`` fraction of each delta and rescales it by
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

        targets = merge_targets(len(layers), removed)
        if self.params.density == 0 or self.params.weight == 0:
            return targets
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for target, sources in targets.items():
                params = dict(layers[target].named_parameters())
                others = [dict(layers[s].named_parameters()) for s in sources]
                for name, param in params.items():
                    deltas = [dare_drop(o[name] - param, self.params.density, gen) for o in others]
                    param.add_(ties_merge(deltas).to(param.dtype), alpha=self.params.weight)
        log.debug("merged %s", targets)
        return targets


def dare_drop(delta: Any, density: float, generator: Any) -> Any:
    """DARE: keep each entry with probability ``density`` and rescale the kept ones by ``1/density`` (fp32).

    The rescale keeps the expectation: ``E[dare_drop(d)] = density * d / density = d``; density 0
    drops everything (plain removal).
    """
    import torch

    if density <= 0:
        return torch.zeros_like(delta, dtype=torch.float32)
    if density >= 1:
        return delta.float()
    keep = (torch.rand(delta.shape, generator=generator) < density).to(delta.device)
    return delta.float() * keep / density


def ties_merge(deltas: list[Any]) -> Any:
    """TIES: elect each entry's sign by summed magnitude, then average the nonzero deltas that agree with it.

    ``sign(sum_k d_k)`` is the sign with the larger total mass; entries of the other sign (and zeros,
    e.g. dropped by DARE) do not count in the mean ("disjoint mean"); an entry with no agreeing
    delta, or a zero sum, merges as 0.
    """
    import torch

    stacked = torch.stack(deltas)
    sign = torch.sign(stacked.sum(dim=0))
    agree = (torch.sign(stacked) == sign) & (stacked != 0)
    total = (stacked * agree).sum(dim=0)
    return total / agree.sum(dim=0).clamp(min=1)
