"""Pick the candidate that scores best before any fine-tuning."""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.registry import Method
from damoc.reports import EvalReport, read_stage_report
from damoc.selection.baselines.base import BASELINES


@BASELINES.register("zero_shot")
class ZeroShot(Method):
    """Rank candidates by the full model's score with no fine-tuning (DaMoC's zero-shot baseline, arXiv 2509.01221)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's zero-shot evaluation (``models/<name>/zero_shot``)."""
        out = {}
        for name in names:
            path = layout.zero_shot_report(name)
            if not path.is_file():
                raise DamocError(
                    f"zero_shot baseline: {path} is missing; the pipeline runs it when listed in baselines"
                )
            out[name] = float(read_stage_report(path, EvalReport).metrics[rank_by])
        return out
