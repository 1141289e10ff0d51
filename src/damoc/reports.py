"""The run-folder contract: every file a stage writes, and the typed reports it writes them with.

Stages write their report through :func:`write_stage_report` and every reader (selection, baselines,
the report writer) parses it back with :func:`read_stage_report` into the same pydantic model, so a
field rename is a type error, not a silent ``None``. Each report carries ``schema_version``: a newer
damoc reads the versions it knows and refuses others with a message that says what to do.
Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from damoc.atomic import write_json_atomic
from damoc.config import MethodSpec, TaskType
from damoc.errors import DamocError

SCHEMA_VERSION = 1
"""Version of the run-folder files written by this damoc."""
OLDEST_READABLE = 0
"""Reports written before the version field existed (0) have the same fields as version 1."""

# stage 1 (run_dir/data/)
TRAIN_FILE, EVAL_FILE, CALIB_FILE, DATA_REPORT = "train.jsonl", "eval.jsonl", "calib.jsonl", "data.json"
# stage 2 (models/<name>/proxy/), 3 (models/<name>/adapter/), 4 (models/<name>/eval/ and zero_shot/)
PROXY_REPORT, TRAIN_REPORT = "layers.json", "train.json"
EVAL_REPORT, PREDICTIONS_FILE = "eval.json", "predictions.jsonl"
# sequential evaluation (models/<name>/eval_chunks/<k>/, zero_shot/, subset_tuning/): the examples scored
EVAL_EXAMPLES_FILE = "eval_examples.jsonl"
# selection.prescreen (prescreen/<name>/) and selection.fallback (fallback/<name>/)
PRESCREEN_REPORT = "prescreen.json"
# the ats baseline (models/<name>/ats_subsets/<size>/ and models/<name>/ats/)
ATS_POINT_REPORT, ATS_REPORT = "test_loss.json", "ats.json"
# a candidate job that failed (models/<name>/failed.json), until a rerun of its stage succeeds
FAILURE_REPORT = "failed.json"
FailureKind = Literal["error", "out_of_memory", "worker_died"]


class StageReport(BaseModel):
    """Base of every stage report: frozen, and stamped with the schema version it was written with."""

    model_config = ConfigDict(frozen=True)

    file_name: ClassVar[str] = ""
    schema_version: int = Field(SCHEMA_VERSION, description="run-folder schema this file was written with")


class FailureReport(StageReport):
    """A candidate job that failed, written as ``models/<name>/failed.json`` by the driver.

    The ranking lists the candidate as failed with this reason; the file goes once a rerun of the
    failed stage succeeds.
    """

    file_name: ClassVar[str] = FAILURE_REPORT

    candidate: str
    stage: str = Field(description="the first of the job's stages left without an up-to-date result")
    kind: FailureKind = Field(
        description="error: the stage raised; out_of_memory: it ran out of (GPU) memory; worker_died: its process was killed"
    )
    reason: str = Field(description="the error message (its type first when it is not a damoc or OS error)")
    executor: str = Field(description="the executor that ran the job (local, ray)")


class StepReport(StageReport):
    """What one data step did."""

    method: str
    kind: Literal["filter", "compressor"]
    params: dict[str, Any] = Field(description="the step's params with defaults filled in")
    examples_before: int
    kept: int = Field(description="training examples after the step")
    characters_after: int = Field(description="prompt + target characters after the step")
    tokens_after: int | None = Field(None, description="prompt + target tokens after the step (DataReport.tokenizer)")
    seconds: float
    score_name: str | None = Field(None, description="what example_scores hold (a step that measures one)")
    example_scores: dict[str, float | None] = Field(
        default_factory=dict, description="example id -> the filter's score (None: not scored)"
    )
    dropped: dict[str, int] = Field(
        default_factory=dict, description="examples dropped per reason (a compressor: rewrites rejected per reason)"
    )
    clusters_after: int | None = Field(
        None, description="distinct question clusters left (examples sharing a context, else a question)"
    )
    samples: list[dict[str, Any]] = Field(
        default_factory=list,
        description="a seeded sample of what the step did: examples dropped (with why) or rewritten (before/after)",
    )


class DataReport(StageReport):
    """Summary of stage 1, written as ``data.json``."""

    file_name: ClassVar[str] = DATA_REPORT

    task_type: TaskType
    seed: int
    train_examples_before: int
    train_examples_after: int
    eval_examples: int
    calibration_examples: int
    characters_before: int = Field(description="prompt + target characters of the full training set")
    characters_after: int = Field(description="prompt + target characters of the compressed training set")
    tokenizer: str | None = Field(None, description="the candidate whose tokenizer counted tokens (None: not counted)")
    tokens_before: int | None = Field(None, description="prompt + target tokens of the full training set")
    tokens_after: int | None = Field(None, description="prompt + target tokens of the compressed training set")
    clusters_before: int | None = Field(None, description="distinct question clusters of the full training set")
    clusters_after: int | None = Field(None, description="distinct question clusters of the compressed training set")
    steps: list[StepReport]
    seconds: float


class ProxyReport(StageReport):
    """What stage 2 did to one candidate; written as ``layers.json`` next to the proxy checkpoint."""

    file_name: ClassVar[str] = PROXY_REPORT

    candidate: str
    model_type: str
    layers_before: int
    layers_after: int
    removed: list[int]
    scores: list[float]
    merged_into: dict[int, list[int]]
    params_before: int
    params_after: int
    scorer: MethodSpec
    merger: MethodSpec
    remove_ratio: float
    max_loss_increase: float | None = None
    calibration_losses: dict[int, float] = Field(
        default_factory=dict, description="model.max_loss_increase: answer loss per number of layers removed (tried)"
    )
    calibration_examples: int
    calibration_tokens: int
    seed: int
    device: str
    seconds: float


class TrainReport(StageReport):
    """What one proxy fine-tuning run did; written to ``train.json``."""

    file_name: ClassVar[str] = TRAIN_REPORT

    method: Literal["lora", "full"]
    steps: int
    examples_used: int
    tokens_seen: int
    target_tokens: int
    trainable_params: int
    total_params: int
    loss_first: float
    loss_last: float
    losses: list[float]
    seconds: float
    seconds_per_step: float
    device: str
    dtype: str


class EvalReport(StageReport):
    """Metrics of one evaluation; written to ``eval.json``."""

    file_name: ClassVar[str] = EVAL_REPORT

    metrics: dict[str, float]
    num_examples: int
    task_type: Literal["multiple_choice", "qa"]
    seconds: float
    device: str
    adapter: bool
    backend: Literal["damoc", "lm_eval"] = "damoc"
    rounds: int | None = Field(
        None, description="sequential evaluation: rounds of evaluation.sequential_chunk examples behind the metrics"
    )


class AtsPointReport(StageReport):
    """One subset of the ``ats`` baseline: the full candidate tuned on a prefix, and its test loss."""

    file_name: ClassVar[str] = ATS_POINT_REPORT

    num_examples: int = Field(description="subset size: the first N examples of the seeded shuffle")
    test_loss: float = Field(description="mean NLL per gold target token (answer + eos) over the test examples")
    test_tokens: int = Field(description="gold target tokens behind test_loss")
    test_examples: int | None = Field(None, description="eval examples behind test_loss (None in older reports)")
    tokens_seen: int = Field(description="training tokens (one epoch over the subset)")
    layers: int = Field(description="decoder layers of the candidate")
    seconds: float


class AtsReport(StageReport):
    """The ``ats`` baseline's curve for one candidate (``models/<name>/ats/ats.json``)."""

    file_name: ClassVar[str] = ATS_REPORT

    full_size: int = Field(description="training examples of the whole split: the size AtS predicts the loss at")
    sizes: list[int] = Field(description="nested subset sizes, smallest first")
    losses: list[float] = Field(description="test loss after tuning on each subset")
    token_layers: int = Field(description="training cost: tokens seen x decoder layers, summed over the subsets")
    budget_token_layers: int = Field(description="the cost allowed: compute_ratio x the proxy's tokens x layers")
    min_examples: int
    compute_ratio: float
    test_examples: int | None = Field(None, description="eval examples behind each test loss (None: the whole split)")
    seed: int


