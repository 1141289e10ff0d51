"""Token compressors: the registry matrix, self-information word dropping, and use as a data step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from damoc.config import DataConfig, MethodSpec, TaskConfig
from damoc.context import StageContext
from damoc.data import compress_dataset
from damoc.data.compressors.self_information import word_information
from damoc.registry import registry
from damoc.tasks.load import Example, read_examples

COMPRESSORS = registry("compressor").names()
LONG = "In the small town by the river, the old baker counted the loaves twice, what is five plus four?"


def _params(name: str, tiny_model: Path) -> dict[str, Any]:
    fields = registry("compressor").get(name).Params.model_fields
    return {"reference_model": str(tiny_model), "batch_size": 4} if "reference_model" in fields else {}


@pytest.mark.parametrize("name", COMPRESSORS)
def test_every_compressor_keeps_answers_and_shortens(name: str, tiny_model_dirs: dict[str, Path]) -> None:
    examples = [
        Example(id="a", question=LONG, answer=1, choices=("eight", "nine")),
        Example(id="b", question="Short one?", answer="yes", context=LONG),
        Example(id="c", question="What is two plus two?", answer=0, choices=("four", "five")),
    ]
    cls = registry("compressor").get(name)
    assert all(f.description for f in cls.Params.model_fields.values())
    assert "arXiv" in (cls.__doc__ or "").splitlines()[0]
    method = registry("compressor").build(name, _params(name, tiny_model_dirs["llama"]))
    out = method.compress(examples, StageContext(device="cpu"))
    assert [(e.id, e.answer, e.choices) for e in out] == [(e.id, e.answer, e.choices) for e in examples]
    assert all(e.question.strip() for e in out)
    assert sum(len(e.question) + len(e.context or "") for e in out) < sum(
        len(e.question) + len(e.context or "") for e in examples
    )
    assert method.compress(examples, StageContext(device="cpu")) == out


def test_self_information_keeps_the_rate_of_words_in_order(tiny_model_dirs: dict[str, Path]) -> None:
    params = {"rate": 0.5, "min_words": 5, "reference_model": str(tiny_model_dirs["qwen2"])}
    method = registry("compressor").build("self_information", params)
    examples = [
        Example(id="a", question=LONG, answer="x"),
        Example(id="b", question="What is one plus two?", answer="x"),
    ]
    out = method.compress(examples, StageContext(device="cpu"))
    words, kept = LONG.split(), out[0].question.split()
    assert len(kept) == int(len(words) * 0.5 + 0.5)
    it = iter(words)
    assert all(w in it for w in kept)  # a subsequence: order kept, nothing invented
    assert out[1].question == "What is one plus two?"  # at most min_words words: unchanged


def test_word_information_sums_tokens_per_word() -> None:
    text = "ab cd e"
    spans = [(0, 2), (3, 5), (6, 7)]
    offsets = [(0, 1), (1, 2), (2, 4), (4, 5), (5, 7), (0, 0)]  # " c" and " e" carry their leading space
    info = word_information(spans, offsets, np.array([1.0, 2.0, 3.0, 4.0]))
    assert text[6:7] == "e"
    np.testing.assert_allclose(info, [3.0, 7.0, np.inf])  # "e" is past the scored tokens: kept


def test_compressor_runs_as_a_data_step(
    mc_files: tuple[Path, Path], tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    train, evals = mc_files
    task = TaskConfig.model_validate({"train": {"path": train}, "eval": {"path": evals}})
    steps = [
        MethodSpec(method="random", params={"keep_ratio": 0.5}),
        MethodSpec(
            method="self_information", params={"min_words": 2, "reference_model": str(tiny_model_dirs["llama"])}
        ),
    ]
    report = compress_dataset(task, DataConfig.model_validate({"steps": steps}), tmp_path / "out")
    assert [(s.kind, s.kept) for s in report.steps] == [("filter", 24), ("compressor", 24)]
    assert report.steps[1].characters_after < report.steps[0].characters_after
    assert len(read_examples(tmp_path / "out" / "train.jsonl")) == 24
    assert json.loads((tmp_path / "out" / "data.json").read_text())["steps"][1]["params"]["rate"] == 0.6
