"""Record shapes of user data, normalised into :class:`~damoc.tasks.load.Example` with every problem named.

Three shapes, detected per file (``task.format: auto``) or forced (``fields``, ``chat``, ``alpaca``):

- ``fields``: question, choices (a list column, or one column per choice), answer (text, letter or
  index, see :mod:`damoc.tasks.answers`) and an optional context, under the names of ``task.fields``;
- ``chat``: ``messages: [{role, content}]`` (OpenAI fine-tuning files, LLaMA-Factory) or sharegpt
  ``conversations: [{from, value}]``. The last assistant turn is the answer, the user turn before it
  the question; the system prompt and every other turn become the context;
- ``alpaca``: ``instruction``, optional ``input`` (appended to the question on a new line, as
  LLaMA-Factory does), ``output`` (the answer); optional ``system`` and ``history`` become the context.

A multiple-choice task needs a choices field in every shape, unless the task has one label set
(``task.choices``, classification): then the answer names a label, and in chat and alpaca records the
answer (the assistant turn or ``output``) must be the label text itself. Each problem is a
:class:`Problem` (file, line, record id, field, value, what is expected); readers and checkers
collect them, the pipeline raises the first one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from damoc.config import FieldMap, TaskType
from damoc.tasks.answers import AnswerFormat, Reading, RecordError, answer_index, choice_list, file_evidence
from damoc.tasks.answers import short as _short

Shape = Literal["fields", "chat", "alpaca"]
RecordFormat = Literal["auto", "fields", "chat", "alpaca"]
SHAREGPT_KEY = "conversations"
ROLES = {
    **dict.fromkeys(("user", "human"), "user"),
    **dict.fromkeys(("assistant", "gpt", "model", "bot"), "assistant"),
    "system": "system",
    **dict.fromkeys(("tool", "observation", "function", "function_call", "ipython"), "tool"),
}
T = TypeVar("T")


class Problem(BaseModel):
    """One thing wrong with the data: where (file, line, record id), which field, the value found and
    what was expected."""

    model_config = ConfigDict(frozen=True)

    where: str
    line: int | None = None
    record: str | None = None
    field: str | None = None
    value: str | None = None
    message: str

    @property
    def location(self) -> str:
        """``file:line (id 'q3')``, as far as it is known."""
        at = f"{self.where}:{self.line}" if self.line is not None else self.where
        return f"{at} (id {self.record!r})" if self.record is not None else at

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class TaskFields(FieldMap):
    """``task.fields`` with the task's label set (``task.choices``), as the record readers need them."""

    labels: tuple[str, ...] | None = Field(None, description="task.choices: one label set for every record")


def problem_at(error: RecordError, where: str, line: int | None, record: str | None = None) -> Problem:
    """``error`` as a :class:`Problem` at ``where:line`` in the record with id ``record``."""
    value = None if error.value is None else _short(error.value)
    return Problem(where=where, line=line, record=record, field=error.field, value=value, message=error.message)


# ---------------------------------------------------------------- shape detection


def detect_shape(rec: dict[str, Any], fields: FieldMap) -> Shape | None:
    """The shape of one record, or None when it matches none (the question field wins)."""
    if fields.question in rec:
        return "fields"
    if _messages_key(rec, fields) is not None:
        return "chat"
    if fields.instruction in rec:
        return "alpaca"
    return None


def file_shape(records: list[tuple[int, dict[str, Any]]], fields: FieldMap, fmt: RecordFormat) -> Shape:
    """The shape of a file: ``fmt`` when forced, else the first record that matches one (default fields)."""
    if fmt != "auto":
        return fmt
    return next((s for _, rec in records if (s := detect_shape(rec, fields)) is not None), "fields")


def _messages_key(rec: dict[str, Any], fields: FieldMap) -> str | None:
    return next((k for k in (fields.messages, SHAREGPT_KEY) if isinstance(rec.get(k), list)), None)


# ---------------------------------------------------------------- normalising


