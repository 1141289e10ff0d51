"""Layer scorers: each module registers one method in :data:`damoc.model.base.SCORERS`."""

from damoc.model.scorers import (
    angular,
    angular_all_tokens,
    angular_answer,
    block_influence,
    block_influence_answer,
    perplexity_drop,
)

__all__ = [
    "angular",
    "angular_all_tokens",
    "angular_answer",
    "block_influence",
    "block_influence_answer",
    "perplexity_drop",
]
