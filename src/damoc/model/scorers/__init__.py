"""Layer scorers: each module registers one method in :data:`damoc.model.base.SCORERS`."""

from damoc.model.scorers import angular, block_influence

__all__ = ["angular", "block_influence"]
