"""Layer mergers: each module registers one method in :data:`damoc.model.base.MERGERS`.

:mod:`damoc.model.mergers.deltas` holds the maths they share and registers nothing.
"""

from damoc.model.mergers import average, dare, dare_ties, none, same_sign, ties

__all__ = ["average", "dare", "dare_ties", "none", "same_sign", "ties"]
