"""Stage 5: rank the candidates from their proxy results. Never imports torch."""

from damoc.selection.stage import CandidateResult, Ranking, rank_candidates

__all__ = ["CandidateResult", "Ranking", "rank_candidates"]
