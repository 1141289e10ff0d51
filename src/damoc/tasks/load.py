"""Task data: reading user files (any record shape, see :mod:`damoc.tasks.formats`) into :class:`Example`.

Prompts are built in :mod:`damoc.tasks.prompts`; ``build_prompt``, ``choice_continuations`` and
``target_text`` are re-exported here with their default (plain template) behaviour. Two task types:
- ``multiple_choice``: each choice is scored by the log-likelihood of its text after the prompt.
- ``qa``: the answer is generated greedily and compared with exact match and token F1.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from damoc.config import FieldMap, SourceSpec, TaskConfig, TaskType
from damoc.errors import DataError
from damoc.tasks.example import Example
from damoc.tasks.formats import Problem, RecordFormat, Shape, TaskFields, file_shape, normalise_records, problem_at
from damoc.tasks.prompts import LETTERS, build_prompt, choice_continuations, target_text

BUNDLED_DIR = Path(__file__).parent.parent / "bundled_tasks"
__all__ = [
    "BUNDLED_DIR", "LETTERS", "Example", "SplitData", "build_prompt", "bundled_task_card", "bundled_task_names",
    "choice_continuations", "export_bundled_task", "load_split", "read_examples", "read_records", "read_split",
    "target_text", "task_sources", "write_examples",
]  # fmt: skip


# ---------------------------------------------------------------- bundled tasks


def bundled_task_names() -> list[str]:
    """Names of the tasks shipped inside the package."""
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "card.yaml").is_file()) if BUNDLED_DIR.is_dir() else []


def bundled_task_card(name: str) -> dict[str, Any]:
    """The task card (source, licence, sizes, fields, metric) of a bundled task.

    Measured checks (``checks.yaml``, written by ``benchmarks/task_checks.py``) are merged in under
    ``checks``, so the generated card and the measured numbers stay in separate files.
    """
    import yaml

    folder = BUNDLED_DIR / name
    if not (folder / "card.yaml").is_file():
        raise DataError(f"unknown bundled task {name!r}; available: {', '.join(bundled_task_names()) or 'none'}")
    card: dict[str, Any] = yaml.safe_load((folder / "card.yaml").read_text(encoding="utf-8"))
    if (folder / "checks.yaml").is_file():
        card.update(yaml.safe_load((folder / "checks.yaml").read_text(encoding="utf-8")))
    return card


def with_bundled_defaults(data: Any) -> Any:
    """Raw task config with ``type`` and ``template`` taken from the bundled task's card where the user
    gives none (a card names a ``template`` only when its task needs one, e.g. to show the choices)."""
    if not (isinstance(data, dict) and data.get("bundled")) or ("type" in data and "template" in data):
        return data
    try:
        card = bundled_task_card(str(data["bundled"]))
    except DataError as exc:
        raise ValueError(str(exc)) from None
    defaults = {"type": card["type"], **({"template": card["template"]} if card.get("template") else {})}
    return {**defaults, **data}


def task_sources(task: TaskConfig) -> tuple[SourceSpec, SourceSpec, FieldMap, TaskType]:
    """Resolve a task config (bundled or user files) to its train/eval sources, fields and type.

    The fields carry the task's label set (``task.choices``) when it has one, as :class:`TaskFields`.
    """
    if task.bundled is None:
        assert task.train is not None and task.eval is not None
        fields = task.fields if task.choices is None else TaskFields(**dict(task.fields), labels=task.choices)
        return task.train, task.eval, fields, task.type
    card = bundled_task_card(task.bundled)
    folder = BUNDLED_DIR / task.bundled
    fields = FieldMap(**card.get("fields", {}))
    return SourceSpec(path=folder / "train.jsonl"), SourceSpec(path=folder / "eval.jsonl"), fields, card["type"]


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class SplitData:
    """One split as read: its examples, the record shape used, and every problem found."""

    where: str
    shape: Shape
    examples: list[Example]
    problems: list[Problem]
    lines: list[int]


def load_split(
    source: SourceSpec, fields: FieldMap, task_type: TaskType, split: str, *, fmt: RecordFormat = "auto"
) -> list[Example]:
    """Read one split and normalise every record; the first problem raises DataError naming file:line.

    Args:
        source: a local file or a hub dataset.
        fields: column names and answer format (``task.fields``), with the label set when the task
            has one (:class:`~damoc.tasks.formats.TaskFields`, from :func:`task_sources`).
        task_type: ``multiple_choice`` or ``qa``.
        split: ``train`` or ``eval`` (used in ids and messages).
        fmt: record shape, ``auto`` (detected per file), ``fields``, ``chat`` or ``alpaca``.
    """
    data = read_split(source, fields, task_type, split, fmt=fmt)
    if data.problems:
        raise DataError(str(data.problems[0]))
    return data.examples


def read_split(
    source: SourceSpec, fields: FieldMap, task_type: TaskType, split: str, *, fmt: RecordFormat = "auto"
) -> SplitData:
    """Like :func:`load_split`, but collect every problem instead of raising (``damoc tasks check``)."""
    where = f"{source.hf}[{source.split}]" if source.hf is not None else str(source.path)
    problems: list[Problem] = []
    try:
        records = _read_hub(source) if source.path is None else read_records(source.path, problems)
    except DataError as exc:
        return SplitData(where, "fields", [], [Problem(where=where, message=_strip_where(str(exc), where))], [])
    shape = file_shape(records, fields, fmt)
    examples, lines = [], []
    for (line, rec), (parts, errors) in zip(records, normalise_records(records, shape, fields, task_type), strict=True):
        record = None if rec.get("id") in (None, "") else str(rec["id"])
        problems += [problem_at(e, where, line, record) for e in errors]
        if parts is not None:
            examples.append(Example(id=record or f"{split}-{line}", **parts))
            lines.append(line)
    if not records and not problems:
        problems.append(Problem(where=where, message=f"no examples in the {split} split"))
    problems.sort(key=lambda p: p.line or 0)
    return SplitData(where, shape, examples, problems, lines)


def _strip_where(message: str, where: str) -> str:
    return message.removeprefix(f"{where}: ")


def read_records(path: Path, problems: list[Problem] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line or row number, record) pairs from a .jsonl / .json / .csv / .parquet file.

    Args:
        path: the data file.
        problems: where malformed lines are collected; ``None`` raises DataError on the first.
    """
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    suffix = path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    if suffix not in readers:
        raise DataError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(readers)}")
    sink: list[Problem] = [] if problems is None else problems
    try:
        records = readers[suffix](path, sink)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if problems is None and sink:
        raise DataError(str(sink[0]))
    return records


