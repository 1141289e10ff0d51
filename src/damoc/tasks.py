"""Task data: reading user files into :class:`Example` records, and building prompts.

Two task types:
- ``multiple_choice``: each choice is scored by the log-likelihood of its text after the prompt.
- ``qa``: the answer is generated greedily and compared with exact match and token F1.
"""

from __future__ import annotations

import contextlib
import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from damoc.config import FieldMap, SourceSpec, TaskConfig, TaskType
from damoc.errors import DataError

BUNDLED_DIR = Path(__file__).parent / "bundled_tasks"
LETTERS = "ABCDEFGHIJ"


@dataclass(frozen=True)
class Example:
    """One normalised example. ``answer`` is a choice index (multiple_choice) or the text (qa)."""

    id: str
    question: str
    answer: int | str
    choices: tuple[str, ...] | None = None
    context: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["choices"] = list(self.choices) if self.choices is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Example:
        choices = tuple(d["choices"]) if d.get("choices") is not None else None
        return cls(
            id=str(d["id"]), question=d["question"], answer=d["answer"], choices=choices, context=d.get("context")
        )


# ---------------------------------------------------------------- prompts


def build_prompt(ex: Example) -> str:
    """The text the model sees before its answer (lm-evaluation-harness ARC style)."""
    head = f"Context: {ex.context}\n" if ex.context else ""
    return f"{head}Question: {ex.question}\nAnswer:"


def choice_continuations(ex: Example) -> list[str]:
    """The continuation scored for each choice (a leading space, as lm-eval does)."""
    if ex.choices is None:
        raise DataError(f"example {ex.id}: has no choices")
    return [f" {c}" for c in ex.choices]


def target_text(ex: Example) -> str:
    """What fine-tuning teaches the model to write after the prompt."""
    if ex.choices is not None and isinstance(ex.answer, int):
        return f" {ex.choices[ex.answer]}"
    return f" {ex.answer}"


# ---------------------------------------------------------------- bundled tasks


def bundled_task_names() -> list[str]:
    """Names of the tasks shipped inside the package."""
    return sorted(p.name for p in BUNDLED_DIR.iterdir() if (p / "card.yaml").is_file()) if BUNDLED_DIR.is_dir() else []


def bundled_task_card(name: str) -> dict[str, Any]:
    """The task card (source, licence, sizes, fields, metric) of a bundled task."""
    import yaml

    path = BUNDLED_DIR / name / "card.yaml"
    if not path.is_file():
        raise DataError(f"unknown bundled task {name!r}; available: {', '.join(bundled_task_names()) or 'none'}")
    card: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return card


def task_sources(task: TaskConfig) -> tuple[SourceSpec, SourceSpec, FieldMap, TaskType]:
    """Resolve a task config (bundled or user files) to its train/eval sources, fields and type."""
    if task.bundled is None:
        assert task.train is not None and task.eval is not None
        return task.train, task.eval, task.fields, task.type
    card = bundled_task_card(task.bundled)
    folder = BUNDLED_DIR / task.bundled
    fields = FieldMap(**card.get("fields", {}))
    return SourceSpec(path=folder / "train.jsonl"), SourceSpec(path=folder / "eval.jsonl"), fields, card["type"]


# ---------------------------------------------------------------- reading


def load_split(source: SourceSpec, fields: FieldMap, task_type: TaskType, split: str) -> list[Example]:
    """Read one split and normalise every record; errors name the file, line and field."""
    if source.hf is not None:
        where = f"{source.hf}[{source.split}]"
        records = _read_hub(source)
    else:
        assert source.path is not None
        where = str(source.path)
        records = read_records(source.path)
    if not records:
        raise DataError(f"{where}: no examples in the {split} split")
    return [to_example(rec, fields, task_type, where, line, f"{split}-{line}") for line, rec in records]


def read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line or row number, record) pairs from a .jsonl / .json / .csv / .parquet file."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    if suffix not in readers:
        raise DataError(f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(readers)}")
    try:
        return readers[suffix](path)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(rec, dict):
                raise DataError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}")
            out.append((n, rec))
    return out


