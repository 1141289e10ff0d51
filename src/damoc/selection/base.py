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
    metrics: dict[str, float]
    tied_with: list[str] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict, description="per stage: model, train, eval")
    layers_before: int | None = None
    layers_after: int | None = None
    params_before: int | None = None
    params_after: int | None = None
    train_examples: int | None = None
    train_tokens: int | None = None


class BaselineResult(BaseModel):
    """How a selection baseline orders the same candidates."""

    baseline: str
    scores: dict[str, float]
    order: list[str]
    picks_same_top: bool


class Ranking(BaseModel):
    """The output of stage 5 (``ranking.json``)."""

    rank_by: str
    candidates: list[CandidateResult]
    baselines: list[BaselineResult] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="data stage summary")

    @property
    def best(self) -> str:
        return self.candidates[0].candidate
