"""The selection-baseline contract and its registry (no torch at import).

A baseline scores every candidate (higher is better) from artefacts already in the run folder; each
one registers in :data:`BASELINES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from damoc.registry import Registry

if TYPE_CHECKING:
    from damoc.artifacts import RunLayout


class Baseline(Protocol):
    """Scores candidates without proxy fine-tuning."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """Each candidate's score for ``rank_by`` (higher is better), keyed by candidate name."""
        ...


@runtime_checkable
class ExplainedBaseline(Baseline, Protocol):
    """A baseline that also records the evidence behind its scores (``details`` in ``ranking.json``)."""

    def details(self, layout: RunLayout, names: list[str]) -> dict[str, Any]:
        """JSON-ready evidence per candidate (e.g. ats: the measured curve, the accepted points, the cost)."""
        ...


BASELINES: Registry[Baseline] = Registry("baseline", "damoc.selection.baselines")


def eval_report_scores(paths: dict[str, Path], rank_by: str, baseline: str) -> dict[str, float]:
    """The ``rank_by`` metric of each candidate's evaluation report; a missing one names the baseline."""
    from damoc.errors import DamocError
    from damoc.reports import EvalReport, read_stage_report

    out = {}
    for name, path in paths.items():
        if not path.is_file():
            raise DamocError(f"{baseline} baseline: {path} is missing; the pipeline runs it when listed in baselines")
        out[name] = float(read_stage_report(path, EvalReport).metrics[rank_by])
    return out
