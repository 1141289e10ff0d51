"""Reading user data: every supported shape, and a clear error (file, line, field) for broken input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from damoc.config import FieldMap, SourceSpec
from damoc.errors import DataError
from damoc.loading import parse_config, parse_task
from damoc.tasks.load import (
    Example,
    build_prompt,
    choice_continuations,
    load_split,
    read_examples,
    target_text,
    write_examples,
)

MC = {"question": "What is the capital of Peru?", "choices": ["Quito", "Lima", "Bogota"], "answer": 1}


def load(
    path: Path, fields: FieldMap | None = None, task_type: str = "multiple_choice", fmt: str = "auto"
) -> list[Example]:
    return load_split(SourceSpec(path=path), fields or FieldMap(), task_type, "train", fmt=fmt)  # type: ignore[arg-type]


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
        (
            '{"question": "x", "choices": ["a", "b"], "answer": "c"}\n',
            r"d.jsonl:1: answer 'c' is not among the choices",
        ),
        (
            '{"question": "x", "choices": ["a"], "answer": 0}\n',
            r"d.jsonl:1: field 'choices' needs at least two choices",
        ),
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


# ---------------------------------------------------------------- chat and alpaca records

CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "What is the capital of Peru?"},
    {"role": "assistant", "content": "Lima"},
]
SHAREGPT = [{"from": "human", "value": "What is the capital of Peru?"}, {"from": "gpt", "value": "Lima"}]


def test_chat_messages_last_assistant_is_the_answer(tmp_path: Path) -> None:
    (ex,) = load(jsonl(tmp_path, {"messages": CHAT}), task_type="qa")
    assert (ex.question, ex.answer) == ("What is the capital of Peru?", "Lima")
    assert ex.context == "System: You are terse.\nUser: Hi\nAssistant: Hello."


def test_chat_multiple_choice_needs_choices_and_resolves_the_answer(tmp_path: Path) -> None:
    recs = [
        {"messages": CHAT, "choices": ["Quito", "Lima"]},
        {"messages": [*CHAT[:-1], {**CHAT[-1], "content": "B"}], "choices": ["Quito", "Lima"]},
    ]
    assert [ex.answer for ex in load(jsonl(tmp_path, *recs))] == [1, 1]
    with pytest.raises(
        DataError, match=r"d.jsonl:1: field 'choices' must be a list .* chat records of a multiple_choice task"
    ):
        load(jsonl(tmp_path, {"messages": CHAT}))


def test_sharegpt_conversations_json_and_openai_content_parts(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps([{"conversations": SHAREGPT, "system": "Be brief."}]))
    (ex,) = load(tmp_path / "d.json", task_type="qa")
    assert (ex.question, ex.answer, ex.context) == ("What is the capital of Peru?", "Lima", "System: Be brief.")
    parts = [
        {"role": "user", "content": [{"type": "text", "text": "Capital of Peru?"}]},
        {"role": "assistant", "content": "Lima"},
    ]
    (ex,) = load(jsonl(tmp_path, {"messages": parts}), task_type="qa")
    assert ex.question == "Capital of Peru?" and ex.context is None


def test_chat_and_alpaca_from_parquet_and_csv(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"messages": CHAT[1:]}]), tmp_path / "c.parquet")
    assert load(tmp_path / "c.parquet", task_type="qa")[0].answer == "Lima"
    (tmp_path / "a.csv").write_text(
        "instruction,input,output\nName the capital.,Peru,Lima\nName the capital of Chile.,,Santiago\n"
    )
    exs = load(tmp_path / "a.csv", task_type="qa")
    assert [(ex.question, ex.answer) for ex in exs] == [
        ("Name the capital.\nPeru", "Lima"),
        ("Name the capital of Chile.", "Santiago"),
    ]


def test_alpaca_with_and_without_input_history_and_choices(tmp_path: Path) -> None:
    recs = [
        {"instruction": "Capital of Peru?", "output": "Lima", "history": [["Hi", "Hello."]], "system": "Be brief."},
        {"instruction": "Pick the capital", "input": "of Peru", "output": "Lima", "choices": ["Quito", "Lima"]},
    ]
    qa = load(jsonl(tmp_path, recs[0]), task_type="qa")[0]
    assert (qa.question, qa.answer, qa.context) == (
        "Capital of Peru?",
        "Lima",
        "System: Be brief.\nUser: Hi\nAssistant: Hello.",
    )
    mc = load(jsonl(tmp_path, recs[1]))[0]
    assert (mc.question, mc.answer, mc.choices) == ("Pick the capital\nof Peru", 1, ("Quito", "Lima"))


def test_field_mapping_renames_chat_and_alpaca_columns(tmp_path: Path) -> None:
    fields = FieldMap(messages="dialog", instruction="prompt", output="response")
    (ex,) = load(jsonl(tmp_path, {"dialog": SHAREGPT}), fields, "qa")
    assert ex.answer == "Lima"
    (ex,) = load(jsonl(tmp_path, {"prompt": "Capital of Peru?", "response": "Lima"}), fields, "qa")
    assert ex.answer == "Lima"


def test_hub_dataset_uses_the_same_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    fake = types.SimpleNamespace(load_dataset=lambda *a, **k: [{"conversations": SHAREGPT}, {"conversations": []}])
    monkeypatch.setitem(sys.modules, "datasets", fake)
    src = SourceSpec(hf="me/chats", split="train")
    with pytest.raises(DataError, match=r"me/chats\[train\]:2: field 'conversations' has no assistant turn"):
        load_split(src, FieldMap(), "qa", "train")


@pytest.mark.parametrize(
    ("rec", "fmt", "needle"),
    [
        ({"messages": CHAT[:2]}, "auto", r"d.jsonl:2: field 'messages' has no assistant turn \(the answer\)"),
        ({"messages": [CHAT[2]]}, "auto", r"d.jsonl:2: field 'messages' has no user turn before"),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            "auto",
            r"d.jsonl:2: field 'messages\[0\].role': unknown role 'robot'",
        ),
        (
            {"messages": [{"role": "user", "content": 3}, CHAT[-1]]},
            "auto",
            r"d.jsonl:2: field 'messages\[0\].content' must be text",
        ),
        ({"messages": "hi"}, "chat", r"d.jsonl:2: missing chat turns: expected a list field 'messages'"),
        ({"instruction": "Capital of Peru?"}, "auto", r"d.jsonl:2: missing field 'output' \(the alpaca answer\)"),
        ({"instruction": "", "output": "Lima"}, "auto", r"d.jsonl:2: field 'instruction' must be non-empty text"),
        (
            {"instruction": "x", "input": 5, "output": "Lima"},
            "auto",
            r"d.jsonl:2: field 'input' must be text when given",
        ),
        ({"instruction": "x", "output": "Lima", "history": "no"}, "auto", r"d.jsonl:2: field 'history' must be a list"),
        ({"question": "x", "answer": "y"}, "alpaca", r"d.jsonl:2: missing field 'instruction'"),
    ],
)
def test_broken_chat_and_alpaca_name_line_and_field(
    tmp_path: Path, rec: dict[str, object], fmt: str, needle: str
) -> None:
    alpaca = fmt == "alpaca" or "instruction" in rec
    good = {"instruction": "Capital?", "output": "Lima"} if alpaca else {"messages": CHAT}
    with pytest.raises(DataError, match=needle):
        load(jsonl(tmp_path, good, rec), task_type="qa", fmt=fmt)


def test_read_split_collects_every_problem(tmp_path: Path) -> None:
    from damoc.tasks.load import read_split

    path = tmp_path / "d.jsonl"
    path.write_text(
        json.dumps(MC)
        + "\n{oops\n"
        + json.dumps({"choices": ["a"], "answer": 7})
        + "\n"
        + json.dumps({**MC, "answer": "Z"})
        + "\n"
    )
    data = read_split(SourceSpec(path=path), FieldMap(), "multiple_choice", "train")
    assert len(data.examples) == 1 and data.lines == [1]
    got = [(p.line, p.field) for p in data.problems]
    assert got == [(2, None), (3, "question"), (3, "choices"), (4, "answer")]
    assert str(data.problems[0]).startswith(f"{path}:2: malformed JSON")
    assert data.problems[3].value == "'Z'" and "not among the choices" in data.problems[3].message


def test_task_card_merges_measured_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import damoc.tasks.load

    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "card.yaml").write_text("name: mini\ntype: multiple_choice\nsizes: {train: 1, eval: 1}\n")
    monkeypatch.setattr(damoc.tasks.load, "BUNDLED_DIR", tmp_path)
    assert "checks" not in damoc.tasks.load.bundled_task_card("mini")
    (folder / "checks.yaml").write_text("checks: {tie_after_fine_tuning: false}\n")
    card = damoc.tasks.load.bundled_task_card("mini")
    assert card["name"] == "mini" and card["checks"] == {"tie_after_fine_tuning": False}


def test_bundled_card_template_is_the_default_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import damoc.tasks.load
    from damoc.config import TaskConfig
    from damoc.errors import ConfigError
    from damoc.tasks.prompts import render_body

    folder = tmp_path / "listed"
    folder.mkdir()
    card = {"name": "listed", "type": "multiple_choice", "template": "Q: {question} ({choices[0]}, {choices[1]})\nA:"}
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setattr(damoc.tasks.load, "BUNDLED_DIR", tmp_path)
    ex = damoc.tasks.load.Example(id="1", question="Odd one?", choices=("x", "y"), answer=1)
    assert render_body(ex, parse_task({"bundled": "listed"}).template) == "Q: Odd one? (x, y)\nA:"
    assert parse_task({"bundled": "listed", "template": "{question}!"}).template == "{question}!"  # the user's wins
    assert TaskConfig(bundled="listed").template is None  # the schema alone reads no card (config.py does no I/O)
    (folder / "card.yaml").write_text(yaml.safe_dump({**card, "template": "{nope}"}))
    with pytest.raises(ConfigError, match="unknown variable"):  # a broken card template is caught like a user's
        parse_config({"run_dir": str(tmp_path / "r"), "task": {"bundled": "listed"}, "candidates": ["smollm2-135m"]})


def test_medical_except_lists_the_choices_in_its_prompt() -> None:
    from damoc.tasks.load import load_split, task_sources
    from damoc.tasks.prompts import render_body

    task = parse_task({"bundled": "medical_except"})
    train, _, fields, kind = task_sources(task)
    ex = load_split(train, fields, kind, "train")[0]
    body = render_body(ex, task.template)
    assert body.startswith(f"Question: {ex.question}\n") and body.endswith("\nAnswer:")
    assert all(f"\n- {c}\n" in body for c in ex.choices) and "EXCEPT" in ex.question
    assert parse_task({"bundled": "medical_qa"}).template is None  # the other tasks keep the plain ARC prompt
