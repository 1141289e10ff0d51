"""Record shapes of user data, normalised into :class:`~damoc.tasks.load.Example` with every problem named.

Three shapes, detected per file (``task.format: auto``) or forced (``fields``, ``chat``, ``alpaca``):

- ``fields``: question, choices (a list, or columns ``A``..``J``), answer (index, letter or text) and
  an optional context, under the names of ``task.fields``;
- ``chat``: ``messages: [{role, content}]`` (OpenAI fine-tuning files, LLaMA-Factory) or sharegpt
  ``conversations: [{from, value}]``. The last assistant turn is the answer, the user turn before it
  the question; the system prompt and every other turn become the context;
- ``alpaca``: ``instruction``, optional ``input`` (appended to the question on a new line, as
  LLaMA-Factory does), ``output`` (the answer); optional ``system`` and ``history`` become the context.

A multiple-choice task needs a choices field in every shape. Each problem is a :class:`Problem`
(file, line, field, value, what is expected); readers and checkers collect them, the pipeline raises
the first one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from damoc.config import FieldMap, TaskType
from damoc.tasks.prompts import LETTERS

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
    """One thing wrong with the data: where, which field, the value found and what was expected."""

    model_config = ConfigDict(frozen=True)

    where: str
    line: int | None = None
    field: str | None = None
    value: str | None = None
    message: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.message}" if self.line is not None else f"{self.where}: {self.message}"


class RecordError(Exception):
    """A problem inside one record; becomes a :class:`Problem` once its file and line are known."""

    def __init__(self, message: str, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message, self.field, self.value = message, field, value

    def at(self, where: str, line: int | None) -> Problem:
        """This error as a :class:`Problem` at ``where:line``."""
        value = None if self.value is None else _short(self.value)
        return Problem(where=where, line=line, field=self.field, value=value, message=self.message)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def normalise_record(
    rec: dict[str, Any], shape: Shape, fields: FieldMap, task_type: TaskType
) -> tuple[dict[str, Any] | None, list[RecordError]]:
    """The Example fields of one record (``id`` excluded), and every problem found in it."""
    errors: list[RecordError] = []
    reader = {"fields": _fields_parts, "chat": _chat_parts, "alpaca": _alpaca_parts}[shape]
    parts = reader(rec, fields, errors)  # None: no answer was found; other problems are in ``errors``
    if task_type == "multiple_choice":
        choices = _attempt(errors, choice_list, rec, fields, shape)
        if parts is not None and choices is not None:
            parts["answer"] = _attempt(errors, answer_index, parts["answer"], choices, parts["answer_field"])
            parts["choices"] = choices
    elif parts is not None:
        parts["answer"] = _attempt(errors, answer_text, parts["answer"], parts["answer_field"])
    if errors or parts is None:
        return None, errors
    return {k: parts.get(k) for k in ("question", "answer", "choices", "context")}, errors


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


# ---------------------------------------------------------------- choices and answers


def choice_list(rec: dict[str, Any], fields: FieldMap, shape: Shape = "fields") -> tuple[str, ...]:
    """Choice texts: a list (or JSON text of one, or the hub's ``{"text": [...]}``) or columns A, B, ..."""
    key = fields.choices or "choices"
    raw: Any = rec.get(key)
    if raw is None and all(letter in rec for letter in "AB"):
        raw = [rec[k] for k in LETTERS if rec.get(k) not in (None, "")]
    if isinstance(raw, str):
        with contextlib.suppress(json.JSONDecodeError):
            raw = json.loads(raw)  # csv cells hold lists as JSON text
    if isinstance(raw, dict) and isinstance(raw.get("text"), list):
        raw = raw["text"]
    if not isinstance(raw, list) or not all(isinstance(c, (str, int, float)) for c in raw):
        hint = (
            f"; {shape} records of a multiple_choice task need it too (or set task.type: qa)"
            if shape != "fields"
            else ""
        )
        raise RecordError(
            f"field {key!r} must be a list of choice texts (or columns A, B, ...), got {_short(raw)}{hint}", key, raw
        )
    choices = tuple(str(c) for c in raw)
    if len(choices) < 2:
        raise RecordError(f"field {key!r} needs at least two choices, got {len(choices)}", key, raw)
    return choices


def answer_index(ans: Any, choices: tuple[str, ...], field: str) -> int:
    """The 0-based index of the right choice, from an index, a letter or the choice text."""
    if isinstance(ans, str) and ans.strip().isdigit():
        ans = int(ans.strip())
    if isinstance(ans, bool) or not isinstance(ans, (int, str)):
        raise RecordError(f"field {field!r} must be an index, a letter or a choice text, got {_short(ans)}", field, ans)
    if isinstance(ans, int):
        if 0 <= ans < len(choices):
            return ans
        raise RecordError(f"answer index {ans} is out of range for {len(choices)} choices", field, ans)
    letter = ans.strip().upper()
    if len(letter) == 1 and letter in LETTERS[: len(choices)]:
        return LETTERS.index(letter)
    if ans in choices or ans.strip() in choices:
        return choices.index(ans if ans in choices else ans.strip())
    raise RecordError(f"answer {ans!r} is not among the choices {list(choices)}", field, ans)


def answer_text(ans: Any, field: str) -> str:
    """A QA answer: non-empty text (the first of a list of accepted answers)."""
    if isinstance(ans, list) and ans:
        ans = ans[0]
    if isinstance(ans, bool) or not isinstance(ans, (str, int, float)) or not str(ans).strip():
        raise RecordError(f"field {field!r} must be a non-empty answer text, got {_short(ans)}", field, ans)
    return str(ans)
