"""Stage 1 end to end: compress_dataset on the tiny multiple-choice files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from damoc.config import DataConfig, MethodSpec, TaskConfig
from damoc.context import StageContext
from damoc.data import DataReport, compress_dataset
from damoc.errors import ConfigError, DataError
from damoc.tasks.load import read_examples

OUTPUTS = ("train.jsonl", "eval.jsonl", "calib.jsonl")


def _task(files: tuple[Path, Path], max_eval: int | None = None) -> TaskConfig:
    train, evals = files
    return TaskConfig.model_validate({"train": {"path": train}, "eval": {"path": evals}, "max_eval_examples": max_eval})


def _random(keep_ratio: float, calib: int = 5) -> DataConfig:
    return _data([MethodSpec(method="random", params={"keep_ratio": keep_ratio})], calib)


def _data(steps: list[MethodSpec], calib: int = 32) -> DataConfig:
    return DataConfig.model_validate({"steps": steps, "calibration_samples": calib})


def test_random_writes_counts_and_report(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = compress_dataset(_task(mc_files, max_eval=10), _random(0.25), out, StageContext(seed=0))
    assert (report.train_examples_before, report.train_examples_after) == (48, 12)
    assert (report.eval_examples, report.calibration_examples) == (10, 5)
    assert len(read_examples(out / "train.jsonl")) == 12
    assert len(read_examples(out / "eval.jsonl")) == 10
    calib = read_examples(out / "calib.jsonl")
    assert len(calib) == 5 and set(calib) <= set(read_examples(out / "train.jsonl"))
    saved = DataReport.model_validate(json.loads((out / "data.json").read_text()))
    assert saved == report
    assert report.steps[0].method == "random" and report.steps[0].params == {"keep_ratio": 0.25, "keep_count": None}
    assert report.steps[0].kept == 12 and report.characters_after < report.characters_before


def _whitespace_tokenizer() -> object:
    """A word-level tokenizer whose tokens are exactly ``str.split()``'s words (an independent count)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_tokens_before_and_after_each_step_match_a_word_count(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    from damoc.data.tokens import TokenCounter
    from damoc.tasks.load import load_split, task_sources
    from damoc.tasks.prompts import render_prompt, target_text

    steps = [
        MethodSpec(method="random", params={"keep_ratio": 0.5}),
        MethodSpec(method="random", params={"keep_ratio": 0.25}),
    ]
    counter = TokenCounter(name="words", tokenizer=_whitespace_tokenizer())
    out = tmp_path / "out"
    report = compress_dataset(_task(mc_files), _data(steps, calib=2), out, StageContext(seed=0), counter)

    def words(examples: list) -> int:  # what the word-level tokenizer must count: str.split() words
        return sum(len((render_prompt(ex) + target_text(ex)).split()) for ex in examples)

    train_src, _, fields, task_type = task_sources(_task(mc_files))
    assert report.tokenizer == "words" and report.tokens_before == words(
        load_split(train_src, fields, task_type, "train")
    )
    assert report.tokens_after == report.steps[-1].tokens_after == words(read_examples(out / "train.jsonl"))
    assert report.tokens_before > report.steps[0].tokens_after > report.steps[1].tokens_after > 0
    plain = compress_dataset(_task(mc_files), _data(steps, calib=2), tmp_path / "plain", StageContext(seed=0))
    assert plain.tokenizer is None and plain.tokens_before is None and plain.steps[0].tokens_after is None


