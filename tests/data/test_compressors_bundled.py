"""Every compressor on every bundled task's real training examples: answers, choices and answer spans intact."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from damoc.config import TaskConfig
from damoc.context import StageContext
from damoc.data.base import answer_text, has_span
from damoc.registry import registry
from damoc.tasks.load import Example, bundled_task_names, load_split, task_sources

SAMPLE = 8


def _sample(task: str) -> list[Example]:
    """A seeded sample of the task's training split."""
    train, _, fields, task_type = task_sources(TaskConfig.model_validate({"bundled": task}))
    examples = load_split(train, fields, task_type, "train")
    return random.Random(0).sample(examples, SAMPLE)


def _prompt_chars(examples: list[Example]) -> int:
    return sum(len(ex.question) + len(ex.context or "") for ex in examples)


@pytest.mark.parametrize("name", registry("compressor").names())
@pytest.mark.parametrize("task", bundled_task_names())
def test_every_compressor_keeps_every_bundled_tasks_answers(
    task: str, name: str, compressor_params: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    examples = _sample(task)
    method = registry("compressor").build(name, compressor_params(name))
    out = method.compress(examples, StageContext(device="cpu", cache_dir=tmp_path, seed=0))
    # 100% of ids, answers and choices unchanged, nothing dropped, no empty question
    assert [(e.id, e.answer, e.choices) for e in out] == [(e.id, e.answer, e.choices) for e in examples]
    assert all(e.question.strip() for e in out)
    # the right answer's text, wherever the prompt side held it, is still there (reading comprehension, QA)
    for before, after in zip(examples, out, strict=True):
        answer = answer_text(before)
        for field in ("question", "context"):
            if has_span(getattr(before, field) or "", answer):
                assert has_span(getattr(after, field) or "", answer), (task, name, before.id, field)
    assert _prompt_chars(out) <= _prompt_chars(examples)  # short questions (general_qa) are left as they are
