"""``none``: plain layer removal, nothing is merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.registry import NoParams, registry


@registry("merger").register("none")
class NoMerge:
    """Plain removal: the removed layers are dropped unchanged (ShortGPT, Men et al. 2024, arXiv 2403.03853)."""

    Params = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Leave every layer as it is."""
        return {}
