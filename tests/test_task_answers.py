"""Users' own data as it comes: answers as text, letter or index, choices in named columns, label sets.

The first tests pin down the answer-parsing bug: an answer was read as an index before it was matched
as a choice text, so ``"3"`` among ``2, 3, 4, 5`` silently became ``"5"``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from damoc.config import FieldMap, SourceSpec
from damoc.errors import ConfigError, DataError
from damoc.loading import parse_config
from damoc.tasks.load import Example, load_split, task_sources


def load(path: Path, fields: FieldMap | None = None) -> list[Example]:
    return load_split(SourceSpec(path=path), fields or FieldMap(), "multiple_choice", "train")


def jsonl(path: Path, *recs: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("choices", "answer", "right"),
    [
        (["2", "3", "4", "5"], "3", 1),  # was index 3, i.e. "5"
        (["C", "A", "B"], "A", 1),  # was letter A, i.e. "C"
        (["10%", "12%", "15%"], "15%", 2),
        (["2", "3", "4", "5"], "5", 3),  # out of range as an index: only the text reads
    ],
)
def test_text_answer_is_matched_as_a_choice_text_first(
    tmp_path: Path, choices: list[str], answer: str, right: int
) -> None:
    (ex,) = load(jsonl(tmp_path / "d.jsonl", {"question": "How many?", "choices": choices, "answer": answer}))
    assert ex.answer == right and ex.choices is not None and ex.choices[right] == answer


def test_numeric_answers_in_a_csv_are_choice_texts(tmp_path: Path) -> None:
    """The finance case: every cell of a csv is text, so "3" is the choice "3", not index 3."""
    rows = [["Years to double at 24%?", "2", "3", "4", "5", "3"], ["Months in a quarter?", "2", "3", "4", "6", "3"]]
    path = write_csv(tmp_path / "d.csv", ["question", "A", "B", "C", "D", "answer"], rows)
    assert [ex.answer for ex in load(path)] == [1, 1]


def test_numbers_stored_as_numbers_are_indices_as_on_the_hub(tmp_path: Path) -> None:
    recs = [
        {"question": "How many legs has a spider?", "choices": ["6", "4", "10", "8"], "answer": 3},
        {"question": "Year of the euro coins?", "choices": ["1999", "2002"], "answer": 2002},  # no such index
        {"question": "Half of 5?", "choices": ["2", "2.5"], "answer": 2.5},
    ]
    assert [ex.answer for ex in load(jsonl(tmp_path / "d.jsonl", *recs))] == [3, 1, 1]


def test_ambiguous_answer_is_refused_naming_the_record_and_the_format(tmp_path: Path) -> None:
    recs = [
        {"id": "q1", "question": "Pick z", "choices": ["x", "y", "z"], "answer": "2"},  # an index: no text "2"
        {"id": "q2", "question": "How many?", "choices": ["1", "2", "3"], "answer": "1"},  # text "1" or index 1?
    ]
    path = jsonl(tmp_path / "d.jsonl", *recs)
    with pytest.raises(DataError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2 (id 'q2'): answer '1' is ambiguous")
    assert "choice A ('1')" in message and "choice B ('2')" in message
    assert "task.fields.answer_format: text or index" in message
    assert [ex.answer for ex in load(path, FieldMap(answer_format="index"))] == [2, 1]
    with pytest.raises(DataError, match=r"d.jsonl:1 \(id 'q1'\): answer '2' is not among the choices"):
        load(path, FieldMap(answer_format="text"))


@pytest.mark.parametrize(
    ("fmt", "answer", "right"),
    [("text", "1", 0), ("letter", "b", 1), ("index", "1", 1), ("index", 2, 2), ("index1", "1", 0), ("index1", 3, 2)],
)
def test_answer_format_forces_one_reading(tmp_path: Path, fmt: str, answer: object, right: int) -> None:
    rec = {"question": "Which?", "choices": ["1", "2", "3"], "answer": answer}
    (ex,) = load(jsonl(tmp_path / "d.jsonl", rec), FieldMap(answer_format=fmt))  # type: ignore[arg-type]
    assert ex.answer == right


@pytest.mark.parametrize(
    ("fmt", "answer", "needle"),
    [
        ("index1", 0, r"answer index 0 is out of range for 3 choices \(expected 1..3\) \(.*answer_format: index1\)"),
        ("index", "x", r"answer 'x' is not an integer index \(task.fields.answer_format: index\)"),
        ("letter", "D", r"answer 'D' is not a letter A..C \(task.fields.answer_format: letter\)"),
        ("text", "one", r"answer 'one' is not among the choices \['x', 'y', 'z'\]"),
        ("auto", 3, r"answer index 3 is out of range for 3 choices \(expected 0..2\); 1-based .* index1"),
    ],
)
def test_answer_that_names_no_choice_says_what_was_expected(
    tmp_path: Path, fmt: str, answer: object, needle: str
) -> None:
    rec = {"question": "Which?", "choices": ["x", "y", "z"], "answer": answer}
    with pytest.raises(DataError, match=r"d.jsonl:1: " + needle):
        load(jsonl(tmp_path / "d.jsonl", rec), FieldMap(answer_format=fmt))  # type: ignore[arg-type]


# ---------------------------------------------------------------- choices in named columns

MEDMCQA_HEADER = [
    "id",
    "question",
    "opa",
    "opb",
    "opc",
    "opd",
    "cop",
    "choice_type",
    "exp",
    "subject_name",
    "topic_name",
]
MEDMCQA_ROWS = [
    ["m1", "Which vitamin deficiency causes scurvy?", "Vitamin A", "Vitamin B12", "Vitamin C", "Vitamin D", "3",
     "single", "Ascorbic acid, needed for collagen.", "Medicine", "Nutrition"],
    ["m2", "Normal adult resting heart rate, per minute?", "20-40", "60-100", "120-160", "180-200", "2",
     "single", "", "Physiology", "Heart"],
    ["m3", "How many bones has the adult human body?", "106", "206", "306", "406", "2",
     "single", "", "Anatomy", ""],
    ["m4", "Insulin is secreted by which cells?", "Alpha cells", "Delta cells", "PP cells", "Beta cells", "4",
     "single", "Of the islets, β cells.", "Physiology", "Endocrine"],
]  # fmt: skip
MEDMCQA_FIELDS = FieldMap(choices=("opa", "opb", "opc", "opd"), answer="cop", answer_format="index1")


def test_medmcqa_csv_choice_columns_and_1_based_cop(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "medmcqa.csv", MEDMCQA_HEADER, MEDMCQA_ROWS)
    exs = load(path, MEDMCQA_FIELDS)
    assert [ex.id for ex in exs] == ["m1", "m2", "m3", "m4"]
    assert [ex.answer for ex in exs] == [2, 1, 1, 3]
    assert exs[3].choices == ("Alpha cells", "Delta cells", "PP cells", "Beta cells")
    with pytest.raises(DataError, match=r"medmcqa.csv:5 \(id 'm4'\): answer index 4 is out of range.*index1"):
        load(path, MEDMCQA_FIELDS.model_copy(update={"answer_format": "auto"}))  # 0-based: cop 4 is past the end


def test_option_columns_with_spaces_trailing_blank_and_gap(tmp_path: Path) -> None:
    header = ["question", "Option A", "Option B", "Option C", "Option D", "answer"]
    fields = FieldMap(choices=("Option A", "Option B", "Option C", "Option D"))
    rows = [["Capital of Peru?", "Quito", "Lima", "Bogota", "Caracas", "Lima"], ["2 + 2?", "3", "4", "", "", "B"]]
    exs = load(write_csv(tmp_path / "ok.csv", header, rows), fields)
    assert [(ex.choices, ex.answer) for ex in exs] == [(("Quito", "Lima", "Bogota", "Caracas"), 1), (("3", "4"), 1)]
    gap = write_csv(tmp_path / "gap.csv", header, [["2 + 2?", "3", "", "4", "", "4"]])
    with pytest.raises(DataError, match=r"gap.csv:2: choice column 'Option B' is empty but a later one is not"):
        load(gap, fields)


def test_choice_column_missing_from_a_record(tmp_path: Path) -> None:
    recs = [{"question": "q?", "opa": "x", "opb": "y", "cop": 1}, {"question": "q?", "opa": "x", "cop": 1}]
    fields = FieldMap(choices=("opa", "opb"), answer="cop", answer_format="index1")
    with pytest.raises(DataError, match=r"d.jsonl:2: missing choice column\(s\) \['opb'\] of task.fields.choices"):
        load(jsonl(tmp_path / "d.jsonl", *recs), fields)


def test_choice_columns_through_parse_config(tmp_path: Path) -> None:
    """``fields.choices: [Option A, ...]`` used to be a pydantic type error (choices took one string)."""
    path = write_csv(tmp_path / "d.csv", ["question", "Option A", "Option B", "answer"], [["q?", "x", "y", "y"]])
    task = {"train": {"path": str(path)}, "eval": {"path": str(path)}, "fields": {"choices": ["Option A", "Option B"]}}
    cfg = parse_config({"run_dir": str(tmp_path / "run"), "task": task, "candidates": ["smollm2-135m"]})
    train, _, fields, kind = task_sources(cfg.task)
    assert fields.choices == ("Option A", "Option B") and load_split(train, fields, kind, "train")[0].answer == 1
    for bad, needle in [(["Option A"], "two or more distinct choice columns"), (["a", "a"], "repeated: ['a']")]:
        with pytest.raises(ConfigError, match=r"task.fields.choices: .*" + re.escape(needle)):
            parse_config({"run_dir": "r", "task": {**task, "fields": {"choices": bad}}, "candidates": ["smollm2-135m"]})


# ---------------------------------------------------------------- one label set (classification)

LABELS = ["negative", "neutral", "positive"]
TEXTS = [("Great product, works well.", "positive"), ("Broke after a day.", "negative"), ("It is a phone.", "neutral")]


def _label_file(tmp_path: Path, kind: str, by_index: bool) -> Path:
    """Text + label records written as ``kind`` (a file suffix, or chat / alpaca records in JSONL)."""
    label = [LABELS.index(lab) if by_index else lab for _, lab in TEXTS]
    recs: list[dict[str, Any]] = [{"text": t, "label": lab} for (t, _), lab in zip(TEXTS, label, strict=True)]
    if kind == "chat":
        recs = [
            {"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": lab}]} for t, lab in TEXTS
        ]
    if kind == "alpaca":
        recs = [{"instruction": "Sentiment?", "input": t, "output": lab} for t, lab in TEXTS]
    if kind in ("jsonl", "chat", "alpaca"):
        return jsonl(tmp_path / "d.jsonl", *recs)
    path = tmp_path / f"d.{kind}"
    if kind == "csv":
        return write_csv(path, ["text", "label"], [[r["text"], r["label"]] for r in recs])
    if kind == "json":
        path.write_text(json.dumps(recs), encoding="utf-8")
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(recs), path)
    return path


def label_task(tmp_path: Path, path: Path, **task: Any) -> Any:
    raw_task = {"train": {"path": str(path)}, "eval": {"path": str(path)}, "choices": LABELS}
    raw_task["fields"] = {"question": "text", "answer": "label"}
    cfg = parse_config({"run_dir": str(tmp_path / "run"), "task": {**raw_task, **task}, "candidates": ["smollm2-135m"]})
    return cfg.task


@pytest.mark.parametrize(
    ("kind", "by_index"),
    [("jsonl", False), ("jsonl", True), ("csv", False), ("csv", True), ("json", True), ("parquet", False),
     ("parquet", True), ("chat", False), ("alpaca", False)],
)  # fmt: skip
def test_label_set_in_every_format(tmp_path: Path, kind: str, by_index: bool) -> None:
    task = label_task(tmp_path, _label_file(tmp_path, kind, by_index))
    train, _, fields, kind_ = task_sources(task)
    exs = load_split(train, fields, kind_, "train", fmt=task.format)
    assert all(ex.choices == tuple(LABELS) for ex in exs)
    assert [ex.answer for ex in exs] == [2, 0, 1]
    assert exs[0].question.endswith("Great product, works well.")


def test_label_not_in_the_set_and_chat_answer_that_is_not_a_label(tmp_path: Path) -> None:
    path = jsonl(
        tmp_path / "d.jsonl", {"id": "t1", "text": "Fine.", "label": "positive"}, {"text": "Meh.", "label": "mixed"}
    )
    with pytest.raises(DataError, match=r"d.jsonl:2: answer 'mixed' is not one of the labels in task.choices \["):
        load_split(*_sources(label_task(tmp_path, path)))
    chat = [{"role": "user", "content": "Fine."}, {"role": "assistant", "content": "Positive"}]
    path = jsonl(tmp_path / "c.jsonl", {"id": "c1", "messages": chat})
    with pytest.raises(DataError, match=r"c.jsonl:1 \(id 'c1'\): .* labels .*\(differs only in case from 'positive'"):
        load_split(*_sources(label_task(tmp_path, path)))
    chat[1]["content"] = "2"  # an index is no label text: the assistant turn must be the label itself
    with pytest.raises(DataError, match=r"c.jsonl:1 \(id 'c1'\): answer '2' is not one of the labels"):
        load_split(*_sources(label_task(tmp_path, jsonl(path, {"id": "c1", "messages": chat}))))


def _sources(task: Any) -> tuple[Any, ...]:
    train, _, fields, kind = task_sources(task)
    return train, fields, kind, "train"


@pytest.mark.parametrize(
    ("choices", "over", "needle"),
    [
        (["only"], {}, "task.choices: Value error, give two or more distinct, non-empty labels"),
        (["a", "a"], {}, "repeated: ['a']"),
        ([True, False], {}, "quote the labels"),
        (LABELS, {"type": "qa"}, "'choices' (one label set) applies to multiple_choice tasks"),
    ],
)
def test_bad_label_sets_are_config_errors(
    tmp_path: Path, choices: list[Any], over: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError) as err:
        label_task(tmp_path, tmp_path / "d.jsonl", choices=choices, **over)
    assert needle in str(err.value)


def test_numeric_labels_are_text(tmp_path: Path) -> None:
    """Star ratings: ``choices: [1, 2, 3, 4, 5]`` in YAML; a csv's "3" is the label "3", not index 3."""
    path = write_csv(tmp_path / "r.csv", ["text", "label"], [["Good.", "4"], ["Awful.", "1"], ["Perfect.", "5"]])
    task = label_task(tmp_path, path, choices=[1, 2, 3, 4, 5])
    assert task.choices == ("1", "2", "3", "4", "5")
    assert [ex.answer for ex in load_split(*_sources(task))] == [3, 0, 4]