class PrescreenReport(StageReport):
    """One full candidate's zero-cost pre-screen score (``selection.prescreen``); written to ``prescreen/<name>/``."""

    file_name: ClassVar[str] = PRESCREEN_REPORT

    method: str
    score: float = Field(description="higher is better (mean answer log-likelihood, accuracy or LogME)")
    num_samples: int = Field(description="training examples scored")
    seconds: float


R = TypeVar("R", bound=StageReport)


def write_stage_report(out_dir: Path, report: StageReport) -> Path:
    """Write ``report`` atomically as ``out_dir / report.file_name``; returns the path."""
    path = out_dir / report.file_name
    write_json_atomic(path, report.model_dump(mode="json"))
    return path


def read_stage_report(path_or_dir: Path, cls: type[R]) -> R:
    """Parse a report file (or the ``cls.file_name`` inside a folder) into ``cls``.

    Raises:
        DamocError: the file is missing, unreadable, from an unknown schema version, or does not match ``cls``.
    """
    path = path_or_dir / cls.file_name if path_or_dir.is_dir() else path_or_dir
    if not path.is_file():
        raise DamocError(f"{path} is missing; run the stage that writes it first")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DamocError(f"{path}: not readable JSON ({exc}); remove the stage folder and run it again") from None
    check_schema_version(raw.get("schema_version", 0) if isinstance(raw, dict) else None, path)
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise DamocError(f"{path}: not a valid {cls.__name__}: {exc.errors()[0]['msg']}") from None


def check_schema_version(version: Any, path: Path) -> None:
    """Refuse a report from a schema this damoc cannot read, saying which side to upgrade."""
    if not isinstance(version, int):
        raise DamocError(f"{path}: no valid schema_version; remove the stage folder and run it again")
    if version > SCHEMA_VERSION:
        raise DamocError(
            f"{path}: written by a newer damoc (schema {version}, this damoc reads {OLDEST_READABLE}-{SCHEMA_VERSION}); "
            "upgrade damoc to read this run folder"
        )
    if version < OLDEST_READABLE:
        raise DamocError(f"{path}: written by an older damoc (schema {version}); run the stage again with this damoc")
