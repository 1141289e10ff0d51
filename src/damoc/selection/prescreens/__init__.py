"""Zero-cost pre-screens: rank the full candidates from one forward pass over a training sample.

The contract and the registry are in :mod:`damoc.selection.prescreens.base`; the run is
:mod:`damoc.prescreen`.
"""

from damoc.selection.prescreens import logme, perplexity, zero_shot
from damoc.selection.prescreens.base import PRESCREENS, Prescreen

__all__ = ["PRESCREENS", "Prescreen", "logme", "perplexity", "zero_shot"]
