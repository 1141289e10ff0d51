"""Zero-cost pre-screens: LogME against hand computations, the keep rule, the sample."""

from __future__ import annotations

import math

import numpy as np
import pytest

from damoc.selection.prescreens.base import keep_top, sample_indices
from damoc.selection.prescreens.logme import evidence, logme, maximise_evidence


def test_evidence_on_a_hand_made_case() -> None:
    # F = [[1], [0]], y = [1, 0], alpha = beta = 1: y ~ N(0, I/beta + F F^T/alpha) = N(0, diag(2, 1)),
    # log p = -1/2 * (1/2) - 1/2 * log 2 - log(2 pi)
    f, y = np.array([[1.0], [0.0]]), np.array([1.0, 0.0])
    assert evidence(f, y, 1.0, 1.0) == pytest.approx(-0.25 - 0.5 * math.log(2) - math.log(2 * math.pi), abs=1e-12)


def gaussian_log_evidence(f: np.ndarray, y: np.ndarray, alpha: float, beta: float) -> float:
    """The same evidence written as the marginal y ~ N(0, I/beta + F F^T/alpha): an independent formula."""
    cov = np.eye(len(y)) / beta + f @ f.T / alpha
    _, logdet = np.linalg.slogdet(cov)
    return float(-0.5 * y @ np.linalg.solve(cov, y) - 0.5 * logdet - len(y) / 2 * math.log(2 * math.pi))


def test_evidence_equals_the_marginal_gaussian_and_is_maximised() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(30, 4))
    y = (f @ np.array([1.0, -0.5, 0.0, 0.2]) + 0.3 * rng.normal(size=30) > 0).astype(float)
    for alpha, beta in [(1.0, 1.0), (0.3, 5.0), (7.0, 0.2)]:
        assert evidence(f, y, alpha, beta) == pytest.approx(gaussian_log_evidence(f, y, alpha, beta), rel=1e-10)
    alpha, beta = maximise_evidence(f, y)
    best = evidence(f, y, alpha, beta)
    grid = [gaussian_log_evidence(f, y, a, b) for a in np.geomspace(1e-3, 1e3, 61) for b in np.geomspace(1e-3, 1e3, 61)]
    assert best >= max(grid) - 1e-6  # the fixed point is at least as good as a fine grid


def test_logme_prefers_features_that_predict_the_label() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=80)
    informative = np.eye(4)[labels] * 3 + 0.5 * rng.normal(size=(80, 4))
    noise = rng.normal(size=(80, 4))
    assert logme(informative, labels) > logme(noise, labels)
    binary = np.minimum(labels, 1)
    per_class = []
    for k in (0, 1):
        y = (binary == k).astype(float)
        per_class.append(evidence(noise, y, *maximise_evidence(noise, y)) / len(y))
    assert logme(noise, binary) == pytest.approx(np.mean(per_class))


def test_keep_top_never_drops_a_tie_with_the_last_kept() -> None:
    scores = {"a": 0.2, "b": 0.9, "c": 0.5, "d": 0.5, "e": 0.1}
    assert keep_top(scores, 2) == (["b", "c", "d", "a", "e"], ["b", "c", "d"])
    assert keep_top(scores, 3) == (["b", "c", "d", "a", "e"], ["b", "c", "d"])
    assert keep_top(scores, 1)[1] == ["b"]
    assert keep_top(scores, 9)[1] == ["b", "c", "d", "a", "e"]


def test_sample_is_seeded_and_in_file_order() -> None:
    s = sample_indices(100, 10, seed=3)
    assert s == sample_indices(100, 10, seed=3) != sample_indices(100, 10, seed=4)
    assert s == sorted(s) and len(set(s)) == 10
    assert sample_indices(5, 10, seed=0) == [0, 1, 2, 3, 4]
