"""Shared maths of the delta mergers: layer differences, DARE drop, magnitude trim, sign election.

A merger folds each removed layer r into its nearest kept layer t (:func:`damoc.model.base.merge_targets`)
through the per-parameter differences ``delta_r = W_r - W_t``: :func:`fold_deltas` computes them in
fp32 and adds ``weight * combine(deltas)`` to ``W_t``; each merger supplies its own ``combine`` from
the plain functions here. No torch at import time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from damoc.model.base import merge_targets

log = logging.getLogger(__name__)

Combine = Callable[[list[Any]], Any]
"""Turns the fp32 deltas of one parameter (one per removed layer) into the delta added to the kept layer."""


def fold_deltas(layers: Sequence[Any], removed: Sequence[int], combine: Combine, weight: float) -> dict[int, list[int]]:
    """``W_t += weight * combine([W_r - W_t for r merged into t])`` for every parameter of every kept target t.

    Args:
        layers: the decoder layers, before removal; the kept ones are modified in place.
        removed: indices of the layers about to be removed.
        combine: maps the fp32 deltas of one parameter to one delta of the same shape; it is called
            in a fixed order (targets ascending by first source, parameters in module order, sources
            ascending), so a seeded generator inside it gives the same merge every time.
        weight: scale of the combined delta; 0 leaves every layer as it is.

    Returns:
        kept index -> removed indices merged into it (also when ``weight`` is 0).
    """
    import torch

    targets = merge_targets(len(layers), removed)
    if weight == 0:
        return targets
    with torch.no_grad():
        for target, sources in targets.items():
            params = dict(layers[target].named_parameters())
            others = [dict(layers[s].named_parameters()) for s in sources]
            for name, param in params.items():
                # fp32 differences: a bf16 subtraction of two close weights loses most of its bits
                deltas = [other[name].float() - param.float() for other in others]
                param.add_(combine(deltas).to(param.dtype), alpha=weight)
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


def keep_largest(delta: Any, density: float) -> Any:
    """Zero all but the ``round(density * numel)`` largest-magnitude entries (TIES "trim").

    Equal magnitudes are kept in flat index order, so the result never depends on the sort kernel.
    """
    import torch

    count = round(density * delta.numel())
    if count >= delta.numel():
        return delta
    flat = delta.flatten()
    order = torch.argsort(flat.abs(), descending=True, stable=True)
    mask = torch.zeros_like(flat, dtype=torch.bool)
    mask[order[:count]] = True
    return (flat * mask).view_as(delta)


def elect_sign(stacked: Any) -> Any:
    """TIES sign election: ``sign(sum_k d_k)``, the sign with the larger total mass (0 where it cancels)."""
    import torch

    return torch.sign(stacked.sum(dim=0))


def agreeing(stacked: Any, sign: Any) -> Any:
    """Mask of the nonzero entries whose sign equals the elected ``sign`` (zeros, e.g. dropped ones, never agree)."""
    import torch

    return (torch.sign(stacked) == sign) & (stacked != 0)


def ties_merge(deltas: list[Any]) -> Any:
    """TIES: elect each entry's sign by summed magnitude, then average the nonzero deltas that agree with it.

    Entries of the other sign and zeros do not count in the mean ("disjoint mean"); an entry with no
    agreeing delta, or a zero sum, merges as 0.
    """
    import torch

    stacked = torch.stack(deltas)
    agree = agreeing(stacked, elect_sign(stacked))
    return (stacked * agree).sum(dim=0) / agree.sum(dim=0).clamp(min=1)
