"""Ranking from run-folder results: order, ties, baselines, reports. Pure data, no models."""

from __future__ import annotations

from pathlib import Path

import pytest

from damoc.artifacts import RunLayout, write_json_atomic
from damoc.config import SelectionConfig
from damoc.errors import DamocError
from damoc.report import write_report
from damoc.selection import rank_candidates


def fake_results(root: Path, scores: dict[str, float], params: dict[str, int]) -> None:
    layout = RunLayout(root)
    for name, score in scores.items():
        write_json_atomic(layout.eval_dir(name) / "eval.json", {"metrics": {"acc": score, "acc_norm": score / 2}})
        write_json_atomic(layout.zero_shot_dir(name) / "eval.json", {"metrics": {"acc": 1 - score, "acc_norm": 0.1}})
        write_json_atomic(
            layout.proxy_dir(name) / "layers.json",
            {"layers_before": 6, "layers_after": 4, "params_before": params[name], "params_after": params[name] // 2},
        )
        write_json_atomic(layout.adapter_dir(name) / "train.json", {"examples_used": 10, "tokens_seen": 1234})


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
    assert "<svg" in page.read_text()


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
