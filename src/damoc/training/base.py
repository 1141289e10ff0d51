"""Contract of stage 3: the tokenised training example every trainer consumes.

The stage entry is :func:`damoc.training.stage.train_proxy`, which writes a
:class:`damoc.reports.TrainReport`; the loss is taken only on target tokens, so prompt and padding
tokens carry :data:`IGNORE_INDEX`.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = -100
"""Label of tokens that carry no loss (prompt and padding), as torch's cross-entropy expects."""


@dataclass(frozen=True)
class Feature:
    """One tokenised training example."""

    input_ids: list[int]
    labels: list[int]

    @property
    def num_targets(self) -> int:
        """Tokens that carry loss (target + eos)."""
        return sum(1 for t in self.labels if t != IGNORE_INDEX)
