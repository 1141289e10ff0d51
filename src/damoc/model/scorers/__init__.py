"""Layer scorers: each module registers one method in :data:`damoc.model.base.SCORERS`."""

from damoc.model.scorers import angular, angular_all_tokens, block_influence

__all__ = ["angular", "angular_all_tokens", "block_influence"]
