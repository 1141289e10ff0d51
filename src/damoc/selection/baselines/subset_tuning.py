"""Pick the candidate that does best when the full model is tuned on a random subset at the proxy's compute."""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.registry import Method
from damoc.selection.baselines.base import BASELINES, eval_report_scores


@BASELINES.register("subset_tuning")
class SubsetTuning(Method):
    """Rank by the full model LoRA-tuned on a random subset at the proxy's compute (AtS's SubTuning, Lin et al. 2024)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's subset-tuned evaluation (``models/<name>/subset_tuning``)."""
        return eval_report_scores({n: layout.subset_tuning_report(n) for n in names}, rank_by, "subset_tuning")
