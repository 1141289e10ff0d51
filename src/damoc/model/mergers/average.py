"""``average``: add the removed layers' differences from their nearest kept layer, scaled (LaCo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from damoc.model.base import MERGERS
from damoc.model.mergers.deltas import fold_deltas
from damoc.registry import Method, MethodParams


@MERGERS.register("average")
class Average(Method):
    """LaCo-style merge: add the removed layers' scaled differences to the kept neighbour (Yang et al. 2024, arXiv 2402.11187).

    LaCo's Reserving-Differences-while-Seeking-Common merge folds layers into one as
    ``W_t + sum_r (W_r - W_t)``. Here each kept layer t receives its nearest removed layers r with
    ``W_t += scale * sum_r (W_r - W_t)``: ``scale=1`` is LaCo's full addition, ``scale=1/(k+1)``
    for k merged layers is the plain average of the k+1 layers, and ``scale=0`` is plain removal.
    Dense and deterministic (no seed). Neighbouring layers of a pretrained model differ a lot, so
    the default is as small as ``dare_ties``'s weight.
    """

    class Params(MethodParams):
        scale: float = Field(0.1, ge=0, le=2, description="factor on the summed layer differences; 0 = plain removal")

    params: Params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Add the scaled differences of the removed layers to their nearest kept layers, in place."""
        return fold_deltas(layers, removed, sum_deltas, self.params.scale)


def sum_deltas(deltas: list[Any]) -> Any:
    """``sum_r d_r``, the dense combination of LaCo."""
    import torch

    return torch.stack(deltas).sum(dim=0)