def normalise_records(
    records: list[tuple[int, dict[str, Any]]], shape: Shape, fields: FieldMap, task_type: TaskType
) -> list[tuple[dict[str, Any] | None, list[RecordError]]]:
    """The Example fields of every record (``id`` excluded), or None, and every problem found in each.

    Answers are resolved after all records are read: with ``answer_format: auto`` an answer that is
    both a choice text and a letter or index of another choice is refused only when other records
    of the file give their answers as letters or indices (see :mod:`damoc.tasks.answers`).
    """
    read = [record_parts(rec, shape, fields, task_type) for _, rec in records]
    pending = [(p["answer"], p["choices"]) for p, _ in read if p is not None and p.get("choices") is not None]
    evidence = file_evidence(pending)
    labels = fields.labels if isinstance(fields, TaskFields) else None
    # a label set makes a chat/alpaca answer the label itself: "1" must not read as an index there
    fmt: AnswerFormat = (
        "text" if labels and shape != "fields" and fields.answer_format == "auto" else fields.answer_format
    )
    out = []
    for parts, errors in read:
        if parts is not None and task_type == "multiple_choice":
            _resolve_answer(parts, errors, fmt, evidence, labels is not None)
        ok = parts is not None and not errors
        out.append(
            ({k: parts[k] for k in ("question", "answer", "choices", "context")} if parts and ok else None, errors)
        )
    return out


def _resolve_answer(
    parts: dict[str, Any], errors: list[RecordError], fmt: AnswerFormat, evidence: frozenset[Reading], labels: bool
) -> None:
    """Replace the answer as found by the index of its choice (a problem when it names none)."""
    if parts["choices"] is None:
        return  # the choices problem is in errors already
    args = (parts["answer"], parts["choices"], parts["answer_field"], fmt, evidence, labels)
    parts["answer"] = _attempt(errors, answer_index, *args)


def record_parts(
    rec: dict[str, Any], shape: Shape, fields: FieldMap, task_type: TaskType
) -> tuple[dict[str, Any] | None, list[RecordError]]:
    """Question, context, answer as found, and the choices of one record (answer not yet resolved)."""
    errors: list[RecordError] = []
    reader = {"fields": _fields_parts, "chat": _chat_parts, "alpaca": _alpaca_parts}[shape]
    parts = reader(rec, fields, errors)  # None: no answer was found; other problems are in ``errors``
    if task_type == "multiple_choice":
        labels = fields.labels if isinstance(fields, TaskFields) else None
        hint = f"; {shape} records of a multiple_choice task need it too (or set task.type: qa)"
        choices = labels or _attempt(errors, choice_list, rec, fields.choices, hint if shape != "fields" else "")
        if parts is not None:
            parts["choices"] = choices
    elif parts is not None:
        parts["answer"] = _attempt(errors, answer_text, parts["answer"], parts["answer_field"])
        parts["choices"] = None
    return parts, errors


def _attempt(errors: list[RecordError], fn: Callable[..., T], *args: Any) -> T | None:
    try:
        return fn(*args)
    except RecordError as exc:
        errors.append(exc)
        return None


def text_field(rec: dict[str, Any], key: str, hint: str = "") -> str:
    """A required non-empty text field."""
    if key not in rec:
        present = ", ".join(map(str, rec)) or "none"
        raise RecordError(f"missing field {key!r} (fields present: {present}){hint}", field=key)
    value = rec[key]
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"field {key!r} must be non-empty text, got {_short(value)}", field=key, value=value)
    return value


def _fields_parts(rec: dict[str, Any], fields: FieldMap, errors: list[RecordError]) -> dict[str, Any] | None:
    hint = "; chat records need 'messages', alpaca records 'instruction' and 'output'"
    question = _attempt(errors, text_field, rec, fields.question, hint)
    context = _attempt(errors, text_field, rec, fields.context) if fields.context else None
    if fields.answer not in rec:
        errors.append(RecordError(f"missing field {fields.answer!r}", field=fields.answer))
        return None
    return {"question": question, "context": context, "answer": rec[fields.answer], "answer_field": fields.answer}


def _alpaca_parts(rec: dict[str, Any], fields: FieldMap, errors: list[RecordError]) -> dict[str, Any] | None:
    instruction = _attempt(errors, text_field, rec, fields.instruction)
    extra = rec.get(fields.input)
    if extra is not None and not isinstance(extra, str):
        errors.append(
            RecordError(f"field {fields.input!r} must be text when given, got {_short(extra)}", fields.input, extra)
        )
    context = _attempt(errors, _alpaca_context, rec)
    if fields.output not in rec:
        errors.append(RecordError(f"missing field {fields.output!r} (the alpaca answer)", field=fields.output))
        return None
    question = f"{instruction}\n{extra}" if instruction and isinstance(extra, str) and extra.strip() else instruction
    return {"question": question, "context": context, "answer": rec[fields.output], "answer_field": fields.output}


