"""Metrics: pure maths on hand-made rows (golden numbers are fine here) and the registry matrix."""

from __future__ import annotations

import math
from typing import Any

import pytest

from damoc.errors import ConfigError
from damoc.evaluation.metrics import build_metrics
from damoc.evaluation.metrics.base import exact_match_score, f1_score, normalize_answer
from damoc.registry import registry

MC_ROWS: list[dict[str, Any]] = [
    # acc picks 0 (right); acc_norm: -4/4=-1.0 vs -5/10=-0.5 picks 1 (wrong)
    {"answer": 0, "logliks": [-4.0, -5.0], "choice_lengths": [4, 10]},
    # acc picks 1 (wrong); acc_norm: -6/3=-2.0 vs -3/1=-3.0 picks 0 (right)
    {"answer": 0, "logliks": [-6.0, -3.0, -9.0], "choice_lengths": [3, 1, 3]},
    # a tie goes to the first choice, as numpy.argmax
    {"answer": 0, "logliks": [-1.0, -1.0], "choice_lengths": [2, 2]},
    {"answer": 1, "logliks": [-2.0, -1.0], "choice_lengths": [5, 5]},
]
QA_ROWS: list[dict[str, Any]] = [
    {"answer": "cat", "prediction": "The Cat!"},
    {"answer": "the big red dog", "prediction": "a red dog"},
    {"answer": "Paris", "prediction": "London"},
    {"answer": "1,000", "prediction": "1000"},
]


def compute(name: str, rows: list[dict[str, Any]]) -> float:
    return registry("metric").build(name).compute(rows)


def test_acc_and_acc_norm() -> None:
    assert compute("acc", MC_ROWS) == pytest.approx(3 / 4)
    assert compute("acc_norm", MC_ROWS) == pytest.approx(3 / 4)
    assert compute("acc", MC_ROWS[:2]) == pytest.approx(1 / 2)
    assert compute("acc_norm", MC_ROWS[:1]) == 0.0


def test_choice_prob_by_hand_and_against_lm_eval_softmax() -> None:
    import numpy as np
    from lm_eval.utils import softmax

    # row 1: e^-4 / (e^-4 + e^-5) = 1 / (1 + e^-1) = 0.7311; row 3: an even split, 0.5; row 4: 1 / (1 + e^-1)
    row2 = 1 / (1 + math.exp(3) + math.exp(-3))  # e^-6 / (e^-6 + e^-3 + e^-9)
    expected = (2 / (1 + math.exp(-1)) + row2 + 0.5) / 4
    assert compute("choice_prob", MC_ROWS) == pytest.approx(expected)
    theirs = np.mean([softmax(np.array(r["logliks"]))[r["answer"]] for r in MC_ROWS])  # lm-eval's brier input
    assert compute("choice_prob", MC_ROWS) == pytest.approx(theirs)
    assert compute("choice_prob", [{"answer": 2, "logliks": [-1e4, -1e4 - 1, -1e4 + 1]}]) < 1  # no overflow
    assert compute("choice_prob", [{"answer": 0, "logliks": [-3.0] * 4}]) == pytest.approx(0.25)  # chance: 1 / k


def test_choice_logprob_by_hand_and_against_torch_log_softmax() -> None:
    import torch

    # row 1: log(1 / (1 + e^-1)) = -0.3133; row 3: log 0.5; row 4: as row 1
    row2 = -math.log(1 + math.exp(3) + math.exp(-3))  # log(e^-6 / (e^-6 + e^-3 + e^-9))
    expected = (2 * -math.log(1 + math.exp(-1)) + row2 + math.log(0.5)) / 4
    assert compute("choice_logprob", MC_ROWS) == pytest.approx(expected)
    theirs = sum(
        torch.log_softmax(torch.tensor(r["logliks"], dtype=torch.float64), dim=0)[r["answer"]].item() for r in MC_ROWS
    ) / len(MC_ROWS)
    assert compute("choice_logprob", MC_ROWS) == pytest.approx(theirs)
    assert compute("choice_logprob", [{"answer": 1, "logliks": [-1e4, -1e4 - 50]}]) == pytest.approx(-50, abs=1e-9)
    assert compute("choice_logprob", [{"answer": 0, "logliks": [-3.0] * 4}]) == pytest.approx(math.log(0.25))
    assert compute("choice_logprob", []) == 0.0


@pytest.mark.parametrize(
    ("text", "normal"),
    [("The Cat!", "cat"), ("  An   apple, a day ", "apple day"), ("theatre", "theatre"), ("U.S.A.", "usa")],
)
def test_squad_normalisation(text: str, normal: str) -> None:
    assert normalize_answer(text) == normal


def test_exact_match_and_f1() -> None:
    assert exact_match_score("The Cat!", "cat") == 1.0
    assert f1_score("a red dog", "the big red dog") == pytest.approx(2 * 1.0 * (2 / 3) / (1.0 + 2 / 3))
    assert f1_score("", "") == 1.0 and f1_score("the", "cat") == 0.0
    assert compute("exact_match", QA_ROWS) == pytest.approx(2 / 4)
    assert compute("f1", QA_ROWS) == pytest.approx((1 + 0.8 + 0 + 1) / 4)


def test_metric_that_does_not_fit_the_task_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"exact_match.*multiple_choice"):
        build_metrics(["acc", "exact_match"], "multiple_choice")
    with pytest.raises(ConfigError, match="available"):
        build_metrics(["accuracy"], "qa")


@pytest.mark.parametrize("name", registry("metric").names())
def test_every_metric_follows_the_contract(name: str) -> None:
    cls = registry("metric").get(name)
    assert cls.__doc__ and cls.Params.model_config.get("frozen")
    metric = registry("metric").build(name)
    assert metric.task_types and set(metric.task_types) <= {"multiple_choice", "qa"}
    rows = MC_ROWS if "multiple_choice" in metric.task_types else QA_ROWS
    low, high = (-math.inf, 0.0) if name == "choice_logprob" else (0.0, 1.0)  # a log-probability is at most 0
    assert low <= metric.compute(rows) <= high
    assert metric.compute([]) == 0.0
    with pytest.raises(ConfigError):
        registry("metric").build(name, {"no_such_param": 1})
