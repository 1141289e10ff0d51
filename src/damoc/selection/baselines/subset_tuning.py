"""Pick the candidate that does best when the full model is tuned on a random subset at the proxy's compute."""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.registry import Method
from damoc.reports import EvalReport, read_stage_report
from damoc.selection.baselines.base import BASELINES


@BASELINES.register("subset_tuning")
class SubsetTuning(Method):
    """Rank by the full model LoRA-tuned on a random subset at the proxy's compute (AtS's SubTuning, Lin et al. 2024)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's subset-tuned evaluation (``models/<name>/subset_tuning``)."""
        out = {}
        for name in names:
            path = layout.subset_tuning_report(name)
            if not path.is_file():
                raise DamocError(
                    f"subset_tuning baseline: {path} is missing; the pipeline runs it when listed in baselines"
                )
            out[name] = float(read_stage_report(path, EvalReport).metrics[rank_by])
        return out
