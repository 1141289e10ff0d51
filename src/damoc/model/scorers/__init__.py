"""Layer scorers: each module registers one method in ``registry("scorer")``."""

from damoc.model.scorers import angular, block_influence

__all__ = ["angular", "block_influence"]
