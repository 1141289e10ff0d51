"""Contract of stage 5: the ranking (``ranking.json``) and its rows. Torch-free, like all of selection.

Baselines have their own contract in :mod:`damoc.selection.baselines.base`.
"""

from __future__ import annotations

from typing import Any, Literal

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


class FailedCandidate(BaseModel):
    """A candidate whose job failed: listed with its reason, left out of the order and the pick."""

    candidate: str
    status: Literal["failed"] = "failed"
    stage: str = Field(description="the stage that failed (model, train, evaluate)")
    kind: str = Field(description="error, out_of_memory or worker_died (its process was killed)")
    reason: str


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
    details: dict[str, Any] = Field(
        default_factory=dict, description="evidence per candidate, for baselines that record it (ats: curve, cost)"
    )


class PrescreenSummary(BaseModel):
    """The zero-cost pre-screen (``selection.prescreen``): its order, and who went on to the proxies."""

    method: str
    num_samples: int
    keep: int
    scores: dict[str, float] = Field(description="pre-screen score per candidate, higher is better")
    order: list[str] = Field(description="best first; equal scores keep the config order")
    kept: list[str] = Field(description="the top ``keep`` and any candidate tied with the last of them")
    screened_out: list[str] = Field(default_factory=list, description="skipped every later stage")


class FallbackPick(BaseModel):
    """``selection.fallback``: no proxy scored above guessing, so a zero-cost pre-screen of the full candidates picks."""

    method: str
    num_samples: int
    scores: dict[str, float] = Field(description="pre-screen score per ranked candidate, higher is better")
    order: list[str] = Field(description="best first; equal scores keep the proxy ranking's order")
    pick: str = Field(description="the pick of the run (first of order)")
    proxy_leader: str = Field(description="the proxies' leader, not above guessing")


class HalvingRound(BaseModel):
    """One round of successive halving: who trained for how many steps, their scores, who survived."""

    round: int
    steps: int = Field(description="optimizer steps of every proxy in this round")
    candidates: list[str]
    scores: dict[str, float]
    compute: dict[str, float] = Field(description="training tokens x proxy layers per candidate")
    kept: list[str] = Field(description="the upper half and any candidate tied with the last of it")
    kept_for_ties: list[str] = Field(default_factory=list, description="kept beyond the upper half: tied with it")


class HalvingSummary(BaseModel):
    """Successive halving (``selection.strategy``): the rounds and the compute against ``all``."""

    rounds: list[HalvingRound]
    max_steps: int = Field(description="training.max_steps: what every proxy trains for under 'all'")
    reached: dict[str, int] = Field(description="the last round each candidate trained in")
    compute_spent: float = Field(description="training tokens x proxy layers over every round")
    compute_all: float = Field(description="the same for 'all': max_steps at each proxy's tokens per step in round 0")
    compute_ratio: float = Field(description="compute_spent / compute_all")
    stopped: str = Field(description="why the rounds ended")


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
    chance: float | None = Field(
        None, description="multiple choice, acc / acc_norm: what guessing uniformly scores on the same examples"
    )
    above_chance: list[str] = Field(
        default_factory=list,
        description="candidates whose paired 95% interval against guessing lies above 0 (they learned something)",
    )
    baselines: list[BaselineResult] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="data stage summary")
    prescreen: PrescreenSummary | None = Field(None, description="the zero-cost pre-screen, when configured")
    halving: HalvingSummary | None = Field(None, description="successive halving's rounds, when configured")
    fallback: FallbackPick | None = Field(
        None, description="selection.fallback's pick, present only when no proxy scored above guessing"
    )
    failed: list[FailedCandidate] = Field(
        default_factory=list,
        description="candidates whose job failed (models/<name>/failed.json); a rerun retries them",
    )

    @property
    def best(self) -> str:
        """The first candidate; check :attr:`top_group` (or :attr:`is_tie`) before trusting it alone."""
        return self.candidates[0].candidate

    @property
    def leader_at_chance(self) -> bool:
        """Multiple choice with intervals: the leader does not score above guessing beyond noise."""
        return self.chance is not None and bool(self.num_examples) and self.best not in self.above_chance

    @property
    def pick(self) -> str:
        """The run's choice: :attr:`best`, or the fallback pre-screen's when no proxy learned the task."""
        return self.fallback.pick if self.fallback is not None else self.best

    @property
    def is_tie(self) -> bool:
        """More than one candidate is statistically tied for first (or exactly tied without intervals)."""
        return len(self.top_group) > 1 or bool(self.candidates and self.candidates[0].tied_with)
