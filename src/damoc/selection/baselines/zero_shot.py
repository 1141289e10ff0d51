"""Pick the candidate that scores best before any fine-tuning."""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.registry import Method
from damoc.selection.baselines.base import BASELINES, eval_report_scores


@BASELINES.register("zero_shot")
class ZeroShot(Method):
    """Rank candidates by the full model's score with no fine-tuning (DaMoC's zero-shot baseline, arXiv 2509.01221)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's zero-shot evaluation (``models/<name>/zero_shot``)."""
        return eval_report_scores({n: layout.zero_shot_report(n) for n in names}, rank_by, "zero_shot")
