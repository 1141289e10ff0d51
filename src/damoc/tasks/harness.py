"""A damoc task as an lm-evaluation-harness task: the same eval examples and the same prompt text.

:func:`export_lm_eval_task` writes ``<name>.jsonl`` (one row per eval example, the prompt already
rendered by :func:`damoc.tasks.prompts.render_prompt`) and ``<name>.yaml`` (the lm-eval 0.4.13 task
config that reads it). lm-eval takes the prompt verbatim (``doc_to_text: prompt`` names the feature,
so no Jinja runs over it), so both tools score identical text:

- ``multiple_choice``: rows ``{"id", "prompt", "choices", "answer": int}``, ``output_type:
  multiple_choice``, damoc's target delimiter, metrics ``acc`` and ``acc_norm``;
- ``qa``: rows ``{"id", "prompt", "answer": str}``, ``output_type: generate_until`` (greedy, up to
  the first newline, ``evaluation.max_new_tokens`` tokens) and ``exact_match``. An answer of several
  lines cannot be produced by a generation cut at the first newline, so such a task is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.artifacts import write_text_atomic
from damoc.errors import DataError
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt, target_delimiter

if TYPE_CHECKING:
    from damoc.config import RunConfig, TaskType

LM_EVAL_VERSION = "0.4.13"
SPLIT = "test"


@dataclass(frozen=True)
class LmEvalTask:
    """An exported task: its lm-eval task name, its two files and its size."""

    name: str
    yaml_file: Path
    data_file: Path
    num_examples: int


def lm_eval_task_name(task: str) -> str:
    """The lm-eval task name for a damoc task (``damoc_`` + the name, letters, digits and ``_`` only)."""
    return "damoc_" + re.sub(r"[^A-Za-z0-9_]", "_", task)


def export_lm_eval_task(
    examples: list[Example],
    task_type: TaskType,
    out_dir: Path,
    *,
    name: str = "damoc_task",
    spec: PromptSpec | None = None,
    tokenizer: Any = None,
    max_new_tokens: int = 32,
    datasets_cache: Path | None = None,
) -> LmEvalTask:
    """Write ``examples`` as an lm-eval task into ``out_dir`` (created if missing).

    Args:
        examples: normalised eval examples (:func:`damoc.tasks.load.load_split`).
        task_type: ``multiple_choice`` or ``qa``.
        out_dir: receives ``<name>.yaml`` and ``<name>.jsonl`` (the YAML names the data by absolute path).
        name: the lm-eval task name.
        spec: damoc's prompt settings; ``None`` is the default plain template.
        tokenizer: needed only when the prompt uses the model's chat template.
        max_new_tokens: qa generation length (``max_gen_toks``).
        datasets_cache: where ``datasets`` caches the JSONL it reads; ``None`` is its own default.

    Raises:
        DataError: no examples, multiple-choice examples without choices, or qa answers of several lines.
        ConfigError: the prompt needs a chat template the tokenizer lacks.
    """
    if not examples:
        raise DataError("export-lm-eval: the eval split has no examples")
    rows = [_row(ex, task_type, spec, tokenizer) for ex in examples]
    out_dir.mkdir(parents=True, exist_ok=True)
    data_file = (out_dir / f"{name}.jsonl").resolve()
    write_text_atomic(data_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    config = task_config(name, task_type, data_file, target_delimiter(spec, tokenizer), max_new_tokens)
    if datasets_cache is not None:
        config["dataset_kwargs"]["cache_dir"] = str(datasets_cache.resolve())
    yaml_file = out_dir / f"{name}.yaml"
    write_text_atomic(yaml_file, _dump_yaml(config))
    return LmEvalTask(name=name, yaml_file=yaml_file, data_file=data_file, num_examples=len(rows))


def _row(ex: Example, task_type: TaskType, spec: PromptSpec | None, tokenizer: Any) -> dict[str, Any]:
    prompt = render_prompt(ex, spec, tokenizer)
    if task_type == "multiple_choice":
        if ex.choices is None or not isinstance(ex.answer, int):
            raise DataError(f"example {ex.id}: no choices or no answer index; not multiple_choice data")
        return {"id": ex.id, "prompt": prompt, "choices": list(ex.choices), "answer": ex.answer}
    answer = str(ex.answer)
    if "\n" in answer.strip():
        raise DataError(
            f"example {ex.id}: its answer spans several lines; lm-eval's generate_until export stops "
            "generating at the first newline, so this qa task cannot be exported (only one-line answers)"
        )
    return {"id": ex.id, "prompt": prompt, "answer": answer}


def task_config(name: str, task_type: TaskType, data_file: Path, delimiter: str, max_new_tokens: int) -> dict[str, Any]:
    """The lm-eval task config (a dict for the YAML) reading ``data_file``."""
    config: dict[str, Any] = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {SPLIT: str(data_file)}},
        "test_split": SPLIT,
        "num_fewshot": 0,
        "doc_to_text": "prompt",
        "doc_to_target": "answer",
    }
    if task_type == "multiple_choice":
        config |= {
            "output_type": "multiple_choice",
            "doc_to_choice": "choices",
            "target_delimiter": delimiter,
            "metric_list": [_metric("acc"), _metric("acc_norm")],
        }
    else:
        config |= {
            "output_type": "generate_until",
            "target_delimiter": delimiter,
            "generation_kwargs": {"until": ["\n"], "do_sample": False, "max_gen_toks": max_new_tokens},
            "metric_list": [_metric("exact_match", ignore_case=True, ignore_punctuation=True)],
        }
    config["metadata"] = {"version": 1.0, "exported_by": "damoc", "lm_eval_version": LM_EVAL_VERSION}
    return config


def _metric(name: str, **options: Any) -> dict[str, Any]:
    return {"metric": name, "aggregation": "mean", "higher_is_better": True, **options}


def _dump_yaml(config: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def export_lm_eval(cfg: RunConfig, out_dir: Path, candidate: str | None = None) -> LmEvalTask:
    """``damoc export-lm-eval``: the run's eval split (as the data stage normalises it) as an lm-eval task.

    Args:
        cfg: the run config; its task section gives the data, the prompt and ``max_eval_examples``.
        out_dir: receives the YAML and JSONL.
        candidate: a candidate name whose tokenizer renders the chat template; needed only when
            ``task.use_chat_template`` is ``auto`` or ``always`` (the prompt then differs per model).

    Raises:
        DamocError: unknown candidate, a chat-template prompt without a candidate, unreadable or
            unexportable data.
    """
    from damoc.tasks.load import load_split, task_sources

    _, eval_src, fields, task_type = task_sources(cfg.task)
    examples = load_split(eval_src, fields, task_type, "eval", fmt=cfg.task.format)[: cfg.task.max_eval_examples]
    spec = PromptSpec.from_task(cfg.task)
    tokenizer = _candidate_tokenizer(cfg, candidate) if spec.use_chat_template != "never" else None
    name = lm_eval_task_name(cfg.task.bundled or "task")
    return export_lm_eval_task(
        examples, task_type, out_dir, name=name, spec=spec, tokenizer=tokenizer,
        max_new_tokens=cfg.evaluation.max_new_tokens,
    )  # fmt: skip


def _candidate_tokenizer(cfg: RunConfig, candidate: str | None) -> Any:
    from damoc.candidates.resolve import load_tokenizer, resolve_candidate
    from damoc.errors import ConfigError

    names = [c.name for c in cfg.candidates]
    if candidate is None or candidate not in names:
        raise ConfigError(
            f"task.use_chat_template is {cfg.task.use_chat_template!r}: the prompt depends on the model's chat "
            f"template, so name the candidate whose tokenizer renders it (--candidate NAME; one of {', '.join(names)})"
            + (f"; got {candidate!r}" if candidate is not None else "")
        )
    spec = next(c for c in cfg.candidates if c.name == candidate)
    src = resolve_candidate(spec, cfg.cache_dir)
    return load_tokenizer(src.source, revision=src.revision, trust_remote_code=src.trust_remote_code)
