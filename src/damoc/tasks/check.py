"""``damoc tasks check``: validate a task's train and eval data before any model is loaded.

:func:`check_task` reads both splits with the same code the pipeline uses (:func:`damoc.tasks.load.read_split`),
but collects every problem instead of stopping at the first, renders each prompt with the run's
template, and describes the data: counts, duplicates within a split, eval questions that appear
verbatim in train (leakage), the choice-count and answer-position distributions (and the label
distribution when the task has one label set, ``task.choices``), and length percentiles in tokens
of the first candidate's tokenizer (when it is on disk already) or in words.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from damoc.config import RunConfig, TaskType
from damoc.errors import ConfigError
from damoc.tasks.formats import Problem
from damoc.tasks.load import Example, SplitData, read_split, task_sources
from damoc.tasks.prompts import LETTERS, PromptSpec, render_prompt, target_text, uses_chat_template

log = logging.getLogger(__name__)

Unit = Literal["tokens", "words"]
MAX_LISTED = 50
"""Duplicate groups and leaks listed by line (all are counted)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LengthStats(_Frozen):
    """Prompt + answer length percentiles (nearest rank) of one split."""

    unit: Literal["tokens", "words"]
    p50: int
    p90: int
    p99: int
    max: int


class SplitCheck(_Frozen):
    """What one split holds."""

    split: Literal["train", "eval"]
    source: str
    shape: str = Field(description="record shape read: fields, chat or alpaca")
    examples: int = Field(description="records that normalise cleanly")
    duplicates: int = Field(description="examples repeating an earlier one (same context, question, choices)")
    duplicate_lines: list[list[int]] = Field(description=f"line numbers of up to {MAX_LISTED} duplicate groups")
    choice_counts: dict[int, int] = Field(description="number of choices -> examples (multiple_choice)")
    answer_positions: dict[str, int] = Field(description="letter of the right choice -> examples (multiple_choice)")
    label_counts: dict[str, int] = Field(
        default_factory=dict, description="label -> examples, every label of task.choices (classification)"
    )
    length: LengthStats | None = None


class Leak(_Frozen):
    """An eval question (with its context) that appears verbatim in train."""

    eval_line: int
    train_line: int
    question: str


class TaskCheckReport(_Frozen):
    """Everything ``damoc tasks check`` found; ``ok`` is False when there is any problem."""

    task: str
    task_type: TaskType
    length_unit: Literal["tokens", "words"]
    length_note: str = Field(description="which tokenizer counted the lengths, or why words were counted")
    splits: list[SplitCheck]
    leaks: int = Field(description="eval examples whose context + question appear verbatim in train")
    leaked: list[Leak] = Field(description=f"the first {MAX_LISTED} leaks")
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when no problem was found (duplicates and leaks are warnings)."""
        return not self.problems


def check_task(cfg: RunConfig) -> TaskCheckReport:
    """Validate and describe the task data of ``cfg`` (no model weights are loaded).

    Args:
        cfg: a validated run config; its task, first candidate (tokenizer only) and cache folder are used.

    Returns:
        The :class:`TaskCheckReport`; ``report.ok`` is False when any record or file has a problem.
    """
    train_src, eval_src, fields, task_type = task_sources(cfg.task)
    train = read_split(train_src, fields, task_type, "train", fmt=cfg.task.format)
    evals = read_split(eval_src, fields, task_type, "eval", fmt=cfg.task.format)
    tokenizer, note = local_tokenizer(cfg)
    unit: Unit = "tokens" if tokenizer is not None else "words"
    spec, problems = _usable_spec(PromptSpec.from_task(cfg.task), tokenizer)
    splits = []
    named: list[tuple[Literal["train", "eval"], SplitData]] = [("train", train), ("eval", evals)]
    for split, data in named:
        problems += data.problems
        lengths = _lengths(data, spec, tokenizer, problems)
        splits.append(describe_split(split, data, task_type, lengths, unit, labels=cfg.task.choices))
    leaks = find_leaks(train, evals)
    return TaskCheckReport(
        task=cfg.task.bundled or f"{train.where} + {evals.where}",
        task_type=task_type,
        length_unit=unit,
        length_note=note,
        splits=splits,
        leaks=len(leaks),
        leaked=leaks[:MAX_LISTED],
        problems=problems,
    )


def _usable_spec(spec: PromptSpec, tokenizer: Any) -> tuple[PromptSpec, list[Problem]]:
    """The prompt spec, with ``always`` reported as a problem when the tokenizer has no chat template."""
    try:
        uses_chat_template(spec, tokenizer)
    except ConfigError as exc:
        return replace(spec, use_chat_template="never"), [Problem(where="task.use_chat_template", message=str(exc))]
    return spec, []


def local_tokenizer(cfg: RunConfig) -> tuple[Any, str]:
    """The first candidate's tokenizer when it is on disk without conversion, else (None, why not)."""
    from damoc.candidates.bundled import SOURCE_FILE, default_cache_dir
    from damoc.candidates.resolve import load_tokenizer

    cand = cfg.candidates[0]
    folder: Path | None = None
    if cand.path is not None:
        folder = Path(cand.path).expanduser()
    elif cand.alias is not None:
        prepared = (cfg.cache_dir or default_cache_dir()) / "models" / cand.alias
        folder = prepared if (prepared / SOURCE_FILE).is_file() else None
        if folder is None:
            return None, f"whitespace words: {cand.alias} is not prepared yet (damoc models prepare {cand.alias})"
    if folder is None:
        return None, f"whitespace words: the tokenizer of {cand.name} is not on disk (hub id or GGUF file)"
    try:
        tokenizer = load_tokenizer(folder, trust_remote_code=cand.trust_remote_code)
    except Exception as exc:  # any loading failure only changes the unit of the statistics
        return None, f"whitespace words: the tokenizer in {folder} did not load ({type(exc).__name__}: {exc})"
    return tokenizer, f"tokens of {cand.name}'s tokenizer ({folder})"


