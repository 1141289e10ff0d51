"""``none``: plain layer removal, nothing is merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from damoc.model.base import MERGERS
from damoc.registry import Method


@MERGERS.register("none")
class NoMerge(Method):
    """Plain removal: the removed layers are dropped unchanged (ShortGPT, Men et al. 2024, arXiv 2403.03853)."""

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Leave every layer as it is."""
        return {}
