"""The selection-baseline contract and its registry (no torch at import).

A baseline scores every candidate (higher is better) from artefacts already in the run folder; each
one registers in :data:`BASELINES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from damoc.registry import Registry

if TYPE_CHECKING:
    from damoc.artifacts import RunLayout


class Baseline(Protocol):
    """Scores candidates without proxy fine-tuning."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """Each candidate's score for ``rank_by`` (higher is better), keyed by candidate name."""
        ...


BASELINES: Registry[Baseline] = Registry("baseline", "damoc.selection.baselines")
