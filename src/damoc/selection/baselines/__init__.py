"""Selection baselines: other ways to pick a candidate, compared against the proxy ranking.

Each baseline scores every candidate (higher is better) from artefacts already in the run folder.
The contract and the registry are in :mod:`damoc.selection.baselines.base`.
"""

from damoc.selection.baselines import ablations, ats, model_size, subset_tuning, zero_shot
from damoc.selection.baselines.base import BASELINES, Baseline

__all__ = ["BASELINES", "Baseline", "ablations", "ats", "model_size", "subset_tuning", "zero_shot"]
