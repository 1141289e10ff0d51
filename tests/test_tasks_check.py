"""``damoc tasks check``: every problem listed with line and field, statistics, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.config import RunConfig
from damoc.loading import parse_config
from damoc.tasks.check import check_task, length_stats

GOOD: list[dict[str, Any]] = [
    {"question": "What is the capital of Peru?", "choices": ["Quito", "Lima", "Bogota"], "answer": 1},
    {"question": "What is the capital of Chile?", "choices": ["Santiago", "Lima"], "answer": "A"},
    {"question": "What is the capital of Peru?", "choices": ["Quito", "Lima", "Bogota"], "answer": "Lima"},
]
BROKEN_LINES = [
    '{"question": "Capital of Spain?", "choices": ["Madrid", "Rome"], "answer": 0}',
    '{"question": "Capital of Italy?", "choices": ["Madrid"], "answer": 0}',
    "{not json",
    '{"choices": ["a", "b"], "answer": 9}',
    '{"question": "Capital of France?", "choices": ["Paris", "Rome"], "answer": "Berlin"}',
    '{"question": "Capital of Spain?", "choices": ["Madrid", "Rome"], "answer": "B"}',
]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def config(tmp_path: Path, train: Path, evals: Path, candidate: Any = "smollm2-135m", **task: Any) -> RunConfig:
    raw = {
        "run_dir": str(tmp_path / "run"),
        "cache_dir": str(tmp_path / "cache"),  # nothing prepared: lengths fall back to words
        "task": {"train": {"path": str(train)}, "eval": {"path": str(evals)}, **task},
        "candidates": [candidate],
    }
    return parse_config(raw)


def test_collects_every_problem_and_describes_the_data(tmp_path: Path) -> None:
    train = write_lines(tmp_path / "train.jsonl", [json.dumps(r) for r in GOOD])
    evals = write_lines(tmp_path / "eval.jsonl", BROKEN_LINES)
    report = check_task(config(tmp_path, train, evals))
    assert not report.ok
    got = [(p.line, p.field) for p in report.problems]
    assert got == [(2, "choices"), (3, None), (4, "question"), (4, "answer"), (5, "answer")]
    assert all(p.where == str(evals) for p in report.problems)
    assert report.problems[3].value == "9" and "out of range for 2 choices" in report.problems[3].message
    tr, ev = report.splits
    assert (tr.examples, tr.duplicates, tr.duplicate_lines) == (3, 1, [[1, 3]])
    assert tr.choice_counts == {2: 1, 3: 2} and tr.answer_positions == {"A": 1, "B": 2}
    assert (ev.examples, ev.duplicates, ev.duplicate_lines) == (2, 1, [[1, 6]])  # same question and choices
    assert report.length_unit == "words" and "not prepared" in report.length_note
    assert tr.length is not None and tr.length.max >= tr.length.p50 > 0


def test_leakage_tokens_from_a_local_tokenizer_and_chat_always(tmp_path: Path, tiny_tokenizer_dir: Path) -> None:
    train = write_lines(tmp_path / "train.jsonl", [json.dumps(r) for r in GOOD])
    evals = write_lines(tmp_path / "eval.jsonl", [json.dumps(GOOD[1]), json.dumps({**GOOD[0], "question": "New?"})])
    cand = {"name": "tiny", "path": str(tiny_tokenizer_dir)}
    report = check_task(config(tmp_path, train, evals, cand, use_chat_template="always"))
    assert report.leaks == 1 and report.leaked[0].eval_line == 1 and report.leaked[0].train_line == 2
    assert report.length_unit == "tokens" and "tiny" in report.length_note
    assert [p.where for p in report.problems] == ["task.use_chat_template"]  # the tiny tokenizer has none


def test_template_that_fails_on_a_record_is_a_problem(tmp_path: Path) -> None:
    train = write_lines(tmp_path / "train.jsonl", [json.dumps(r) for r in GOOD])
    report = check_task(config(tmp_path, train, train, template="{{ question }} or {{ choices[2] }}?"))
    assert [(p.line, p.field) for p in report.problems] == [(2, "task.template")] * 2  # train and eval
    assert "does not render this record" in report.problems[0].message


def test_chat_and_alpaca_files_are_checked_too(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "user", "content": "Capital of Peru?"}, {"role": "assistant", "content": "Lima"}]}
    train = write_lines(tmp_path / "train.jsonl", [json.dumps(chat), json.dumps({"messages": chat["messages"][:1]})])
    evals = write_lines(tmp_path / "eval.jsonl", [json.dumps({"instruction": "Capital of Peru?", "output": "Lima"})])
    report = check_task(config(tmp_path, train, evals, type="qa", fields={"choices": None}))
    assert [s.shape for s in report.splits] == ["chat", "alpaca"]
    assert [str(p).split("/")[-1] for p in report.problems] == [
        "train.jsonl:2: field 'messages' has no assistant turn (the answer); roles found: ['user']"
    ]
    assert report.leaks == 1 and report.splits[0].answer_positions == {}


def test_length_percentiles_nearest_rank() -> None:
    stats = length_stats(list(range(1, 101)), "words")
    assert (stats.p50, stats.p90, stats.p99, stats.max) == (50, 90, 99, 100)
    assert length_stats([7], "tokens").p99 == 7


# ---------------------------------------------------------------- through the CLI


def damoc(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "250"}  # wide tables: one problem per line
    return subprocess.run([sys.executable, "-m", "damoc", *args], capture_output=True, text=True, timeout=120, env=env)


def cfg_file(tmp_path: Path, task: dict[str, Any]) -> Path:
    raw = {"run_dir": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache"), "task": task}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({**raw, "candidates": ["smollm2-135m"]}))
    return path


def test_cli_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = write_lines(tmp_path / "bad.jsonl", BROKEN_LINES)
    res = damoc("tasks", "check", str(cfg_file(tmp_path, {"train": {"path": str(bad)}, "eval": {"path": str(bad)}})))
    assert res.returncode == 2, res.stderr
    out = res.stdout
    for needle in ("bad.jsonl:2", "needs at least two choices", "bad.jsonl:3", "malformed JSON", "bad.jsonl:4",
                   "missing field 'question'", "answer index 9 is out of range", "bad.jsonl:5", "'Berlin'"):  # fmt: skip
        assert needle in out, needle
    assert "10 problem(s)" in out and "Traceback" not in res.stderr  # 5 per split, train and eval alike
    assert "2 eval question(s) also in train" in out  # eval lines 1 and 6 repeat train line 1 (the same file)


@pytest.mark.parametrize("as_json", [False, True])
def test_cli_on_a_clean_bundled_task_exits_0(tmp_path: Path, as_json: bool) -> None:
    res = damoc("tasks", "check", str(cfg_file(tmp_path, {"bundled": "world_facts"})), *(["--json"] if as_json else []))
    assert res.returncode == 0, res.stdout + res.stderr
    if as_json:
        report = json.loads(res.stdout)
        assert report["problems"] == [] and [s["examples"] for s in report["splits"]] == [1286, 362]
    else:
        assert "ok; 0 eval question(s) also in train" in res.stdout and "world_facts" in res.stdout


# ---------------------------------------------------------------- choice columns and label sets

MEDMCQA = (
    "id,question,opa,opb,opc,opd,cop,choice_type,exp,subject_name,topic_name\n"
    'm1,"Which vitamin deficiency causes scurvy?",Vitamin A,Vitamin B12,Vitamin C,Vitamin D,3,single,"Ascorbic '
    'acid, for collagen.",Medicine,Nutrition\n'
    "m2,Insulin is secreted by which cells?,Alpha cells,Delta cells,PP cells,Beta cells,4,single,,Physiology,\n"
)
MEDMCQA_FIELDS = {"choices": ["opa", "opb", "opc", "opd"], "answer": "cop", "answer_format": "index1"}


def test_medmcqa_csv_through_parse_config_and_the_cli(tmp_path: Path) -> None:
    data = tmp_path / "medmcqa.csv"
    data.write_text(MEDMCQA, encoding="utf-8")
    task = {"train": {"path": str(data)}, "eval": {"path": str(data)}, "fields": MEDMCQA_FIELDS}
    report = check_task(config(tmp_path, data, data, fields=MEDMCQA_FIELDS))
    assert report.ok and report.splits[0].answer_positions == {"C": 1, "D": 1}
    res = damoc("tasks", "check", str(cfg_file(tmp_path, task)))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok; 2 eval question(s) also in train" in res.stdout
    res = damoc(
        "tasks", "check", str(cfg_file(tmp_path, {**task, "fields": {**MEDMCQA_FIELDS, "answer_format": "auto"}}))
    )
    assert res.returncode == 2 and "medmcqa.csv:3 (id 'm2')" in res.stdout and "index1" in res.stdout


def test_label_distribution_of_a_classification_task(tmp_path: Path) -> None:
    labels = ["billing", "bug", "feature", "account", "security", "spam", "sales", "legal", "press", "jobs", "other"]
    train_recs = [{"text": f"ticket {i}", "label": labels[i % 3]} for i in range(7)] + [{"text": "x", "label": 10}]
    train = write_lines(tmp_path / "train.jsonl", [json.dumps(r) for r in train_recs])
    evals = write_lines(tmp_path / "eval.jsonl", [json.dumps({"text": "help", "label": "bug"})])
    fields = {"question": "text", "answer": "label"}
    report = check_task(config(tmp_path, train, evals, choices=labels, fields=fields))
    assert report.ok, report.problems
    tr, ev = report.splits
    assert tr.label_counts == {**dict.fromkeys(labels, 0), "billing": 3, "bug": 2, "feature": 2, "other": 1}
    assert list(ev.label_counts) == labels and ev.label_counts["bug"] == 1 and sum(ev.label_counts.values()) == 1
    assert tr.answer_positions["11"] == 1  # past the letters A..J, positions are 1-based numbers
    task = {"train": {"path": str(train)}, "eval": {"path": str(evals)}, "choices": labels, "fields": fields}
    res = damoc("tasks", "check", str(cfg_file(tmp_path, task)))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "labels (task.choices)" in res.stdout
    assert any([c.strip() for c in line.split("│")[1:4]] == ["billing", "3", "0"] for line in res.stdout.splitlines())