def _lengths(data: SplitData, spec: PromptSpec, tokenizer: Any, problems: list[Problem]) -> list[int]:
    """Prompt + answer length of every example; a template that fails on one is a problem there."""
    lengths = []
    for ex, line in zip(data.examples, data.lines, strict=True):
        try:
            text = render_prompt(ex, spec, tokenizer) + target_text(ex, spec, tokenizer)
        except Exception as exc:  # the user's template on this record: report, do not crash
            msg = f"task.template does not render this record: {type(exc).__name__}: {exc}"
            problems.append(Problem(where=data.where, line=line, field="task.template", message=msg))
            continue
        lengths.append(len(tokenizer(text)["input_ids"]) if tokenizer is not None else len(text.split()))
    return lengths


def describe_split(
    split: Literal["train", "eval"],
    data: SplitData,
    task_type: TaskType,
    lengths: list[int],
    unit: Unit,
    labels: tuple[str, ...] | None = None,
) -> SplitCheck:
    """Counts, duplicates, choice, answer and label distributions and length percentiles of one split."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for ex, line in zip(data.examples, data.lines, strict=True):
        groups.setdefault(_key(ex, with_choices=True), []).append(line)
    dupes = [lines for lines in groups.values() if len(lines) > 1]
    mc = [ex for ex in data.examples if ex.choices is not None and isinstance(ex.answer, int)]
    positions = Counter(_position(ex.answer) for ex in mc if isinstance(ex.answer, int))
    label_counts = Counter(ex.choices[ex.answer] for ex in mc if isinstance(ex.answer, int) and ex.choices)
    return SplitCheck(
        split=split,
        source=data.where,
        shape=data.shape,
        examples=len(data.examples),
        duplicates=sum(len(lines) - 1 for lines in dupes),
        duplicate_lines=dupes[:MAX_LISTED],
        choice_counts=dict(sorted(Counter(len(ex.choices or ()) for ex in mc).items())),
        answer_positions=dict(sorted(positions.items())) if task_type == "multiple_choice" else {},
        label_counts={label: label_counts[label] for label in labels or ()},
        length=length_stats(lengths, unit) if lengths else None,
    )


def _position(index: int) -> str:
    return LETTERS[index] if index < len(LETTERS) else str(index + 1)


def find_leaks(train: SplitData, evals: SplitData) -> list[Leak]:
    """Eval examples whose context and question appear verbatim (up to whitespace) in train."""
    seen: dict[tuple[str, ...], int] = {}
    for ex, line in zip(train.examples, train.lines, strict=True):
        seen.setdefault(_key(ex, with_choices=False), line)
    leaks = []
    for ex, line in zip(evals.examples, evals.lines, strict=True):
        hit = seen.get(_key(ex, with_choices=False))
        if hit is not None:
            leaks.append(Leak(eval_line=line, train_line=hit, question=ex.question[:120]))
    return leaks


def _key(ex: Example, *, with_choices: bool) -> tuple[str, ...]:
    parts = [ex.context or "", ex.question, *(ex.choices or ())] if with_choices else [ex.context or "", ex.question]
    return tuple(" ".join(p.split()) for p in parts)


def length_stats(lengths: list[int], unit: Unit) -> LengthStats:
    """p50 / p90 / p99 (nearest rank) and max of ``lengths`` (non-empty)."""
    ordered = sorted(lengths)

    def rank(p: float) -> int:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    return LengthStats(unit=unit, p50=rank(50), p90=rank(90), p99=rank(99), max=ordered[-1])


def summary_rows(report: TaskCheckReport) -> tuple[list[str], list[list[str]]]:
    """Header and one row per split for a summary table (lengths in ``report.length_unit``)."""
    header = ["split", "shape", "examples", "dupes", "choices", "answer at", "p50", "p90", "p99", "max"]
    rows = []
    for s in report.splits:
        lengths = [str(getattr(s.length, p)) if s.length else "-" for p in ("p50", "p90", "p99", "max")]
        choices = " ".join(f"{n}:{c}" for n, c in s.choice_counts.items()) or "-"
        positions = " ".join(f"{k}:{v}" for k, v in s.answer_positions.items()) or "-"
        rows.append([s.split, s.shape, str(s.examples), str(s.duplicates), choices, positions, *lengths])
    return header, rows


def problem_rows(report: TaskCheckReport) -> tuple[list[str], list[list[str]]]:
    """Header and one row per problem: where (file:line), field, value found, what is wrong or expected."""
    rows = [[p.location, p.field or "-", p.value or "-", p.message] for p in report.problems]
    return ["where", "field", "value", "problem"], rows


def label_rows(report: TaskCheckReport) -> tuple[list[str], list[list[str]]]:
    """Header and one row per label of ``task.choices``: examples in each split (no rows without labels)."""
    labels = list(report.splits[0].label_counts) if report.splits else []
    rows = [[label, *(str(s.label_counts.get(label, 0)) for s in report.splits)] for label in labels]
    return ["label", *(s.split for s in report.splits)], rows