def _read_json(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: expected a JSON list of objects (or {{'data': [...]}})")
    return list(enumerate(data, start=1))


def _read_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return [(n, dict(row)) for n, row in enumerate(csv.DictReader(fh), start=2)]


def _read_parquet(path: Path) -> list[tuple[int, dict[str, Any]]]:
    import pyarrow.parquet as pq

    return list(enumerate(pq.read_table(path).to_pylist(), start=1))


def _read_hub(source: SourceSpec) -> list[tuple[int, dict[str, Any]]]:
    import datasets

    try:
        ds = datasets.load_dataset(source.hf, source.subset, split=source.split)
    except Exception as exc:  # network, missing dataset or split: one message either way
        raise DataError(f"hub dataset {source.hf} (split {source.split!r}) could not be loaded: {exc}") from None
    return list(enumerate((dict(r) for r in ds), start=1))


# ---------------------------------------------------------------- normalising


def to_example(
    rec: dict[str, Any], fields: FieldMap, task_type: TaskType, where: str, line: int, fallback_id: str
) -> Example:
    """Normalise one record; raise DataError naming ``where:line`` and the field."""
    loc = f"{where}:{line}"
    question = _text_field(rec, fields.question, loc)
    context = _text_field(rec, fields.context, loc) if fields.context else None
    ex_id = str(rec.get("id", fallback_id))
    if task_type == "qa":
        answer = rec.get(fields.answer)
        if isinstance(answer, list) and answer:
            answer = answer[0]
        if not isinstance(answer, (str, int, float)) or not str(answer).strip():
            raise DataError(f"{loc}: field {fields.answer!r} must be a non-empty answer text, got {answer!r}")
        return Example(id=ex_id, question=question, answer=str(answer), context=context)
    choices = _choices(rec, fields, loc)
    return Example(
        id=ex_id, question=question, answer=_answer_index(rec, fields, choices, loc), choices=choices, context=context
    )


def _text_field(rec: dict[str, Any], key: str | None, loc: str) -> str:
    if key not in rec:
        raise DataError(f"{loc}: missing field {key!r} (fields present: {', '.join(map(str, rec))})")
    value = rec[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{loc}: field {key!r} must be non-empty text, got {value!r}")
    return value


def _choices(rec: dict[str, Any], fields: FieldMap, loc: str) -> tuple[str, ...]:
    key = fields.choices or "choices"
    raw: Any = rec.get(key)
    if raw is None and all(letter in rec for letter in "AB"):
        raw = [rec[k] for k in LETTERS if rec.get(k) not in (None, "")]
    if isinstance(raw, str):
        with contextlib.suppress(json.JSONDecodeError):
            raw = json.loads(raw)  # csv cells hold lists as JSON text
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):
        raw = raw["text"]  # the hub's {"label": [...], "text": [...]} shape
    if not isinstance(raw, list) or not all(isinstance(c, (str, int, float)) for c in raw):
        raise DataError(f"{loc}: field {key!r} must be a list of choice texts (or columns A, B, ...), got {raw!r}")
    choices = tuple(str(c) for c in raw)
    if len(choices) < 2:
        raise DataError(f"{loc}: field {key!r} needs at least two choices, got {len(choices)}")
    return choices


def _answer_index(rec: dict[str, Any], fields: FieldMap, choices: tuple[str, ...], loc: str) -> int:
    if fields.answer not in rec:
        raise DataError(f"{loc}: missing field {fields.answer!r}")
    ans = rec[fields.answer]
    if isinstance(ans, str) and ans.strip().isdigit():
        ans = int(ans.strip())
    if isinstance(ans, bool) or not isinstance(ans, (int, str)):
        raise DataError(f"{loc}: field {fields.answer!r} must be an index, a letter or a choice text, got {ans!r}")
    if isinstance(ans, int):
        if 0 <= ans < len(choices):
            return ans
        raise DataError(f"{loc}: answer index {ans} is out of range for {len(choices)} choices")
    letter = ans.strip().upper()
    if len(letter) == 1 and letter in LETTERS[: len(choices)]:
        return LETTERS.index(letter)
    if ans in choices:
        return choices.index(ans)
    raise DataError(f"{loc}: answer {ans!r} is not among the choices {list(choices)}")


# ---------------------------------------------------------------- normalised files


def write_examples(path: Path, examples: list[Example]) -> None:
    """Write normalised examples as JSONL (one object per line)."""
    from damoc.artifacts import write_text_atomic

    write_text_atomic(path, "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in examples))


def read_examples(path: Path) -> list[Example]:
    """Read a JSONL file written by :func:`write_examples`."""
    return [Example.from_json(rec) for _, rec in _read_jsonl(path)]


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
