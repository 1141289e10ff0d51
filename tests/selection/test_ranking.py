"""Ranking from run-folder results: order, ties, baselines, reports. Pure data, no models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from damoc.artifacts import RunLayout
from damoc.config import MethodSpec, SelectionConfig
from damoc.errors import DamocError
from damoc.report import write_report
from damoc.reports import EvalReport, ProxyReport, TrainReport, write_stage_report
from damoc.selection import rank_candidates, uncertainty


def _eval(metrics: dict[str, float]) -> EvalReport:
    return EvalReport(
        metrics=metrics, num_examples=4, task_type="multiple_choice", seconds=0.0, device="cpu", adapter=True
    )


def _proxy(name: str, params: int) -> ProxyReport:
    spec = MethodSpec(method="none")
    return ProxyReport(
        candidate=name, model_type="llama", layers_before=6, layers_after=4, removed=[2, 3], scores=[0.0] * 6,
        merged_into={}, params_before=params, params_after=params // 2, scorer=spec, merger=spec, remove_ratio=0.3,
        calibration_examples=1, calibration_tokens=1, seed=0, device="cpu", seconds=0.0,
    )  # fmt: skip


def _train() -> TrainReport:
    return TrainReport(
        method="lora", steps=1, examples_used=10, tokens_seen=1234, target_tokens=10, trainable_params=1,
        total_params=2, loss_first=1.0, loss_last=0.5, losses=[1.0], seconds=0.0, seconds_per_step=0.0,
        device="cpu", dtype="float32",
    )  # fmt: skip


def fake_results(root: Path, scores: dict[str, float], params: dict[str, int]) -> None:
    layout = RunLayout(root)
    for name, score in scores.items():
        write_stage_report(layout.eval_dir(name), _eval({"acc": score, "acc_norm": score / 2}))
        write_stage_report(layout.zero_shot_dir(name), _eval({"acc": 1 - score, "acc_norm": 0.1}))
        write_stage_report(layout.proxy_dir(name), _proxy(name, params[name]))
        write_stage_report(layout.adapter_dir(name), _train())


def test_rank_order_baselines_and_reports(tmp_path: Path) -> None:
    fake_results(tmp_path, {"a": 0.5, "b": 0.75, "c": 0.25}, {"a": 300, "b": 100, "c": 200})
    cfg = SelectionConfig(rank_by="acc", baselines=["model_size", "zero_shot"])
    ranking = rank_candidates(tmp_path, ["a", "b", "c"], cfg)
    assert [c.candidate for c in ranking.candidates] == ["b", "a", "c"]
    assert [c.rank for c in ranking.candidates] == [1, 2, 3]
    by_name = {b.baseline: b for b in ranking.baselines}
    assert by_name["model_size"].order == ["a", "c", "b"] and not by_name["model_size"].picks_same_top
    assert by_name["zero_shot"].order == ["c", "a", "b"]
    assert (tmp_path / "ranking.json").is_file()
    md, page = write_report(tmp_path)
    text = md.read_text()
    assert "Best candidate by proxy fine-tuning: **b**" in text and "| 1 | b | 0.750 |" in text
    assert 'id="chart-ranking"' in page.read_text()


def test_ties_share_a_rank(tmp_path: Path) -> None:
    fake_results(tmp_path, {"a": 0.5, "b": 0.5, "c": 0.9}, {"a": 1, "b": 1, "c": 1})
    ranking = rank_candidates(tmp_path, ["a", "b", "c"], SelectionConfig())
    assert [(c.candidate, c.rank, c.tied_with) for c in ranking.candidates] == [
        ("c", 1, []),
        ("a", 2, ["b"]),
        ("b", 2, ["a"]),
    ]


def test_missing_eval_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DamocError, match="candidate 'x' has no evaluation yet"):
        rank_candidates(tmp_path, ["x"], SelectionConfig())


def test_exact_ties_keep_config_order_not_alphabetical(tmp_path: Path) -> None:
    # the old ranking sorted equal scores by name, so "a" would have been best here without a word
    fake_results(tmp_path, {"zeta": 0.5, "a": 0.5}, {"zeta": 100, "a": 100})
    ranking = rank_candidates(tmp_path, ["zeta", "a"], SelectionConfig(baselines=["model_size"]))
    assert [c.candidate for c in ranking.candidates] == ["zeta", "a"] and ranking.is_tie
    size = ranking.baselines[0]
    assert size.order == ["zeta", "a"] and size.pick == "zeta" and size.tied_for_top == ["a"]
    assert "Exact tie for first: zeta, a" in write_report(tmp_path)[0].read_text()


def write_predictions(root: Path, name: str, correct: list[int]) -> None:
    """predictions.jsonl rows whose argmax is right exactly where ``correct`` says (answer 0 for all)."""
    rows = [
        {"id": f"q{i}", "answer": 0, "logliks": [0.0, -1.0] if ok else [-1.0, 0.0], "choice_lengths": [1, 1]}
        for i, ok in enumerate(correct)
    ]
    path = RunLayout(root).predictions(name)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def write_eval_split(root: Path, questions: list[str]) -> None:
    rows = [
        {"id": f"q{i}", "question": q, "choices": ["x", "y"], "answer": 0, "context": None}
        for i, q in enumerate(questions)
    ]
    RunLayout(root).eval_file.parent.mkdir(parents=True, exist_ok=True)
    RunLayout(root).eval_file.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_intervals_and_statistical_ties_from_predictions(tmp_path: Path) -> None:
    n = 200
    strong, weak = [1] * 180 + [0] * 20, [1] * 60 + [0] * 140  # 0.90 vs 0.30: far outside noise
    close = [1] * 179 + [0] * 21  # 0.895: one example from strong, inside noise
    fake_results(tmp_path, {"strong": 0.9, "close": 0.895, "weak": 0.3}, {"strong": 1, "close": 1, "weak": 1})
    for name, correct in (("strong", strong), ("close", close), ("weak", weak)):
        write_predictions(tmp_path, name, correct)
    write_eval_split(tmp_path, [f"question {i}" for i in range(n)])
    ranking = rank_candidates(tmp_path, ["weak", "close", "strong"], SelectionConfig(cluster_by="question"))
    rows = {c.candidate: c for c in ranking.candidates}
    # a 0/1 mean over 200 examples: half-width about 1.96 * sqrt(0.9 * 0.1 / 200) = 0.042
    assert rows["strong"].score_low == pytest.approx(0.9 - 0.042, abs=0.015)
    assert rows["strong"].score_high == pytest.approx(0.9 + 0.042, abs=0.015)
    assert ranking.top_group == ["strong", "close"] and ranking.is_tie and ranking.num_examples == n
    first, second = ranking.neighbours
    assert (first.upper, first.lower, first.is_tie) == ("strong", "close", True)
    assert (second.upper, second.lower, second.is_tie) == ("close", "weak", False)
    assert second.difference == pytest.approx(0.595) and second.low > 0.45
    assert "Statistical tie for first: strong, close" in write_report(tmp_path)[0].read_text()
    # two choices per example: guessing scores 0.5; 0.90 and 0.895 are above it beyond noise, 0.30 is not
    assert ranking.chance == 0.5 and ranking.above_chance == ["strong", "close"]


def test_a_leader_not_above_guessing_is_called_uninformative(tmp_path: Path) -> None:
    n = 100
    near = {"a": [1] * 56 + [0] * 44, "b": [1] * 50 + [0] * 50, "c": [1] * 40 + [0] * 60}  # 0.56, 0.50, 0.40
    fake_results(tmp_path, {k: sum(v) / n for k, v in near.items()}, dict.fromkeys(near, 1))
    for name, correct in near.items():
        write_predictions(tmp_path, name, correct)
    write_eval_split(tmp_path, [f"question {i}" for i in range(n)])
    ranking = rank_candidates(tmp_path, list(near), SelectionConfig(cluster_by="question"))
    # 0.56 on 100 two-choice questions: the interval of 0.56 - 0.5 spans about +-0.10, so it covers 0
    assert ranking.best == "a" and ranking.chance == 0.5 and ranking.above_chance == []
    text = write_report(tmp_path)[0].read_text()
    assert "a leads, but not above guessing beyond noise (acc 0.500 by chance on these 100 eval examples)" in text
    assert "Raise `budget`" in text


def test_chance_level_of_each_guessable_metric(tmp_path: Path) -> None:
    write_eval_split(tmp_path, ["a", "b"])
    eval_file = RunLayout(tmp_path).eval_file
    assert uncertainty.chance_values(eval_file, ["q0", "q1"], "acc") == [0.5, 0.5]
    assert uncertainty.chance_values(eval_file, ["q0", "q1"], "choice_prob") == [0.5, 0.5]
    assert uncertainty.chance_values(eval_file, ["q0"], "choice_logprob") == [pytest.approx(math.log(0.5))]
    assert uncertainty.chance_values(eval_file, ["q0"], "exact_match") is None  # no chance level
    assert uncertainty.chance_values(tmp_path / "missing.jsonl", ["q0"], "acc") is None


def test_examples_sharing_a_question_are_resampled_together(tmp_path: Path) -> None:
    # 10 stems asked 20 times each, every answer to a stem the same: 10 independent draws, not 200
    correct = [1 if i // 20 < 6 else 0 for i in range(200)]
    fake_results(tmp_path, {"a": 0.6, "b": 0.6}, {"a": 1, "b": 1})
    for name in ("a", "b"):
        write_predictions(tmp_path, name, correct)
    write_eval_split(tmp_path, [f"stem {i // 20}" for i in range(200)])
    widths = {}
    for cluster_by in ("question", "none"):
        c = rank_candidates(tmp_path, ["a", "b"], SelectionConfig(cluster_by=cluster_by)).candidates[0]
        assert c.score_low is not None and c.score_high is not None
        widths[cluster_by] = c.score_high - c.score_low
    assert widths["question"] > 3 * widths["none"]
