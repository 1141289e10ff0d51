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
    """Names of the columns that hold each part of an example, and how the answer names its choice."""

    question: str = "question"
    choices: str | tuple[str, ...] | None = Field(
        "choices", description="a list column, or one column per choice ([opa, opb, opc, opd]); None for qa tasks"
    )
    answer: str = Field("answer", description="text, letter or index of the right choice; text for qa")
    answer_format: Literal["auto", "text", "letter", "index", "index1"] = Field(
        "auto", description="auto: the choice text, else a letter or 0-based index; index1: 1-based (MedMCQA cop)"
    )
    context: str | None = Field(None, description="passage for reading comprehension")
    messages: str = Field("messages", description="chat turns [{role, content}]; sharegpt 'conversations' also found")
    instruction: str = Field("instruction", description="alpaca records: instruction, optional input, output")
    input: str = "input"
    output: str = "output"

    @field_validator("choices")
    @classmethod
    def _choice_columns(cls, v: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        if isinstance(v, tuple):
            dupes = sorted({c for c in v if v.count(c) > 1})
            if len(v) < 2 or dupes:
                raise ValueError(f"give one list column, or two or more distinct choice columns (repeated: {dupes})")
        return v


class TaskConfig(_Frozen):
    """The task: its type and its train/eval data (a bundled task or user files)."""

    type: TaskType = "multiple_choice"
    bundled: str | None = Field(None, description="name of a task shipped with damoc (damoc tasks ls)")
    train: SourceSpec | None = None
    eval: SourceSpec | None = None
    fields: FieldMap = FieldMap()
    choices: tuple[str, ...] | None = Field(
        None, description="one label set for every record (classification); the answer is a label or its index"
    )
    max_eval_examples: int | None = Field(None, gt=0, description="evaluate on the first N eval examples")
    format: Literal["auto", "fields", "chat", "alpaca"] = Field("auto", description="record shape; auto: per file")
    template: str | None = Field(None, description="prompt: Jinja2 if it has '{{', else a str.format string")
    use_chat_template: Literal["auto", "never", "always"] = Field("never", description="the model's chat template")

    @field_validator("choices", mode="before")
    @classmethod
    def _labels_as_text(cls, v: Any) -> Any:
        if not isinstance(v, (list, tuple)):
            return v
        if any(isinstance(c, bool) for c in v):
            raise ValueError("YAML reads yes/no/true/false/on/off as booleans; quote the labels, e.g. ['no', 'yes']")
        return [str(c) if isinstance(c, (int, float)) else c for c in v]

    @field_validator("choices")
    @classmethod
    def _label_set(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        dupes = sorted({c for c in v if v.count(c) > 1})
        if len(v) < 2 or dupes or not all(c.strip() for c in v):
            raise ValueError(f"give two or more distinct, non-empty labels (repeated: {dupes})")
        return v

    @model_validator(mode="after")
    def _has_data(self) -> TaskConfig:
        if self.bundled is None and (self.train is None or self.eval is None):
            raise ValueError("give 'bundled: NAME' or both 'train' and 'eval'")
        if self.bundled is not None and self.format not in ("auto", "fields"):
            raise ValueError("'format' applies to your own train/eval files, not to a bundled task")
        if self.choices is not None and (self.type != "multiple_choice" or self.bundled is not None):
            raise ValueError("'choices' (one label set) applies to multiple_choice tasks over your own files")
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
    remove_layers: int | None = Field(None, gt=0, description="remove exactly N layers of each candidate (not a ratio)")
    max_loss_increase: float | None = Field(
        None,
        gt=0,
        description="None: remove remove_ratio of every candidate; t: per candidate, the deepest removal up to "
        "remove_ratio whose calibration answer loss stays within (1 + t) x the full model's (damoc.model.tolerance)",
    )
    merger: MethodSpec = MethodSpec(method="none")
    score_in_4bit: bool = Field(
        False, description="score layers on a 4-bit NF4 copy (bitsandbytes, CUDA); cut and merge the full weights"
    )
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

    metrics: list[str] | None = Field(None, description="None: acc, acc_norm (multiple_choice); exact_match, f1 (qa)")
    batch_size: int = Field(8, gt=0)
    max_new_tokens: int = Field(32, gt=0, description="qa generation length")
    max_seq_len: int = Field(512, gt=0)
    backend: Literal["damoc", "lm_eval"] = Field(
        "damoc", description="damoc's own scorer, or lm-evaluation-harness 0.4.13 (pip install lm_eval==0.4.13)"
    )
    sequential_chunk: int | None = Field(
        None,
        gt=0,
        description="None: every proxy on the whole eval split; N: rounds of N more examples (whole clusters) "
        "until the leader's paired 95% interval against every other candidate excludes 0 (damoc.sequential)",
    )
    sequential_max_examples: int | None = Field(
        None,
        gt=0,
        description="with sequential_chunk: stop after the round that reaches this many examples even without "
        "a clear leader (the ranking then reports the tie); None: up to the whole eval split",
    )


class PrescreenSample(_Frozen):
    """A zero-cost pre-screen's scoring: which method, on how many training examples (``selection.fallback``)."""

    method: str = Field(description="registered pre-screen: perplexity, zero_shot or logme (damoc ls prescreen)")
    num_samples: int = Field(64, gt=0, description="seeded sample of training examples scored by each candidate")


class PrescreenConfig(PrescreenSample):
    """A zero-cost pre-screen: rank the full candidates from one forward pass, keep the top ``keep``."""

    keep: int = Field(gt=0, description="candidates kept (plus any tied with the last kept); the rest are screened out")


class SelectionConfig(_Frozen):
    """Stage 5: ranking and baselines."""

    rank_by: str = Field("acc", description="metric that orders the candidates (higher is better)")
    baselines: list[str] = Field(default_factory=list)
    baseline_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="params per listed baseline, e.g. {ats: {k: 3, delta: 5.0}}"
    )
    cluster_by: Literal["question", "context", "none"] = Field(
        "question", description="eval examples sharing this text are resampled together for the 95% intervals"
    )
    bootstrap_seed: int = Field(0, description="seed of the bootstrap resampling behind the intervals")
    prescreen: PrescreenConfig | None = Field(None, description="zero-cost pre-screen before any proxy is built")
    fallback: PrescreenSample | None = Field(None, description="no proxy above guessing: pick by this pre-screen")
    strategy: Literal["all", "successive_halving"] = Field(
        "all", description="all: every proxy trained for training.max_steps; successive_halving: rounds (damoc.halving)"
    )
    halving_min_steps: int | None = Field(
        None, gt=0, description="successive_halving: steps of round 0; None: training.max_steps // 2**ceil(log2(n))"
    )
    halving_budget: float = Field(
        1.0, gt=0, description="successive_halving: most training compute spent, as a fraction of what 'all' spends"
    )


class CandidateResources(_Frozen):
    """What one candidate's Ray task reserves: Ray's own ``num_cpus`` and ``num_gpus`` task options."""

    num_cpus: float = Field(1.0, gt=0, description="CPU cores per candidate; Ray sets the task's torch threads to it")
    num_gpus: float = Field(0.0, ge=0, description="GPUs per candidate (a fraction shares a card); 0: CPU only")


RAY_ADDRESS_RE = re.compile(r"^(auto|(ray://)?[A-Za-z0-9._-]+:[0-9]{1,5})$")


class ExecutorConfig(_Frozen):
    """How the per-candidate stages run: ``local`` (one after another, in this process) or ``ray``.

    ``ray`` runs one Ray task per candidate with ``resources_per_candidate``, as many at once as the
    cluster has room for (:mod:`damoc.executors.ray`); the data stage and the ranking stay in this process.
    """

    kind: Literal["local", "ray"] = Field(
        "local", description="local: in this process; ray: one Ray task per candidate"
    )
    address: str | None = Field(
        None,
        description="ray: None starts a local Ray runtime; 'auto' joins the cluster this machine is part of; "
        "'ray://host:port' connects through Ray Client; 'host:port' is a head node's GCS address",
    )
    resources_per_candidate: CandidateResources = Field(
        default_factory=CandidateResources, description="ray: CPUs and GPUs reserved by each candidate's task"
    )
    num_cpus: int | None = Field(
        None, gt=0, description="ray without an address: CPUs the local runtime offers; None: every core here"
    )

    @field_validator("address")
    @classmethod
    def _address_form(cls, v: str | None) -> str | None:
        if v is not None and not RAY_ADDRESS_RE.match(v):
            raise ValueError("expected 'auto', 'ray://host:port', 'host:port' or null (a local Ray runtime)")
        return v

    @model_validator(mode="after")
    def _ray_keys_need_ray(self) -> ExecutorConfig:
        ray_only = sorted(self.model_fields_set - {"kind"})
        if self.kind == "local" and ray_only:
            raise ValueError(f"{', '.join(ray_only)}: apply to kind 'ray' only; set executor.kind: ray or remove them")
        if self.address is not None and self.num_cpus is not None:
            raise ValueError("num_cpus sizes the local Ray runtime started without an address; a cluster has its own")
        return self


class GroundTruthConfig(_Frozen):
    """Validation: the full fine-tune a practitioner would run (whole training set, uncompressed model)."""

    method: Literal["lora", "full"] = Field("lora", description="LoRA adapter or every weight trainable")
    epochs: float = Field(3.0, gt=0, le=100, description="passes over the whole training set (3, as HF/LLaMA-Factory)")
    learning_rate: float = Field(2e-4, gt=0, description="AdamW peak learning rate, linear decay")
    batch_size: int = Field(8, gt=0, description="examples per micro-batch")
    gradient_accumulation_steps: int = Field(1, gt=0, description="micro-batches per optimizer step")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="fraction of the steps with linear warmup")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (not on biases and norms)")
    lora_r: int = Field(8, gt=0, description="LoRA rank")
    lora_alpha: int = Field(16, gt=0, description="LoRA scaling numerator")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: list[str] | Literal["all-linear"] = Field("all-linear", description="LoRA target modules")
    max_seq_len: int | None = Field(
        None, gt=0, description="None: 99th percentile of prompt+answer tokens in train (candidate tokenizer), <= 1024"
    )
    checkpoint_minutes: float = Field(5.0, gt=0, description="save a resumable checkpoint at least this often")
    curve_fractions: list[float] = Field(
        default_factory=lambda: [0.125, 0.25, 0.5], description="epoch fractions evaluated (plus every epoch end)"
    )
    max_eval_examples: int | None = Field(
        None, gt=0, description="first N eval examples; None: task.max_eval_examples, else the whole eval split"
    )
    metric: str | None = Field(None, description="judged by; None: rank_by, or acc for choice_prob/choice_logprob")

    @field_validator("curve_fractions")
    @classmethod
    def _positive_fractions(cls, v: list[float]) -> list[float]:
        if bad := [f for f in v if not f > 0]:
            raise ValueError(f"curve fractions must be > 0 (epoch fractions), got {bad}")
        return sorted(set(v))


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
    ground_truth: GroundTruthConfig = GroundTruthConfig()
    budget: float | None = Field(
        None,
        gt=0,
        le=1,
        description="proxy training compute as a fraction of the ground truth's (tokens x layers); sets "
        "training.max_steps and the first filter's keep_ratio (damoc.budget)",
    )
    report_to: list[str] = Field(
        default_factory=list,
        description="experiment trackers that receive every candidate's losses, learning rates and eval scores "
        "(damoc ls tracker: tensorboard, mlflow); in no stage hash: they record results, they do not change them",
    )

    @field_validator("report_to")
    @classmethod
    def _unique_trackers(cls, v: list[str]) -> list[str]:
        if dupes := sorted({t for t in v if v.count(t) > 1}):
            raise ValueError(f"tracker {dupes} listed twice; name each tracker once")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> RunConfig:
        names = [c.name for c in self.candidates]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
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
