"""Layer mergers: each module registers one method in :data:`damoc.model.base.MERGERS`."""

from damoc.model.mergers import dare_ties, none

__all__ = ["dare_ties", "none"]
