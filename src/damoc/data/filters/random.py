"""``random``: a uniform random subset, the baseline every other filter must beat."""

from __future__ import annotations

import random as _random

from pydantic import BaseModel, Field

from damoc.data.base import PARAMS_CONFIG, StepContext, keep_count
from damoc.registry import registry
from damoc.tasks.example import Example


@registry("filter").register("random")
class RandomFilter:
    """Keep a uniform random subset of the training set (the baseline of DaMoC, arXiv 2509.01221)."""

    class Params(BaseModel):
        model_config = PARAMS_CONFIG

        keep_ratio: float = Field(0.2, gt=0, le=1, description="fraction of the training examples kept")

    def __init__(self, params: Params) -> None:
        self.params = params

    def select(self, examples: list[Example], ctx: StepContext) -> list[int]:
        """Seeded uniform sample of ``keep_ratio * len(examples)`` indices."""
        k = keep_count(len(examples), self.params.keep_ratio)
        return sorted(_random.Random(ctx.seed).sample(range(len(examples)), k))