def _read_jsonl(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                msg = f"malformed JSON ({exc.msg} at column {exc.colno})"
                problems.append(Problem(where=str(path), line=n, value=line.strip()[:80], message=msg))
                continue
            if not isinstance(rec, dict):
                problems.append(
                    Problem(where=str(path), line=n, message=f"expected a JSON object, got {type(rec).__name__}")
                )
                continue
            out.append((n, rec))
    return out


def _read_json(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(Problem(where=str(path), line=exc.lineno, message=f"malformed JSON ({exc.msg})"))
        return []
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of objects (or {{'data': [...]}})")
    for n, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            problems.append(
                Problem(where=str(path), line=n, message=f"item {n}: expected a JSON object, got {type(rec).__name__}")
            )
    return [(n, rec) for n, rec in enumerate(data, start=1) if isinstance(rec, dict)]


def _read_csv(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [(n, dict(row)) for n, row in enumerate(csv.DictReader(fh), start=2)]


def _read_parquet(path: Path, problems: list[Problem]) -> list[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    return list(enumerate(pq.read_table(path).to_pylist(), start=1))


def _read_hub(source: SourceSpec) -> list[tuple[int, dict[str, Any]]]:
    import datasets

    try:
        ds = datasets.load_dataset(source.hf, source.subset, split=source.split)
    except Exception as exc:  # network, missing dataset or split: one message either way
        raise DataError(f"hub dataset {source.hf} (split {source.split!r}) could not be loaded: {exc}") from None
    return list(enumerate((dict(r) for r in ds), start=1))


# ---------------------------------------------------------------- normalised files


def write_examples(path: Path, examples: list[Example]) -> None:
    """Write normalised examples as JSONL (one object per line)."""
    from damoc.artifacts import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in examples))


def read_examples(path: Path) -> list[Example]:
    """Read a JSONL file written by :func:`write_examples`."""
    return [Example.from_json(rec) for _, rec in read_records(path)]


def export_bundled_task(name: str, out_dir: Path) -> list[Path]:
    """Copy a bundled task's normalised splits to ``out_dir/{train,eval}.jsonl``; return the paths."""
    card = bundled_task_card(name)  # raises with the available names if unknown
    fields = FieldMap(**card.get("fields", {}))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split in ("train", "eval"):
        examples = load_split(SourceSpec(path=BUNDLED_DIR / name / f"{split}.jsonl"), fields, card["type"], split)
        path = out_dir / f"{split}.jsonl"
        write_examples(path, examples)
        paths.append(path)
    return paths
