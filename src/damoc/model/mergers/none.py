"""``none``: plain layer removal, nothing is merged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from damoc.registry import registry


@registry("merger").register("none")
class NoMerge:
    """Plain removal: the removed layers are dropped unchanged (ShortGPT, Men et al. 2024, arXiv 2403.03853)."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, params: Params) -> None:
        self.params = params

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Leave every layer as it is."""
        return {}
