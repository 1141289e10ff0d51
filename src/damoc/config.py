"""The run config: YAML on disk, frozen pydantic models in memory.

``load_config(path, overrides)`` reads the YAML, applies ``key.sub=value`` overrides, validates every
key (unknown keys are errors) and every method name and parameter, and returns a :class:`RunConfig`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from damoc.errors import ConfigError

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

    @model_validator(mode="before")
    @classmethod
    def _bundled_defaults(cls, data: Any) -> Any:
        from damoc.tasks import with_bundled_defaults  # a bundled task's type (and template) come from its card

        return with_bundled_defaults(data)

    @field_validator("template")
    @classmethod
    def _check_template(cls, v: str | None) -> str | None:
        from damoc.prompts import check_template

        return check_template(v)

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
    cache_dir: Path | None = Field(None, description="converted bundled models; default $DAMOC_CACHE or ~/.cache/damoc")
    task: TaskConfig
    candidates: Annotated[list[CandidateSpec], Field(min_length=1)]
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    selection: SelectionConfig = SelectionConfig()
    executor: ExecutorConfig = ExecutorConfig()

    @field_validator("candidates", mode="before")
    @classmethod
    def _expand_candidates(cls, v: Any) -> Any:
        return [candidate_from_yaml(c) for c in v] if isinstance(v, list) else v

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


def candidate_from_yaml(item: Any) -> Any:
    """A bare string becomes an alias (no '/'), a .gguf file, an existing folder or a hub id."""
    if not isinstance(item, str):
        if isinstance(item, dict) and "name" not in item:
            src = next((item[k] for k in ("alias", "hf", "path", "gguf") if item.get(k)), None)
            if src is not None:
                return {**item, "name": _default_name(str(src))}
        return item
    if item.endswith(".gguf"):
        return {"name": _default_name(item), "gguf": item}
    if Path(item).is_dir():
        return {"name": _default_name(item), "path": item}
    if "/" in item:
        return {"name": _default_name(item), "hf": item}
    return {"name": item, "alias": item}


def _default_name(src: str) -> str:
    stem = Path(src.rstrip("/")).name
    return stem[: -len(".gguf")] if stem.endswith(".gguf") else stem


def load_config(path: Path | str, overrides: list[str] | None = None) -> RunConfig:
    """Read, override and validate a run config.

    Args:
        path: YAML file.
        overrides: ``dotted.key=value`` strings; values are parsed as YAML (``seed=3``, ``x=[a,b]``).

    Raises:
        ConfigError: naming the file, the key and what is allowed.
    """
    path = Path(path)
    raw = _read_yaml(path)
    for item in overrides or []:
        _apply_override(raw, item)
    cfg = parse_config(raw, source=str(path))
    from damoc.config_checks import check_paths, validate_methods

    try:
        validate_methods(cfg)
        check_paths(cfg)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return cfg


def parse_config(raw: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a config dict; pydantic errors become one ConfigError naming each bad key."""
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid config:\n{format_errors(exc)}") from None


def format_errors(exc: ValidationError) -> str:
    """One line per problem: ``key.path: message (got value)``, with allowed keys for unknown ones."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key; allowed here: {', '.join(_allowed_keys(err['loc']))}"
        elif err["type"] not in ("missing",):
            msg = f"{msg} (got {err.get('input')!r})"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        model = ann if isinstance(ann, type) else next((a for a in args if issubclass(a, BaseModel)), None)
    return sorted(model.model_fields) if model is not None else []


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    return raw


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key.sub=value")
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if isinstance(node, list):
            node = _list_item(node, part, key)
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = [] if nxt.isdigit() else {}
        node = node[part]
    parsed = yaml.safe_load(value) if value else ""
    if isinstance(node, list):
        idx = int(parts[-1]) if parts[-1].isdigit() else -1
        if not 0 <= idx < len(node):
            raise ConfigError(f"override {item!r}: list index {parts[-1]!r} out of range")
        node[idx] = parsed
    else:
        node[parts[-1]] = parsed


def _list_item(node: list[Any], part: str, key: str) -> Any:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"override {key!r}: {part!r} is not a valid list index (length {len(node)})")
    return node[int(part)]


def section_hash(*parts: Any) -> str:
    """A short stable hash of config sections (pydantic models or plain data) and upstream hashes."""
    blob = json.dumps([_plain(p) for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _plain(x: Any) -> Any:
    return x.model_dump(mode="json") if isinstance(x, BaseModel) else x


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
