"""The budget knob: proxy steps and keep ratio from a fraction of the ground truth's training compute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from damoc.budget import apply_budget, budget_plan
from damoc.loading import parse_config
from damoc.testing import make_mc_records, write_jsonl


def test_budget_plan_by_hand() -> None:
    # 1/16 of 3 epochs over 2,124 examples, batch 8, a quarter of the layers removed:
    # S = round(0.0625 * 3 * 2124 / (8 * 0.75)) = round(66.375) = 66 steps; keep = 66 * 8 / 2124 = 0.24859
    steps, keep = budget_plan(0.0625, 3.0, 2124, 8, 0.25)
    assert steps == 66 and keep == pytest.approx(528 / 2124)
    # a budget above one pass of the kept data keeps everything
    assert budget_plan(1.0, 3.0, 100, 4, 0.5) == (150, 1.0)
    assert budget_plan(1e-6, 1.0, 100, 4, 0.0) == (1, 0.04)  # at least one step


def raw(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    train = write_jsonl(tmp_path / "train.jsonl", make_mc_records(400, seed=0))
    ev = write_jsonl(tmp_path / "eval.jsonl", make_mc_records(8, seed=1))
    return {
        "run_dir": str(tmp_path / "run"),
        "task": {"train": {"path": str(train)}, "eval": {"path": str(ev)}},
        "candidates": ["smollm2-135m"],
        "training": {"batch_size": 4, "gradient_accumulation_steps": 2},
        "model": {"remove_ratio": 0.5},
        "ground_truth": {"epochs": 2},
        **extra,
    }


def test_apply_budget_sets_steps_and_the_first_filter(tmp_path: Path) -> None:
    cfg = parse_config(raw(tmp_path, budget=0.1, data={"steps": [{"method": "ifd", "params": {"keep_ratio": 0.9}}]}))
    out = apply_budget(cfg)
    # S = round(0.1 * 2 * 400 / (8 * 0.5)) = 20 steps of 8 examples: 160 of 400 kept = 0.4
    assert out.training.max_steps == 20 and out.data.steps[0].params["keep_ratio"] == pytest.approx(0.4)
    assert out.data.steps[0].method == "ifd" and apply_budget(out) == out  # idempotent


def test_budget_replaces_a_keep_count_with_its_keep_ratio(tmp_path: Path) -> None:
    cfg = parse_config(raw(tmp_path, budget=0.1, data={"steps": [{"method": "random", "params": {"keep_count": 50}}]}))
    assert apply_budget(cfg).data.steps[0].params == {"keep_ratio": pytest.approx(0.4)}


def test_budget_sizes_a_filter_after_a_dedup_step_by_count(tmp_path: Path) -> None:
    steps = [{"method": "rules", "params": {}}, {"method": "deita", "params": {"keep_ratio": 0.3, "pool": 4}}]
    out = apply_budget(parse_config(raw(tmp_path, budget=0.1, data={"steps": steps})))
    # 20 steps of 8: 160 examples, however many the rules step drops first (a ratio would shrink with it)
    assert out.data.steps[0].params == {} and out.data.steps[1].params == {"pool": 4, "keep_count": 160}
    assert apply_budget(out) == out


def test_budget_with_a_layer_count_plans_as_if_none_were_removed(tmp_path: Path) -> None:
    cfg = parse_config(raw(tmp_path, budget=0.1, model={"remove_layers": 3}))
    # r = 0: S = round(0.1 * 2 * 400 / 8) = 10 steps (a proxy with layers removed then costs less than b)
    assert apply_budget(cfg).training.max_steps == 10


def test_budget_without_a_filter_adds_a_random_one(tmp_path: Path) -> None:
    cfg = parse_config(raw(tmp_path, budget=0.05, data={"steps": [{"method": "self_information", "params": {}}]}))
    out = apply_budget(cfg)
    assert [s.method for s in out.data.steps] == ["random", "self_information"]
    assert out.training.max_steps == 10  # round(0.05 * 2 * 400 / (8 * 0.5)) = 10


def test_no_budget_changes_nothing(tmp_path: Path) -> None:
    cfg = parse_config(raw(tmp_path))
    assert apply_budget(cfg) is cfg
