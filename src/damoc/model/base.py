"""Contracts of the stage-2 plug-ins: layer scorers and layer mergers (no torch at import).

Each method registers in :data:`SCORERS` or :data:`MERGERS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from damoc.progress import ProgressFn
from damoc.registry import Registry


@dataclass(frozen=True)
class LayerScores:
    """A scorer's verdict: one importance score per layer (higher = keep) and the layers to remove."""

    scores: list[float]
    removed: list[int]
    tokens: int


class LayerScorer(Protocol):
    """Scores decoder layers on calibration batches and picks ``num_remove`` of them to remove."""

    name: ClassVar[str]

    def score(
        self, model: Any, batches: Sequence[dict[str, Any]], num_remove: int, progress: ProgressFn | None
    ) -> LayerScores:
        """Run the calibration batches through ``model`` and return scores and removed indices."""
        ...


class LayerMerger(Protocol):
    """Folds the layers about to be removed into the layers that stay (before removal)."""

    name: ClassVar[str]

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Modify kept layers in place; return kept index -> removed indices merged into it."""
        ...


SCORERS: Registry[LayerScorer] = Registry("scorer", "damoc.model.scorers")
MERGERS: Registry[LayerMerger] = Registry("merger", "damoc.model.mergers")


def lowest(scores: Sequence[float], count: int) -> list[int]:
    """Indices of the ``count`` lowest scores, sorted ascending (ties broken by the lower index)."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i))
    return sorted(order[:count])


def merge_targets(num_layers: int, removed: Sequence[int]) -> dict[int, list[int]]:
    """Assign each removed layer to its nearest kept layer (the preceding one on ties)."""
    gone = set(removed)
    kept = [i for i in range(num_layers) if i not in gone]
    out: dict[int, list[int]] = {}
    for r in sorted(gone):
        target = min(kept, key=lambda k: (abs(k - r), k > r))
        out.setdefault(target, []).append(r)
    return out
