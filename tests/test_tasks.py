"""Reading user data: every supported shape, and a clear error (file, line, field) for broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from damoc.config import FieldMap, SourceSpec
from damoc.errors import DataError
from damoc.tasks import (
    Example,
    build_prompt,
    choice_continuations,
    load_split,
    read_examples,
    target_text,
    write_examples,
)

MC = {"question": "What is the capital of Peru?", "choices": ["Quito", "Lima", "Bogota"], "answer": 1}


def load(path: Path, fields: FieldMap | None = None, task_type: str = "multiple_choice") -> list[Example]:
    return load_split(SourceSpec(path=path), fields or FieldMap(), task_type, "train")  # type: ignore[arg-type]


def jsonl(tmp_path: Path, *recs: object, name: str = "d.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


@pytest.mark.parametrize("answer", [1, "1", "B", "b", "Lima"])
def test_answer_as_index_letter_or_text(tmp_path: Path, answer: object) -> None:
    (ex,) = load(jsonl(tmp_path, {**MC, "answer": answer}))
    assert ex.answer == 1 and ex.choices == ("Quito", "Lima", "Bogota")


def test_json_csv_parquet_and_letter_columns(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps([MC]))
    assert load(tmp_path / "d.json")[0].answer == 1
    (tmp_path / "d.csv").write_text('question,A,B,C,answer\n"What is the capital of Peru?",Quito,Lima,Bogota,B\n')
    assert load(tmp_path / "d.csv")[0].choices == ("Quito", "Lima", "Bogota")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([MC]), tmp_path / "d.parquet")
    assert load(tmp_path / "d.parquet")[0].answer == 1


def test_field_mapping_and_qa_with_context(tmp_path: Path) -> None:
    rec = {"q": "Who wrote it?", "ctx": "It was written by Ada.", "a": ["Ada", "Ada L."]}
    (ex,) = load(jsonl(tmp_path, rec), FieldMap(question="q", choices=None, answer="a", context="ctx"), "qa")
    assert ex.answer == "Ada" and ex.context == "It was written by Ada."
    assert build_prompt(ex) == "Context: It was written by Ada.\nQuestion: Who wrote it?\nAnswer:"
    assert target_text(ex) == " Ada"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"question": "x", "choices": ["a", "b"], "answer": 0}\n{broken\n', r"d.jsonl:2: malformed JSON"),
        ('{"choices": ["a", "b"], "answer": 0}\n', r"d.jsonl:1: missing field 'question'"),
        ('{"question": "x", "choices": ["a", "b"], "answer": "c"}\n', r"d.jsonl:1: answer 'c' is not among the choices"),
        ('{"question": "x", "choices": ["a"], "answer": 0}\n', r"d.jsonl:1: field 'choices' needs at least two choices"),
        ('{"question": "x", "choices": ["a", "b"], "answer": 5}\n', r"d.jsonl:1: answer index 5 is out of range"),
        ('{"question": "", "choices": ["a", "b"], "answer": 0}\n', r"d.jsonl:1: field 'question' must be non-empty"),
        ("[1, 2]\n", r"d.jsonl:1: expected a JSON object"),
        ("\n\n", r"d.jsonl: no examples in the train split"),
    ],
)
def test_broken_jsonl_names_line_and_field(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=needle):
        load(path)


def test_missing_non_utf8_and_unsupported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        load(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"question": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        load(bad)
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.txt'"):
        load(tmp_path / "d.txt")


def test_normalised_round_trip(tmp_path: Path) -> None:
    exs = load(jsonl(tmp_path, MC, {**MC, "answer": 0}))
    write_examples(tmp_path / "n.jsonl", exs)
    assert read_examples(tmp_path / "n.jsonl") == exs
    assert choice_continuations(exs[0]) == [" Quito", " Lima", " Bogota"]
