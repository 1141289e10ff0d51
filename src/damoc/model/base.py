"""Contracts of the stage-2 plug-ins: layer scorers and layer mergers (no torch at import).

Each method registers in :data:`SCORERS` or :data:`MERGERS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import Field

from damoc.errors import ModelError
from damoc.progress import ProgressFn
from damoc.registry import MethodParams, Registry


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
        self,
        model: Any,
        batches: Sequence[dict[str, Any]],
        num_remove: int,
        progress: ProgressFn | None,
        loss_batches: Sequence[dict[str, Any]] | None = None,
    ) -> LayerScores:
        """Run the calibration batches through ``model`` and return scores and removed indices.

        Args:
            model: the uncompressed causal LM.
            batches: prompt + target text of the calibration examples (``input_ids``, ``attention_mask``).
            num_remove: how many layers to remove.
            progress: called as the scoring advances.
            loss_batches: the same examples with the prompt masked in ``labels``
                (:func:`damoc.model.tolerance.answer_batches`); task-aware scorers need them, others ignore them.
        """
        ...


class ScorerParams(MethodParams):
    """Params every layer scorer takes: the outermost layers it must never remove."""

    protect_first: int = Field(0, ge=0, description="never remove the first k decoder layers")
    protect_last: int = Field(0, ge=0, description="never remove the last k decoder layers")


class LayerMerger(Protocol):
    """Folds the layers about to be removed into the layers that stay (before removal)."""

    name: ClassVar[str]

    def merge(self, layers: Sequence[Any], removed: Sequence[int], seed: int) -> dict[int, list[int]]:
        """Modify kept layers in place; return kept index -> removed indices merged into it."""
        ...


SCORERS: Registry[LayerScorer] = Registry("scorer", "damoc.model.scorers")
MERGERS: Registry[LayerMerger] = Registry("merger", "damoc.model.mergers")


def removable_layers(num_layers: int, num_remove: int, params: ScorerParams) -> range:
    """The layers a scorer may remove: all but the first ``protect_first`` and last ``protect_last``.

    Raises:
        ModelError: fewer than ``num_remove`` layers are left unprotected.
    """
    allowed = range(params.protect_first, max(params.protect_first, num_layers - params.protect_last))
    if len(allowed) < num_remove:
        raise ModelError(
            f"model.scorer.params protect_first={params.protect_first} and protect_last={params.protect_last} "
            f"leave {len(allowed)} of {num_layers} layers removable; {num_remove} must be removed "
            f"(allowed: protect_first + protect_last <= {num_layers - num_remove})"
        )
    return allowed


def require_loss_batches(name: str, loss_batches: Sequence[dict[str, Any]] | None) -> Sequence[dict[str, Any]]:
    """``loss_batches``, or a ValueError saying that scorer ``name`` needs the labelled calibration batches."""
    if loss_batches is None or any("labels" not in b for b in loss_batches):
        raise ValueError(
            f"scorer {name!r} needs loss_batches: the calibration examples with labels "
            "(damoc.model.tolerance.answer_batches)"
        )
    return loss_batches


def lowest(scores: Sequence[float], count: int, allowed: Sequence[int] | None = None) -> list[int]:
    """Indices of the ``count`` lowest scores among ``allowed`` (default all), sorted ascending (ties: lower index)."""
    pool = range(len(scores)) if allowed is None else allowed
    order = sorted(pool, key=lambda i: (scores[i], i))
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
