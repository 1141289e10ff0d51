"""benchmarks/rank_metrics.py's per-example scores against lm-evaluation-harness and a hand computation."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "rank_metrics.py"


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("rank_metrics", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scores_by_hand() -> None:
    # logliks log(0.5), log(0.3), log(0.2): p = (0.5, 0.3, 0.2); right choice 1
    row = {"logliks": [math.log(0.5), math.log(0.3), math.log(0.2)], "choice_lengths": [10, 2, 4], "answer": 1}
    s = _module().example_scores(row)
    assert s["acc"] == 0.0 and s["prob"] == pytest.approx(0.3) and s["logp"] == pytest.approx(math.log(0.3))
    assert s["brier"] == pytest.approx(-(0.5**2 + 0.7**2 + 0.2**2))
    # per character: -0.069, -0.602, -0.402: the first choice still wins
    assert s["acc_norm"] == 0.0


def test_brier_matches_lm_evaluation_harness() -> None:
    from lm_eval.api.metrics import brier_score
    from lm_eval.utils import softmax

    rng = np.random.default_rng(0)
    rows = [
        {"logliks": list(rng.normal(-8, 3, 4)), "choice_lengths": [5, 6, 7, 8], "answer": int(rng.integers(4))}
        for _ in range(50)
    ]
    ours = -np.mean([_module().example_scores(r)["brier"] for r in rows])
    theirs = brier_score([(r["answer"], softmax(np.array(r["logliks"]))) for r in rows])
    assert ours == pytest.approx(theirs, rel=1e-9)
