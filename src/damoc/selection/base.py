"""Contract of stage 5: the ranking (``ranking.json``) and its rows. Torch-free, like all of selection.

Baselines have their own contract in :mod:`damoc.selection.baselines.base`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CandidateResult(BaseModel):
    """One candidate's row of the ranking."""

    candidate: str
    rank: int = 0
    score: float
    score_low: float | None = Field(None, description="95% bootstrap interval of the score over eval examples")
    score_high: float | None = None
    metrics: dict[str, float]
    tied_with: list[str] = Field(default_factory=list, description="candidates with exactly the same score")
    seconds: dict[str, float] = Field(default_factory=dict, description="per stage: model, train, eval")
    layers_before: int | None = None
    layers_after: int | None = None
    params_before: int | None = None
    params_after: int | None = None
    train_examples: int | None = None
    train_tokens: int | None = None


class PairDifference(BaseModel):
    """Score difference of two neighbours in the ranking, with its paired 95% bootstrap interval."""

    upper: str
    lower: str
    difference: float
    low: float
    high: float

    @property
    def is_tie(self) -> bool:
        """The interval covers 0: the data cannot tell the two apart."""
        return self.low <= 0.0 <= self.high


class BaselineResult(BaseModel):
    """How a selection baseline orders the same candidates."""

    baseline: str
    scores: dict[str, float]
    order: list[str] = Field(description="best first; equal scores keep the config's candidate order")
    pick: str = Field("", description="the baseline's choice (first of order)")
    tied_for_top: list[str] = Field(
        default_factory=list,
        description="candidates the baseline scores exactly as high as its pick (its pick is arbitrary among them)",
    )
    picks_same_top: bool = Field(description="the pick is the proxy ranking's first candidate")
    picks_in_top_group: bool = Field(
        False, description="the pick lies in the proxy's statistical tie group of the leader"
    )


class Ranking(BaseModel):
    """The output of stage 5 (``ranking.json``)."""

    rank_by: str
    candidates: list[CandidateResult]
    neighbours: list[PairDifference] = Field(
        default_factory=list, description="each adjacent pair's difference with its 95% interval"
    )
    top_group: list[str] = Field(
        default_factory=list,
        description="the leader and every candidate whose paired difference with it covers 0 (a statistical tie)",
    )
    cluster_by: str = Field("none", description="examples resampled together in the bootstrap")
    num_examples: int | None = Field(None, description="eval examples behind the intervals")
    eval_examples_used: int | None = Field(
        None, description="sequential evaluation: eval examples every candidate was scored on (None: the whole split)"
    )
    eval_rounds: int | None = Field(None, description="sequential evaluation: rounds run before the stop")
    baselines: list[BaselineResult] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="data stage summary")

    @property
    def best(self) -> str:
        """The first candidate; check :attr:`top_group` (or :attr:`is_tie`) before trusting it alone."""
        return self.candidates[0].candidate

    @property
    def is_tie(self) -> bool:
        """More than one candidate is statistically tied for first (or exactly tied without intervals)."""
        return len(self.top_group) > 1 or bool(self.candidates and self.candidates[0].tied_with)
