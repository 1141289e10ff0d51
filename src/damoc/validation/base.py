"""Contract of validation: the ground truth's reports and ``validation.json``. Torch-free.

A ground truth (one candidate, full model, whole training set, the recipe's epochs) lives in the
cache as ``<cache>/ground_truth/<key>/result/`` with ``train.json`` (:class:`GroundTruthTrainReport`),
``eval.json`` (:class:`damoc.reports.EvalReport`), ``predictions.jsonl``, ``curve.json``
(:class:`CurvePoint` list) and the adapter; ``run_dir/validation/<candidate>/`` gets a copy of the
small files and a pointer to the entry. ``run_dir/validation.json`` is a :class:`ValidationReport`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from damoc.reports import StageReport

VALIDATION_FILE = "validation.json"
VALIDATION_DIR = "validation"
CURVE_FILE, POINTER_FILE, RESULT_DIR, ADAPTER_DIR = "curve.json", "ground_truth.json", "result", "adapter"


def validation_path(run_dir: Path) -> Path:
    """``run_dir/validation.json``."""
    return run_dir / VALIDATION_FILE


def validation_dir(run_dir: Path, candidate: str) -> Path:
    """``run_dir/validation/<candidate>/``: copies of the ground truth's small reports."""
    return run_dir / VALIDATION_DIR / candidate


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CurvePoint(_Frozen):
    """One learning-curve point: the model evaluated on the eval split after ``step`` optimizer steps."""

    step: int
    epoch: float = Field(description="epochs of training done (a curve fraction or an epoch end)")
    metrics: dict[str, float]
    train_loss: float | None = Field(None, description="mean training loss of the steps since the previous point")
    seconds: float = Field(description="evaluation wall seconds")


class GroundTruthTrainReport(StageReport):
    """What one ground-truth fine-tune did; written to ``train.json`` in its cache entry."""

    file_name: ClassVar[str] = "train.json"

    candidate: str
    cache_key: str
    method: Literal["lora", "full"]
    epochs: float
    steps: int
    steps_per_epoch: int
    train_examples: int
    max_seq_len: int
    tokens_seen: int
    target_tokens: int
    layers: int
    trainable_params: int
    total_params: int
    loss_first: float
    loss_last: float
    losses: list[float]
    seconds: float = Field(description="model load + training wall seconds (curve evaluations excluded)")
    load_seconds: float
    curve_seconds: float = Field(description="wall seconds spent on learning-curve evaluations")
    resumed_from_step: int = Field(description="0 for an uninterrupted run, else the checkpoint step resumed from")
    checkpoints: int = Field(description="checkpoints written")
    device: str
    dtype: str


class Score(_Frozen):
    """A score with its 95% bootstrap interval."""

    point: float
    low: float
    high: float


class CandidateValidation(_Frozen):
    """One candidate on both sides: proxy and ground truth."""

    candidate: str
    proxy_rank: int
    proxy_score: float
    truth_rank: int
    truth: Score
    truth_metrics: dict[str, float]
    in_truth_tie_group: bool
    curve: list[CurvePoint]
    proxy_seconds: dict[str, float] = Field(description="model, train, eval stage seconds (manifests)")
    truth_seconds: dict[str, float] = Field(description="train (load + training), eval (final evaluation)")
    proxy_token_layers: int | None = Field(description="proxy training tokens x proxy layers")
    truth_token_layers: int = Field(description="ground-truth training tokens x model layers")
    cache_entry: str = Field(description="the ground truth's cache folder (weights stay there)")


class Difference(_Frozen):
    """Paired bootstrap interval of ``upper - lower`` on the ground truth's per-example scores."""

    upper: str
    lower: str
    difference: Score


class PickCheck(_Frozen):
    """Whether a pick (the proxy's or a baseline's) is the ground truth's best candidate."""

    source: str = Field(description="proxy, or the baseline's name")
    pick: str
    strict: bool = Field(description="the pick has the highest ground-truth score")
    tie_aware: bool = Field(description="the pick is in the ground truth's tie group")
    relacc: float = Field(description="(truth[pick] - min) / (max - min), AtS accuracy form")


class Costs(_Frozen):
    """Wall seconds and a hardware-free measure (training tokens x layers) of each side, and the ratios."""

    proxy_seconds: dict[str, float] = Field(description="data, model, train, eval, total")
    truth_seconds: dict[str, float] = Field(description="train, eval, total")
    proxy_token_layers: int
    truth_token_layers: int
    speedup_train: float | None = Field(description="ground-truth training seconds / proxy training seconds")
    speedup_end_to_end: float | None = Field(description="ground-truth total seconds / proxy total seconds")
    speedup_token_layers: float | None = Field(description="ground-truth tokens x layers / the proxy's")


class ValidationReport(StageReport):
    """``validation.json``: the proxy ranking against the ground truth, with intervals and costs."""

    file_name: ClassVar[str] = VALIDATION_FILE

    rank_by: str
    truth_metric: str | None = Field(
        None, description="what the ground truth is judged by (ground_truth.metric resolved); None: rank_by"
    )
    level: float = 0.95
    eval_examples: int
    train_examples: int
    ground_truth: dict[str, Any] = Field(description="the ground_truth config section")
    proxy_order: list[str]
    truth_order: list[str]
    candidates: list[CandidateValidation] = Field(description="in ground-truth order")
    truth_tie_group: list[str]
    adjacent: list[Difference]
    agreement: dict[str, float] | None = Field(description="kendall_tau, spearman, pearson, relacc (2+ candidates)")
    top1: PickCheck
    baselines: list[PickCheck]
    costs: Costs

    @property
    def judged_by(self) -> str:
        """The metric of the ground-truth scores, intervals and curves."""
        return self.truth_metric or self.rank_by