def test_same_seed_same_bytes_other_seed_differs(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    task, cfg = _task(mc_files), _random(0.5)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        compress_dataset(task, cfg, tmp_path / name, StageContext(seed=seed))
    for f in OUTPUTS:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()


def test_steps_apply_in_order(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    steps = [MethodSpec(method="random", params={"keep_ratio": 0.5}), MethodSpec(method="random")]
    calls: list[tuple[str, int, int]] = []
    report = compress_dataset(
        _task(mc_files), _data(steps), tmp_path / "out", StageContext(progress=lambda *a: calls.append(a))
    )
    assert [(s.examples_before, s.kept) for s in report.steps] == [(48, 24), (24, 5)]
    assert report.calibration_examples == 5  # fewer examples than calibration_samples: all of them
    assert ("data steps", 2, 2) in calls


def test_step_keeping_nothing_is_a_data_error(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    steps = [
        MethodSpec(method="random", params={"keep_ratio": 0.5}),
        MethodSpec(method="random", params={"keep_ratio": 0.01}),
    ]
    with pytest.raises(DataError, match=r"data\.steps\.1 \(random\): keeps 0 of 24"):
        compress_dataset(_task(mc_files), _data(steps), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_method_and_bad_params_are_config_errors(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.steps\.0\.method: unknown method 'nope'; available: .*random"):
        compress_dataset(_task(mc_files), _data([MethodSpec(method="nope")]), tmp_path)
    bad = _data([MethodSpec(method="random", params={"keep_ratio": 2})])
    with pytest.raises(ConfigError, match=r"data\.steps\.0\.params: keep_ratio"):
        compress_dataset(_task(mc_files), bad, tmp_path)


def test_a_filters_record_reaches_the_data_report(tmp_path: Path) -> None:
    rows = [
        {"id": f"q{i}", "question": f"Which number is the {i}th one here?", "choices": ["1", "2", "3"], "answer": 0}
        for i in range(6)
    ]
    rows[1]["choices"] = ["same", "Same", "other"]  # duplicate choices
    rows[4]["question"] = "Hi?"  # shorter than min_prompt_chars
    train, evals = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    evals.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]), encoding="utf-8")
    steps = [MethodSpec(method="rules", params={"leak_min_chars": 50})]
    report = compress_dataset(_task((train, evals)), _data(steps, calib=2), tmp_path / "out", StageContext(seed=0))
    step = report.steps[0]
    assert step.kept == 4 and sum(step.dropped.values()) == 2
    saved = DataReport.model_validate(json.loads((tmp_path / "out" / "data.json").read_text()))
    assert saved.steps[0].dropped == step.dropped
    # the sample of what was dropped names each example and the rule that dropped it
    assert {x["id"]: x["why"] for x in step.samples} == {"q1": "duplicate_choices", "q4": "too_short"}
    assert (report.clusters_before, step.clusters_after, report.clusters_after) == (6, 4, 4)


def test_data_report_counts_clusters_and_explains_drops_by_score(mc_files: tuple[Path, Path], tmp_path: Path) -> None:
    """Clusters are distinct questions (or contexts); a scored drop shows its score against the kept range."""
    from damoc.data.explain import cluster_count, dropped_samples
    from damoc.tasks.example import Example

    exs = [Example(id=str(i), question=f"q{i % 3}", answer=0, choices=("a", "b")) for i in range(6)]
    assert cluster_count(exs) == 3 and cluster_count(exs[:1]) == 1
    passage = [
        Example(id=str(i), question=f"q{i}", context="one passage", answer=0, choices=("a", "b")) for i in range(4)
    ]
    assert cluster_count(passage) == 1  # questions on one passage share its cluster
    scores: dict[str, float | None] = {"0": 0.9, "1": 0.1, "2": 0.5, "3": None, "4": 0.7, "5": 0.2}
    kept = [exs[0], exs[4], exs[2]]  # the three highest scores
    why = {x["id"]: x["why"] for x in dropped_samples(exs, kept, scores, "ifd", {}, seed=0)}
    assert why == {
        "1": "ifd 0.1; kept examples span 0.5 to 0.9",
        "3": "not scored (ifd): outside the scored sample",
        "5": "ifd 0.2; kept examples span 0.5 to 0.9",
    }
    report = compress_dataset(_task(mc_files), _random(0.5), tmp_path / "out", StageContext(seed=0))
    # random names each dropped example as not drawn, and its step records the draw order
    assert all(x["why"].startswith("not drawn (a seeded uniform sample of") for x in report.steps[0].samples)
    assert len(report.steps[0].samples) == 3 and report.steps[0].score_name == "draw_order"


def test_rewritten_samples_say_why_and_show_rejected_rewrites() -> None:
    """A changed example carries its rewrite's note; unchanged ones whose rewrites were all rejected fill the sample."""
    from damoc.data.explain import rewritten_samples
    from damoc.report.tables import samples_table
    from damoc.reports import StepReport
    from damoc.tasks.example import Example

    before = [Example(id=f"e{i}", question=f"question number {i} with some filler words", answer="a") for i in range(3)]
    after = [dataclasses.replace(before[0], question="question 0"), before[1], before[2]]
    reasons = {
        "e0": "question rewrite of round 2 rejected: not_shorter",
        "e1": "question rewrite of round 1 rejected: judge",
    }
    samples = rewritten_samples(before, after, None, seed=0, reasons=reasons)
    assert [s["id"] for s in samples] == ["e0", "e1"]  # e2 is unchanged and has no reason: not shown
    assert samples[0]["note"] == reasons["e0"] and samples[0]["length_ratio"] < 1
    assert samples[1]["before"] == samples[1]["after"] and samples[1]["length_ratio"] == 1.0
    step = StepReport(
        method="rewrite", kind="compressor", params={}, examples_before=3, kept=3, characters_after=0, seconds=0.0
    )
    _, rows = samples_table(DataReport.model_construct(steps=[step.model_copy(update={"samples": samples})]))
    assert rows[0][2].endswith(f"({reasons['e0']})") and rows[1][2].startswith("left as it was: question rewrite")
