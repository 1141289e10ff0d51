"""Choices and answers: the choice texts of a record and which of them its answer names.

Choices come from one list column, from one column per choice (``task.fields.choices: [opa, opb,
opc, opd]``, or columns ``A``..``J`` found by themselves), or from the task's own label set
(``task.choices``, for classification). ``task.fields.answer_format`` says how an answer names its
choice: ``text`` (the choice text), ``letter`` (A, B, ...), ``index`` (0-based), ``index1``
(1-based, MedMCQA's ``cop``) or ``auto``. ``auto`` reads an answer stored as text (every csv cell) as
the choice text when it is one, else as a letter or a 0-based index; an answer stored as a number
(JSON, parquet, hub datasets) is a 0-based index, as in hub datasets. A text answer that is a choice
text but, read as a letter or index, names another choice (``"3"`` among ``2, 3, 4, 5``) is read as
the text, unless other records of the same file give their answers as letters or indices: then it
is refused as ambiguous, never guessed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from damoc.tasks.prompts import LETTERS

AnswerFormat = Literal["auto", "text", "letter", "index", "index1"]
Reading = Literal["text", "letter", "index", "index1"]
READING_NAMES = {
    "text": "the choice text",
    "letter": "a letter",
    "index": "a 0-based index",
    "index1": "a 1-based index",
}


class RecordError(Exception):
    """A problem inside one record; :mod:`damoc.tasks.formats` turns it into a Problem at file:line."""

    def __init__(self, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message, self.field, self.value = message, field, value


def short(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- choices


def choice_list(rec: dict[str, Any], columns: str | tuple[str, ...] | None, hint: str = "") -> tuple[str, ...]:
    """Choice texts: a list (or JSON text of one, or the hub's ``{"text": [...]}``), or one column per choice.

    Args:
        rec: one record.
        columns: ``task.fields.choices``: the list column's name, or the names of the choice columns.
        hint: appended to the message when no choices are found.
    """
    if isinstance(columns, tuple):
        return column_choices(rec, columns)
    key = columns or "choices"
    raw: Any = rec.get(key)
    if raw is None and all(letter in rec for letter in "AB"):
        return column_choices(rec, tuple(k for k in LETTERS if k in rec))
    if isinstance(raw, str):
        with contextlib.suppress(json.JSONDecodeError):
            raw = json.loads(raw)  # csv cells hold lists as JSON text
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):
        raw = raw["text"]
    if not isinstance(raw, list) or not all(isinstance(c, (str, int, float)) for c in raw):
        raise RecordError(
            f"field {key!r} must be a list of choice texts (or columns A, B, ...), got {short(raw)}{hint}", key, raw
        )
    return _at_least_two(tuple(str(c) for c in raw), key, raw)


def column_choices(rec: dict[str, Any], columns: tuple[str, ...]) -> tuple[str, ...]:
    """One choice per column, in order; empty cells may only come last (fewer choices on that record)."""
    missing = [c for c in columns if c not in rec]
    if missing:
        present = ", ".join(map(str, rec)) or "none"
        raise RecordError(
            f"missing choice column(s) {missing} of task.fields.choices {list(columns)} (fields present: {present})",
            field=missing[0],
        )
    values = [rec[c] for c in columns]
    while values and _blank(values[-1]):
        values.pop()
    for column, value in zip(columns, values, strict=False):
        if _blank(value):
            raise RecordError(f"choice column {column!r} is empty but a later one is not", column, value)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise RecordError(f"choice column {column!r} must hold text, got {short(value)}", column, value)
    return _at_least_two(tuple(str(v) for v in values), ", ".join(columns), values)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _at_least_two(choices: tuple[str, ...], key: str, raw: Any) -> tuple[str, ...]:
    if len(choices) < 2:
        raise RecordError(f"field {key!r} needs at least two choices, got {len(choices)}", key, raw)
    return choices


# ---------------------------------------------------------------- answers


def answer_readings(ans: Any, choices: tuple[str, ...]) -> dict[Reading, int]:
    """Every way ``ans`` names a choice: its text, its letter, its 0-based or 1-based index."""
    out: dict[Reading, int] = {}
    texts = [str(ans).lower()] if isinstance(ans, bool) else _texts(ans)
    at = next((choices.index(t) for t in texts if t in choices), None)
    if at is not None:
        out["text"] = at
    if isinstance(ans, str) and len(ans.strip()) == 1 and ans.strip().upper() in LETTERS[: len(choices)]:
        out["letter"] = LETTERS.index(ans.strip().upper())
    number = _integer(ans)
    if number is not None and 0 <= number < len(choices):
        out["index"] = number
    if number is not None and 1 <= number <= len(choices):
        out["index1"] = number - 1
    return out


def _texts(ans: Any) -> list[str]:
    if isinstance(ans, str):
        return [ans, ans.strip()]
    if isinstance(ans, float) and ans.is_integer():
        return [str(int(ans)), str(ans)]  # 3.0 from a float column still names the choice "3"
    return [str(ans)] if isinstance(ans, (int, float)) else []


def _integer(ans: Any) -> int | None:
    if isinstance(ans, bool):
        return None
    if isinstance(ans, int):
        return ans
    if isinstance(ans, float) and ans.is_integer():
        return int(ans)
    return int(ans.strip()) if isinstance(ans, str) and ans.strip().isdigit() else None


def auto_reading(ans: Any, readings: dict[Reading, int]) -> Reading | None:
    """What ``auto`` reads first: an answer stored as text is a choice text, then a letter or 0-based
    index; one stored as a number (JSON, parquet, the hub) is an index, as in hub datasets, then a text."""
    order: tuple[Reading, ...] = ("text", "letter", "index") if isinstance(ans, str) else ("index", "text")
    return next((r for r in order if r in readings), None)


def file_evidence(answers: Iterable[tuple[Any, tuple[str, ...]]]) -> frozenset[Reading]:
    """How a file's records give their answers when ``auto`` does not read them as choice texts."""
    found = {auto_reading(ans, answer_readings(ans, choices)) for ans, choices in answers}
    return frozenset(r for r in found if r in ("letter", "index"))


def answer_index(
    ans: Any,
    choices: tuple[str, ...],
    field: str,
    fmt: AnswerFormat = "auto",
    evidence: frozenset[Reading] = frozenset(),
    labels: bool = False,
) -> int:
    """The 0-based index of the choice that ``ans`` names, read as ``fmt`` says (see the module docstring).

    Args:
        ans: the answer as found in the record.
        choices: the record's choices (or the task's labels).
        field: where the answer was found, for messages.
        fmt: ``task.fields.answer_format``.
        evidence: readings other records of the file can only have (:func:`file_evidence`); ``auto`` only.
        labels: the choices are ``task.choices`` (the messages say so).
    """
    readings = answer_readings(ans, choices)
    if fmt != "auto":
        if fmt in readings:
            return readings[fmt]
        raise RecordError(_unreadable(ans, choices, fmt, labels), field, ans)
    first = auto_reading(ans, readings)
    if first is None:
        raise RecordError(_unreadable(ans, choices, "auto", labels), field, ans)
    other = {r: i for r, i in readings.items() if r in evidence and i != readings[first]}
    if first == "text" and other:
        raise RecordError(_ambiguous(ans, choices, readings["text"], other), field, ans)
    return readings[first]


def _ambiguous(ans: Any, choices: tuple[str, ...], text_at: int, other: dict[Reading, int]) -> str:
    reading, at = next(iter(other.items()))
    also = " (index1 if they count from 1)" if reading == "index" else ""
    return (
        f"answer {short(ans)} is ambiguous: it is the text of {_choice(text_at, choices)}, but read as "
        f"{READING_NAMES[reading]}, as other records of this file give theirs, it names {_choice(at, choices)}; "
        f"set task.fields.answer_format: text or {reading}{also}"
    )


def _choice(at: int, choices: tuple[str, ...]) -> str:
    return f"choice {LETTERS[at] if at < len(LETTERS) else at} ({choices[at]!r})"


def _unreadable(ans: Any, choices: tuple[str, ...], fmt: AnswerFormat, labels: bool) -> str:
    """Why ``ans`` names no choice under ``fmt``, and what would."""
    n, listed = len(choices), list(choices)
    among = f"one of the labels in task.choices {listed}" if labels else f"among the choices {listed}"
    set_by = "" if fmt == "auto" or (labels and fmt == "text") else f" (task.fields.answer_format: {fmt})"
    number = _integer(ans)
    if fmt in ("index", "index1") and number is None:
        return f"answer {short(ans)} is not an integer index{set_by}"
    if number is not None and fmt in ("auto", "index", "index1"):
        low, high = (1, n) if fmt == "index1" else (0, n - 1)
        hint = "; 1-based answers (MedMCQA's cop): task.fields.answer_format: index1" if number == n else ""
        what = f"the {n} labels in task.choices" if labels else f"{n} choices"
        return f"answer index {number} is out of range for {what} (expected {low}..{high}){set_by}{hint}"
    if fmt == "letter":
        return f"answer {short(ans)} is not a letter A..{LETTERS[min(n, len(LETTERS)) - 1]}{set_by}"
    if not isinstance(ans, (str, int, float)):
        return f"answer must be an index, a letter or a choice text, got {short(ans)}"
    near = [c for c in choices if c.lower() == str(ans).strip().lower()]
    close = f" (differs only in case from {near[0]!r})" if near else ""
    return f"answer {short(ans)} is not {among}{close}{set_by}"
