"""benchmarks/fidelity.py --table: the summary and picks tables from hand-made cells (a fallback pick included)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("fidelity")


def _cell(order: list[str], hit: bool, above: bool, fallback: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "truth_tie_group": ["qwen2.5-coder-0.5b", "gemma3-270m"],
        "proxy_order": order,
        **({"pick": fallback["pick"], "fallback": fallback} if fallback else {}),
        "top1_tie_aware": hit,
        "baselines": {"ats": {"pick": "gemma3-270m", "tie_aware": True}, "other": {"pick": "x", "tie_aware": False}},
    }


def _results() -> dict[str, Any]:
    fb = {"method": "perplexity", "pick": "qwen2.5-coder-0.5b"}
    cells = {
        "medical_except": _cell(["smollm2-135m", "qwen2.5-coder-0.5b"], True, False, fb),
        "medical_qa": _cell(["gemma3-270m", "smollm2-135m"], True, True),
        "financial_qa": _cell(["smollm2-135m", "gemma3-270m"], False, True),
    }
    summary = {
        t: {"top1_tie_aware": c["top1_tie_aware"], "proxy_leader_above_chance": t != "medical_except",
            "token_layer_speedup": 30.0, "train_speedup": 50.0, "end_to_end_speedup": 12.0}
        for t, c in cells.items()
    }  # fmt: skip
    return {
        "default_budget": 0.03125,
        "tasks": {t: {"budgets": {"0.03125": c}} for t, c in cells.items()},
        "summary": summary,
    }


def test_summary_table_names_the_fallback_pick_and_counts_hits(mod: ModuleType) -> None:
    lines = mod.summary_table(_results()).splitlines()
    assert lines[2].startswith("| medical_except | qwen2.5, gemma3 | qwen2.5 (fallback) | yes | no |")
    assert lines[3].startswith("| medical_qa | qwen2.5, gemma3 | gemma3 | yes | yes |")
    assert lines[4].startswith("| financial_qa | qwen2.5, gemma3 | smollm2 | no | yes |")
    # 2 tie-aware hits of 3; only medical_qa's was made by a leader above guessing
    assert "**2 of 3** (1 with the leader measured above guessing)" in lines[-1]


def test_picks_table_uses_the_pick_not_the_proxy_leader(mod: ModuleType) -> None:
    lines = mod.picks_table(_results()).splitlines()
    assert lines[2].startswith("| medical_except | qwen2.5 yes |")  # the fallback's pick, not smollm2
    assert lines[-1].startswith("| **tie-aware hits** | **2 of 3** |")
    assert "| - |" in lines[2]  # a column no cell has (model_size) is a dash, never a miss
