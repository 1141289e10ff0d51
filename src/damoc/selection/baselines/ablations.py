"""Ablations of the proxy: data compression only, and model compression only, at the proxy's compute.

DaMoC (arXiv 2509.01221) compresses both the data and the model; these two baselines keep one of
the two and undo the other, so a run shows what each half contributes to the pick:

- ``data_only``: the uncompressed candidate LoRA-tuned on the proxy's compressed training data for
  the proxy's training compute (tokens x layers: ``round(S * L_after / L_before)`` steps).
- ``model_only``: the compressed candidate (the proxy's layers removed and merged) LoRA-tuned for
  the proxy's ``S`` steps on as many random training examples as the proxy trained on.
"""

from __future__ import annotations

from damoc.artifacts import RunLayout
from damoc.registry import Method
from damoc.selection.baselines.base import BASELINES, eval_report_scores


@BASELINES.register("data_only")
class DataOnly(Method):
    """Rank by the full candidate tuned on the compressed data at the proxy's compute (DaMoC's ablation, arXiv 2509.01221)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's ``models/<name>/data_only`` evaluation."""
        return eval_report_scores({n: layout.ablation_report(n, "data_only") for n in names}, rank_by, "data_only")


@BASELINES.register("model_only")
class ModelOnly(Method):
    """Rank by the compressed candidate tuned on random data at the proxy's steps (DaMoC's ablation, arXiv 2509.01221)."""

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """The rank_by metric of each candidate's ``models/<name>/model_only`` evaluation."""
        return eval_report_scores({n: layout.ablation_report(n, "model_only") for n in names}, rank_by, "model_only")
