"""The run config schema: frozen pydantic models with their defaults and bounds.

A leaf module: no file or network I/O and no damoc import but :mod:`damoc.errors`. Reading YAML,
overrides, bundled-task defaults and the checks that need files or registries live in
:mod:`damoc.loading` and :mod:`damoc.preflight`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TaskType = Literal["multiple_choice", "qa"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodSpec(_Frozen):
    """One interchangeable method: ``{method: NAME, params: {...}}``."""

    method: str
    params: dict[str, Any] = Field(default_factory=dict)


class SourceSpec(_Frozen):
    """Where one split comes from: a local file or a hub dataset."""

    path: Path | None = Field(None, description="local .jsonl / .json / .csv / .parquet file")
    hf: str | None = Field(None, description="hub dataset id, loaded with datasets.load_dataset")
    subset: str | None = Field(None, description="hub dataset config name")
    split: str = Field("train", description="hub split name")

    @model_validator(mode="after")
    def _one_source(self) -> SourceSpec:
        if (self.path is None) == (self.hf is None):
            raise ValueError("give exactly one of 'path' or 'hf'")
        return self


class FieldMap(_Frozen):
    """Names of the columns that hold each part of an example."""

    question: str = "question"
    choices: str | None = Field("choices", description="list column; None for qa tasks")
    answer: str = Field("answer", description="index, letter or text of the right choice; text for qa")
    context: str | None = Field(None, description="passage for reading comprehension")
    messages: str = Field("messages", description="chat turns [{role, content}]; sharegpt 'conversations' also found")
    instruction: str = Field("instruction", description="alpaca records: instruction, optional input, output")
    input: str = "input"
    output: str = "output"


class TaskConfig(_Frozen):
    """The task: its type and its train/eval data (a bundled task or user files)."""

    type: TaskType = "multiple_choice"
    bundled: str | None = Field(None, description="name of a task shipped with damoc (damoc tasks ls)")
    train: SourceSpec | None = None
    eval: SourceSpec | None = None
    fields: FieldMap = FieldMap()
    max_eval_examples: int | None = Field(None, gt=0, description="evaluate on the first N eval examples")
    format: Literal["auto", "fields", "chat", "alpaca"] = Field("auto", description="record shape; auto: per file")
    template: str | None = Field(None, description="prompt: Jinja2 if it has '{{', else a str.format string")
    use_chat_template: Literal["auto", "never", "always"] = Field("never", description="the model's chat template")

    @model_validator(mode="after")
    def _has_data(self) -> TaskConfig:
        if self.bundled is None and (self.train is None or self.eval is None):
            raise ValueError("give 'bundled: NAME' or both 'train' and 'eval'")
        if self.bundled is not None and self.format not in ("auto", "fields"):
            raise ValueError("'format' applies to your own train/eval files, not to a bundled task")
        return self


class CandidateSpec(_Frozen):
    """A candidate model: a bundled alias, a local HF folder, a GGUF file or a hub id."""

    name: str
    alias: str | None = None
    path: Path | None = None
    gguf: Path | None = None
    hf: str | None = None
    revision: str | None = None
    trust_remote_code: bool = Field(False, description="run the model repository's own Python code (off by default)")
    allow_pickle: bool = Field(False, description="allow pickle .bin weights (loaded with weights_only=True)")

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not NAME_RE.match(v) or ".." in v:
            raise ValueError(
                f"candidate name {v!r} must be 1-64 letters, digits, '.', '_' or '-', with no path separators or '..'"
            )
        return v

    @model_validator(mode="after")
    def _one_source(self) -> CandidateSpec:
        given = [k for k in ("alias", "path", "gguf", "hf") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"candidate {self.name!r}: give exactly one of alias, path, gguf, hf (got {given})")
        return self


class DataConfig(_Frozen):
    """Stage 1: data compression steps applied in order to the training set."""

    steps: list[MethodSpec] = Field(default_factory=lambda: [MethodSpec(method="random")])
    calibration_samples: int = Field(32, gt=0, description="train examples used to score layers")


class ModelConfig(_Frozen):
    """Stage 2: layer scoring, removal and merging."""

    scorer: MethodSpec = MethodSpec(method="block_influence")
    remove_ratio: float = Field(0.25, ge=0, lt=1, description="fraction of decoder layers removed")
    merger: MethodSpec = MethodSpec(method="none")
    max_seq_len: int = Field(128, gt=0, description="calibration sequence length in tokens")
    batch_size: int = Field(8, gt=0)


class TrainingConfig(_Frozen):
    """Stage 3: proxy fine-tuning."""

    method: Literal["lora", "full"] = "lora"
    max_steps: int | None = Field(100, gt=0, description="optimizer steps; None means use num_epochs")
    num_epochs: float = Field(1.0, gt=0, description="used when max_steps is None")
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(4, gt=0)
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_seq_len: int = Field(256, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    lora_r: int = Field(8, gt=0)
    lora_alpha: int = Field(16, gt=0)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class EvaluationConfig(_Frozen):
    """Stage 4: metrics on the eval split."""

    metrics: list[str] | None = Field(
        None, description="default: acc, acc_norm (multiple_choice); exact_match, f1 (qa)"
    )
    batch_size: int = Field(8, gt=0)
    max_new_tokens: int = Field(32, gt=0, description="qa generation length")
    max_seq_len: int = Field(512, gt=0)


class SelectionConfig(_Frozen):
    """Stage 5: ranking and baselines."""

    rank_by: str = Field("acc", description="metric that orders the candidates (higher is better)")
    baselines: list[str] = Field(default_factory=list)


class ExecutorConfig(_Frozen):
    """How per-candidate stages run (``local``: one after another, in this process)."""

    kind: Literal["local"] = "local"


class RunConfig(_Frozen):
    """A whole damoc run."""

    run_dir: Path
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="weights dtype; auto: bfloat16 on CUDA, float32 on CPU"
    )
    cache_dir: Path | None = Field(None, description="converted bundled models; default $DAMOC_CACHE or ~/.cache/damoc")
    task: TaskConfig
    candidates: Annotated[list[CandidateSpec], Field(min_length=1)]
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    selection: SelectionConfig = SelectionConfig()
    executor: ExecutorConfig = ExecutorConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> RunConfig:
        names = [c.name for c in self.candidates]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate candidate names {dupes}; give each a distinct 'name'")
        return self

    def metrics(self) -> list[str]:
        """The evaluation metrics, with the task type's defaults filled in."""
        if self.evaluation.metrics:
            return list(self.evaluation.metrics)
        return ["acc", "acc_norm"] if self.task.type == "multiple_choice" else ["exact_match", "f1"]


def section_hash(*parts: Any) -> str:
    """A short stable hash of config sections (pydantic models or plain data) and upstream hashes."""
    blob = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _plain(x: Any) -> Any:
    return x.model_dump(mode="json") if isinstance(x, BaseModel) else x
