"""Pick the largest candidate: the rule of thumb that damoc has to beat."""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.registry import Method
from damoc.reports import ProxyReport, read_stage_report
from damoc.selection.baselines.base import BASELINES


@BASELINES.register("model_size")
class ModelSize(Method):
    """Rank candidates by parameter count (bigger first), the "scaling law" prior (Kaplan et al. 2020)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """Parameters of each unpruned candidate, from its ``layers.json``."""
        out = {}
        for name in names:
            path = layout.proxy_report(name)
            if not path.is_file():
                raise DamocError(f"model_size baseline: {path} is missing; run the model stage first")
            out[name] = float(read_stage_report(path, ProxyReport).params_before)
        return out
