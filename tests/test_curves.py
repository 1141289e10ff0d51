"""benchmarks/curves.py: the ground truths' learning curves side by side, from hand-made records and cache entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("curves")


def _point(step: int, epoch: float, acc: float) -> dict[str, object]:
    return {"step": step, "epoch": epoch, "metrics": {"acc": acc}, "train_loss": 1.0, "seconds": 1.0}


def test_a_record_wins_over_the_cache_entry(mod: ModuleType, tmp_path: Path) -> None:
    records, entry = tmp_path / "records", tmp_path / "cache" / "k"
    entry.mkdir(parents=True)
    assert mod.curve_points("k", entry, records) == []
    (entry / "curve.json").write_text(json.dumps([_point(66, 0.25, 0.3), _point(33, 0.125, 0.2)]))
    assert [p["step"] for p in mod.curve_points("k", entry, records)] == [33, 66]  # sorted by step
    (records / "k").mkdir(parents=True)
    (records / "k" / "curve.json").write_text(json.dumps([_point(266, 1.0, 0.5)]))
    assert [p["step"] for p in mod.curve_points("k", entry, records)] == [266]


def test_rows_order_each_point_and_mark_unfinished_ones(mod: ModuleType) -> None:
    curves = {
        "qwen2.5-coder-0.5b": [_point(33, 0.125, 0.25), _point(266, 1.0, 0.70), _point(532, 2.0, 0.74)],
        "gemma3-270m": [_point(33, 0.125, 0.30), _point(266, 1.0, 0.62)],
        "smollm2-135m": [_point(33, 0.125, 0.20), _point(266, 1.0, 0.42)],
    }
    rows = mod.curve_rows(curves, "acc")
    assert [r["epoch"] for r in rows] == [0.125, 1.0, 2.0]
    assert rows[0]["order"] == ["gemma3-270m", "qwen2.5-coder-0.5b", "smollm2-135m"]  # gemma leads early
    assert rows[1]["order"] == ["qwen2.5-coder-0.5b", "gemma3-270m", "smollm2-135m"] and rows[1]["complete"]
    assert rows[2] == {"epoch": 2.0, "scores": {"qwen2.5-coder-0.5b": 0.74}, "order": ["qwen2.5-coder-0.5b"],
                       "complete": False}  # fmt: skip
    table = mod.markdown(rows, list(curves), "acc").splitlines()
    assert table[0] == "| epochs | qwen2.5 acc | gemma3 acc | smollm2 acc | order |"
    assert table[3] == "| 1 | 0.700 | 0.620 | 0.420 | qwen2.5 > gemma3 > smollm2 |"
    assert table[4] == "| 2 | 0.740 | - | - | qwen2.5 (so far) |"
