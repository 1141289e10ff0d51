"""Ranking from run-folder results: order, ties, baselines, reports. Pure data, no models."""

from __future__ import annotations

from pathlib import Path

import pytest

from damoc.artifacts import RunLayout
from damoc.config import MethodSpec, SelectionConfig
from damoc.errors import DamocError
from damoc.report import write_report
from damoc.reports import EvalReport, ProxyReport, TrainReport, write_stage_report
from damoc.selection import rank_candidates


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
