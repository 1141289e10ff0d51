"""benchmarks/rank_metrics.py's per-example scores against lm-evaluation-harness and a hand computation."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("rank_metrics")


def test_scores_by_hand(mod: ModuleType) -> None:
    # logliks log(0.5), log(0.3), log(0.2): p = (0.5, 0.3, 0.2); right choice 1
    row = {"logliks": [math.log(0.5), math.log(0.3), math.log(0.2)], "choice_lengths": [10, 2, 4], "answer": 1}
    s = mod.example_scores(row)
    assert s["acc"] == 0.0 and s["prob"] == pytest.approx(0.3) and s["logp"] == pytest.approx(math.log(0.3))
    assert s["brier"] == pytest.approx(-(0.5**2 + 0.7**2 + 0.2**2))
    # per character: -0.069, -0.602, -0.402: the first choice still wins
    assert s["acc_norm"] == 0.0


def test_brier_matches_lm_evaluation_harness(mod: ModuleType) -> None:
    from lm_eval.api.metrics import brier_score
    from lm_eval.utils import softmax

    rng = np.random.default_rng(0)
    rows = [
        {"logliks": list(rng.normal(-8, 3, 4)), "choice_lengths": [5, 6, 7, 8], "answer": int(rng.integers(4))}
        for _ in range(50)
    ]
    ours = -np.mean([mod.example_scores(r)["brier"] for r in rows])
    theirs = brier_score([(r["answer"], softmax(np.array(r["logliks"]))) for r in rows])
    assert ours == pytest.approx(theirs, rel=1e-9)


def test_predict_writes_each_sources_order_without_a_ground_truth(mod: ModuleType, tmp_path: Path) -> None:
    import json

    cell = tmp_path / "task" / "e1-b0.03125"
    # a: the right choice has p 0.9, then 0.2 (the others 0.4 each: wrong), acc 1/2; b: p 0.4 twice, the others 0.3: acc 1
    probs = {"a": [0.9, 0.2], "b": [0.4, 0.4]}
    for name, ps in probs.items():
        for source in ("eval", "subset_tuning"):
            folder = cell / "models" / name / source
            folder.mkdir(parents=True)
            rows = [
                {"id": str(i), "answer": 0, "logliks": [math.log(p), math.log((1 - p) / 2), math.log((1 - p) / 2)],
                 "choice_lengths": [1, 1, 1]}
                for i, p in enumerate(ps)
            ]  # fmt: skip
            (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ranking = {"candidates": [{"candidate": "a"}, {"candidate": "b"}], "top_group": ["a", "b"]}
    (cell / "ranking.json").write_text(json.dumps(ranking))
    out = mod.predict("task", 0.03125, 1.0, tmp_path)
    # log p: a (log 0.9 + log 0.2) / 2 = -0.857, b log 0.4 = -0.916 -> a; prob: a 0.55 > b 0.4
    assert out["rule"] == "subset_tuning ranked by logp" and out["rule_pick"] == "a" and out["proxy_pick"] == "a"
    means = out["sources"]["subset_tuning"]["means"]
    assert means["a"]["logp"] == pytest.approx((math.log(0.9) + math.log(0.2)) / 2)
    assert means["b"]["prob"] == pytest.approx(0.4) and (means["a"]["acc"], means["b"]["acc"]) == (0.5, 1.0)
    orders = out["sources"]["eval"]["orders"]
    assert (orders["acc"], orders["prob"], orders["logp"]) == (["b", "a"], ["a", "b"], ["a", "b"])
    assert len(out["commit_before"]) == 40


def test_grade_judges_a_written_prediction_against_the_later_ground_truth(mod: ModuleType) -> None:
    orders = {"acc": ["b", "a", "c"], "logp": ["c", "a", "b"]}
    prediction = {
        "rule": "subset_tuning ranked by logp", "rule_pick": "c", "proxy_pick": "b", "proxy_exact_tie": ["a"],
        "sources": {"eval": {"orders": orders}},
    }  # fmt: skip
    # the ground truth: a > b > c, with a and b a statistical tie
    cells = {"task@0.03125": {"truth_order": ["a", "b", "c"], "truth_tie_group": ["a", "b"]}}
    assert mod.grade({"other@0.03125": prediction}, cells) == {}  # no ground truth yet: nothing graded
    g = mod.grade({"task@0.03125": prediction}, cells)["task@0.03125"]
    assert g["rule_pick"] == {"pick": "c", "hit": False, "strict": False}
    assert g["proxy_pick"] == {"pick": "b", "hit": True, "strict": False, "exact_tie": ["a"]}
    assert g["sources"]["eval"]["acc"]["hit"] and not g["sources"]["eval"]["logp"]["hit"]
    (line,) = mod.graded_lines({"task@0.03125": g})
    assert "ground truth a > b > c (tie group a, b)" in line
    assert "picked c (a miss)" in line and "picked b (a tie-aware hit)" in line