def _alpaca_context(rec: dict[str, Any]) -> str | None:
    """LLaMA-Factory's optional ``system`` prompt and ``history`` ([[query, response], ...]) as text."""
    turns: list[tuple[str, str]] = []
    system = rec.get("system")
    if isinstance(system, str) and system.strip():
        turns.append(("system", system))
    history = rec.get("history") or []
    ok = isinstance(history, list) and all(isinstance(h, list) and len(h) == 2 for h in history)
    if not ok:
        raise RecordError(
            f"field 'history' must be a list of [query, response] pairs, got {_short(history)}", "history", history
        )
    for query, response in history:
        turns += [("user", str(query)), ("assistant", str(response))]
    return render_turns(turns)


def render_turns(turns: list[tuple[str, str]]) -> str | None:
    """Earlier conversation as plain text, one ``Role: content`` line per turn (None when empty)."""
    return "\n".join(f"{role.title()}: {content}" for role, content in turns) or None


# ---------------------------------------------------------------- chat


def _chat_parts(rec: dict[str, Any], fields: FieldMap, errors: list[RecordError]) -> dict[str, Any] | None:
    key = _messages_key(rec, fields)
    if key is None:
        found = rec.get(fields.messages, rec.get(SHAREGPT_KEY))
        errors.append(RecordError(
            f"missing chat turns: expected a list field {fields.messages!r} ([{{role, content}}]) or "
            f"{SHAREGPT_KEY!r} ([{{from, value}}]), fields present: {', '.join(map(str, rec)) or 'none'}",
            field=fields.messages, value=found,
        ))  # fmt: skip
        return None
    n = len(errors)
    turns = [t for i, raw in enumerate(rec[key]) if (t := _attempt(errors, parse_turn, raw, f"{key}[{i}]"))]
    if len(errors) > n:
        return None
    system = rec.get("system")
    if isinstance(system, str) and system.strip():
        turns.insert(0, ("system", system))
    return _attempt(errors, split_turns, turns, key)


def parse_turn(raw: Any, where: str) -> tuple[str, str]:
    """(role, content) of one turn: ``{role, content}`` or sharegpt ``{from, value}``."""
    if not isinstance(raw, dict):
        raise RecordError(f"field {where!r} must be an object with role/content, got {_short(raw)}", where, raw)
    role_key, content_key = ("role", "content") if "role" in raw else ("from", "value")
    role = ROLES.get(str(raw.get(role_key, "")).lower())
    if role is None:
        allowed = ", ".join(sorted(ROLES))
        raise RecordError(f"field '{where}.{role_key}': unknown role {raw.get(role_key)!r}; expected one of {allowed}",
                          f"{where}.{role_key}", raw.get(role_key))  # fmt: skip
    content = raw.get(content_key)
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if content is None and (role == "tool" or "tool_calls" in raw):
        content = ""
    if not isinstance(content, str):
        raise RecordError(
            f"field '{where}.{content_key}' must be text, got {_short(content)}", f"{where}.{content_key}", content
        )
    return role, content


def split_turns(turns: list[tuple[str, str]], key: str) -> dict[str, Any]:
    """Answer = last assistant turn, question = the user turn before it, context = every other turn."""
    answer_at = max((i for i, (role, _) in enumerate(turns) if role == "assistant"), default=None)
    if answer_at is None:
        roles = [r for r, _ in turns]
        raise RecordError(f"field {key!r} has no assistant turn (the answer); roles found: {roles}", key)
    question_at = max((i for i, (role, _) in enumerate(turns[:answer_at]) if role == "user"), default=None)
    if question_at is None:
        raise RecordError(f"field {key!r} has no user turn before the last assistant turn (the question)", key)
    question = turns[question_at][1]
    if not question.strip():
        raise RecordError(f"field '{key}[{question_at}]': the question (last user turn) is empty", key, question)
    others = [t for i, t in enumerate(turns[:answer_at]) if i != question_at]
    answer_field = f"{key}[{answer_at}]"
    return {
        "question": question,
        "context": render_turns(others),
        "answer": turns[answer_at][1],
        "answer_field": answer_field,
    }


# ---------------------------------------------------------------- qa answers


def answer_text(ans: Any, field: str) -> str:
    """A QA answer: non-empty text (the first of a list of accepted answers)."""
    if isinstance(ans, list) and ans:
        ans = ans[0]
    if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or not str(ans).strip():
        raise RecordError(f"field {field!r} must be a non-empty answer text, got {_short(ans)}", field, ans)
    return str(ans)
