"""Selection baselines: other ways to pick a candidate, compared against the proxy ranking.

Each baseline scores every candidate (higher is better) from artefacts already in the run folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from damoc.artifacts import RunLayout


class Baseline(Protocol):
    """Scores candidates without proxy fine-tuning."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]: ...


from damoc.selection.baselines import model_size, zero_shot  # noqa: E402,F401  (registers the methods)
