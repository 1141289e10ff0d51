"""benchmarks/rejudge.py: a new cell judged by hand against a stored ground truth, and stored beside the old one."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def mod() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("rejudge")
    finally:
        sys.path.remove(str(BENCH))


def _old() -> dict:  # type: ignore[type-arg]
    return {
        "config_hash": "abc",
        "truth_order": ["q", "g", "s"],
        "truth_scores": {
            n: {"point": p, "low": p - 0.1, "high": p + 0.1} for n, p in [("q", 0.7), ("g", 0.6), ("s", 0.4)]
        },
        "truth_tie_group": ["q", "g"],
        "proxy_order": ["g", "s", "q"],
        "top1_strict": False,
        "costs": {"truth_seconds": {"train": 3000.0, "eval": 600.0, "total": 3600.0}, "truth_token_layers": 900_000},
    }


def _ranking() -> dict:  # type: ignore[type-arg]
    def row(name: str, rank: int, score: float) -> dict:  # type: ignore[type-arg]
        secs = {"model": 10.0, "train": 20.0, "eval": 30.0, "fallback": 5.0}
        return {"candidate": name, "rank": rank, "score": score, "tied_with": [], "seconds": secs,
                "train_tokens": 1000, "layers_after": 10}  # fmt: skip

    return {
        "candidates": [row("s", 1, 0.26), row("g", 2, 0.25), row("q", 3, 0.24)],
        "top_group": ["s", "g", "q"],
        "chance": 0.25,
        "above_chance": [],
        "fallback": {"method": "perplexity", "pick": "q", "order": ["q", "g", "s"], "proxy_leader": "s"},
        "baselines": [
            {"baseline": "model_size", "order": ["q", "g", "s"], "details": {}},
            {"baseline": "zero_shot", "order": ["s", "g", "q"], "details": {}},
            {
                "baseline": "ats",
                "order": ["g", "q", "s"],
                "details": {"g": {"token_layers": 700}, "q": {"token_layers": 800}},
            },
        ],
    }


def test_rejudged_cell_by_hand(mod: ModuleType) -> None:
    cell = mod.rejudged(_old(), _ranking(), data_seconds=15.0, facts={"seconds": 1.0})
    assert cell["truth_order"] == ["q", "g", "s"] and cell["truth_tie_group"] == ["q", "g"]
    assert cell["proxy_order"] == ["s", "g", "q"] and cell["pick"] == "q"  # the fallback's pick is judged
    assert cell["top1_strict"] and cell["top1_tie_aware"] and cell["relacc"] == 1.0
    # proxy s 0.26 > g 0.25 > q 0.24 against truth q > g > s: every pair discordant
    assert cell["kendall_tau"] == pytest.approx(-1.0) and cell["spearman"] == pytest.approx(-1.0)
    assert {b: (v["pick"], v["strict"], v["tie_aware"]) for b, v in cell["baselines"].items()} == {
        "model_size": ("q", True, True), "zero_shot": ("s", False, False), "ats": ("g", False, True),
    }  # fmt: skip
    assert cell["baselines"]["zero_shot"]["relacc"] == 0.0  # (0.4 - 0.4) / (0.7 - 0.4)
    assert cell["baseline_token_layers"] == {"ats": 1500}
    # proxy: data 15 + model 30 + train 60 + eval 90 + fallback 15 = 210 s; 3 x 1000 tokens x 10 layers
    costs = cell["costs"]
    assert costs["proxy_seconds"]["total"] == 210.0 and costs["proxy_token_layers"] == 30_000
    assert cell["train_speedup"] == 50.0 and cell["end_to_end_speedup"] == round(3600 / 210, 1)
    assert cell["token_layer_speedup"] == 30.0 and cell["truth_from"].startswith("the stored cell of config abc")


def test_store_keeps_the_old_cell_once(mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = {"tasks": {"t": {"epochs": 1, "budgets": {"0.03125": _old()}, "overrides": []}}}
    path = tmp_path / "fidelity.json"
    path.write_text(json.dumps(results))
    monkeypatch.setattr(mod.fidelity, "RESULTS", path)
    new = mod.rejudged(_old(), _ranking(), data_seconds=15.0, facts={}) | {"config_hash": "new"}
    mod.store("t", 0.03125, new, 0.03125)
    mod.store("t", 0.03125, new | {"config_hash": "newer"}, 0.03125)
    saved = json.loads(path.read_text())
    assert saved["tasks"]["t"]["budgets"]["0.03125"]["config_hash"] == "newer"
    assert saved["tasks"]["t+previous-default"]["budgets"]["0.03125"]["config_hash"] == "abc"
    assert saved["summary"] == {
        "t": {k: saved["tasks"]["t"]["budgets"]["0.03125"].get(k) for k in mod.fidelity.SUMMARY_KEYS}
    }
