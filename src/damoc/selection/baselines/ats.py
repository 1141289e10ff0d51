"""Pick the candidate whose test loss, extrapolated from fine-tunes on nested subsets, is lowest at the full size.

The training runs in :mod:`damoc.training.ats` (``models/<name>/ats_subsets/<size>/``) and leaves each
candidate's curve in ``models/<name>/ats/ats.json``; this baseline fits Accept-then-Stop to it
(:func:`damoc.selection.ats.predict_loss_ats`). Torch-free.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.registry import Method
from damoc.reports import AtsReport, read_stage_report
from damoc.selection.ats import AtsParams, power_phase_start, predict_loss_ats
from damoc.selection.baselines.base import BASELINES


class AtsBaselineParams(AtsParams):
    """Accept-then-Stop (k, delta) and the subsets it is fed (Lin et al., ICML 2024, arXiv 2402.02314)."""

    min_examples: int = Field(8, ge=1, description="smallest subset size (the halving chain stops above it)")
    compute_ratio: float = Field(
        1.0, gt=0, description="training budget of all subsets together, in units of the proxy's (tokens x layers)"
    )
    test_examples: int | None = Field(
        None,
        ge=1,
        description="score each subset's test loss on the first N eval examples in sequential evaluation's "
        "seeded, cluster-spread order (e.g. evaluation.sequential_max_examples, the proxies' cap); "
        "None: the whole eval split",
    )


def read_curves(layout: RunLayout, names: list[str]) -> dict[str, AtsReport]:
    """Each candidate's ``ats.json``; a missing one says how to produce it."""
    out = {}
    for name in names:
        path = layout.ats_report(name)
        if not path.is_file():
            raise DamocError(f"ats baseline: {path} is missing; the pipeline runs it when listed in baselines")
        out[name] = read_stage_report(path, AtsReport)
    return out


@BASELINES.register("ats")
class Ats(Method):
    """Rank by the loss at the full data size that Accept-then-Stop predicts from nested subsets (Lin et al. 2024)."""

    Params = AtsBaselineParams
    params: AtsBaselineParams

    def score(self, layout: RunLayout, names: list[str], rank_by: str) -> dict[str, float]:
        """Minus each candidate's predicted test loss at the whole training split's size (``rank_by`` unused)."""
        curves = read_curves(layout, names)
        return {n: -predict_loss_ats(c.sizes, c.losses, c.full_size, self.params) for n, c in curves.items()}

    def details(self, layout: RunLayout, names: list[str]) -> dict[str, Any]:
        """Per candidate: the measured curve, the points AtS accepted, its prediction and the training cost."""
        out: dict[str, Any] = {}
        for name, c in read_curves(layout, names).items():
            start = power_phase_start(c.sizes, c.losses, self.params)
            out[name] = {
                "sizes": c.sizes,
                "losses": c.losses,
                "accepted_sizes": c.sizes[start:],
                "full_size": c.full_size,
                "predicted_loss": predict_loss_ats(c.sizes, c.losses, c.full_size, self.params),
                "token_layers": c.token_layers,
                "budget_token_layers": c.budget_token_layers,
            }
        return out
