"""Ranking agreement maths: hand-computed values, naive reference implementations, bootstrap intervals.

scipy is not installed in the venv, so the cross-checks use the naive references defined below.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from damoc.selection.agreement import (
    Interval,
    adjacent_differences,
    agreement,
    bootstrap_mean,
    kendall_tau,
    paired_difference,
    pearson,
    relacc,
    spearman,
    tie_group,
    top1,
)

# ---------------------------------------------------------------------------------------------------------
# Naive references, written independently of the module (loops over all pairs, no numpy tricks).


def naive_tau_b(x: list[float], y: list[float]) -> float:
    n = len(x)
    nc = nd = tx = ty = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0:
                tx += 1
            if dy == 0:
                ty += 1
            if dx * dy > 0:
                nc += 1
            elif dx * dy < 0:
                nd += 1
    n0 = n * (n - 1) // 2
    denom = (n0 - tx) * (n0 - ty)
    return 0.0 if denom == 0 else (nc - nd) / math.sqrt(denom)


def naive_pearson(x: list[float], y: list[float]) -> float:
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return 0.0 if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)


def naive_ranks(x: list[float]) -> list[float]:
    # rank = 1 + (#strictly smaller) + (#equal others) / 2, i.e. the mean of the ranks a tie block spans
    return [1 + sum(b < a for b in x) + (sum(b == a for b in x) - 1) / 2 for a in x]


def naive_spearman(x: list[float], y: list[float]) -> float:
    return naive_pearson(naive_ranks(x), naive_ranks(y))


# ---------------------------------------------------------------------------------------------------------
# Correlations: hand-computed values.


def test_kendall_tau_with_ties_by_hand() -> None:
    # x=[1,2,2,3], y=[1,2,3,3]; pairs (i<j): (0,1) C, (0,2) C, (0,3) C, (1,2) tie in x, (1,3) C, (2,3) tie in y
    # nc=4, nd=0, n0=6, n1=1 (x: one tied pair), n2=1 (y: one tied pair)
    # tau_b = (4 - 0) / sqrt((6 - 1) * (6 - 1)) = 4 / 5 = 0.8
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)


def test_kendall_tau_with_discordant_pairs_by_hand() -> None:
    # x=[1,2,3,4], y=[2,1,4,3]; discordant: (0,1), (2,3); concordant: the other 4 of the 6 pairs
    # tau_b = (4 - 2) / sqrt(6 * 6) = 2/6 = 0.3333...
    assert kendall_tau([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(1 / 3)
    # reversed order: every pair discordant -> (0 - 6) / 6 = -1
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_spearman_with_ties_by_hand() -> None:
    # ranks x=[1,2,2,3] -> [1, 2.5, 2.5, 4]; y=[1,2,3,3] -> [1, 2, 3.5, 3.5]; both rank means are 2.5
    # deviations dx=[-1.5, 0, 0, 1.5], dy=[-1.5, -0.5, 1, 1]
    # sum dx*dy = 2.25 + 0 + 0 + 1.5 = 3.75; sum dx^2 = 4.5; sum dy^2 = 2.25 + 0.25 + 1 + 1 = 4.5
    # rho = 3.75 / sqrt(4.5 * 4.5) = 3.75 / 4.5 = 5/6
    assert spearman([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(5 / 6)
    # a monotone but non-linear relation has rho = 1 exactly
    assert spearman([1, 2, 3, 4], [1, 10, 100, 1000]) == pytest.approx(1.0)


def test_pearson_by_hand() -> None:
    # x=[1,2,3], y=[1,3,2]; means 2, 2; dx=[-1,0,1], dy=[-1,1,0]
    # sum dx*dy = 1 + 0 + 0 = 1; sum dx^2 = 2; sum dy^2 = 2; r = 1 / sqrt(2 * 2) = 0.5
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)


@pytest.mark.parametrize("fn", [kendall_tau, spearman, pearson])
def test_constant_side_gives_zero(fn) -> None:
    assert fn([1, 1, 1], [1, 2, 3]) == 0.0
    assert fn([1, 2, 3], [5, 5, 5]) == 0.0


@pytest.mark.parametrize("fn", [kendall_tau, spearman, pearson])
def test_correlation_errors(fn) -> None:
    with pytest.raises(ValueError, match="differ in length"):
        fn([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        fn([1], [1])


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_correlations_match_naive_references_on_random_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 30))
    x = rng.integers(0, 4, size=n).astype(float).tolist()  # only 4 distinct values -> many ties
    y = (rng.integers(0, 5, size=n) + 0.5 * np.asarray(x)).tolist()
    assert kendall_tau(x, y) == pytest.approx(naive_tau_b(x, y), abs=1e-12)
    assert spearman(x, y) == pytest.approx(naive_spearman(x, y), abs=1e-12)
    assert pearson(x, y) == pytest.approx(naive_pearson(x, y), abs=1e-12)


# ---------------------------------------------------------------------------------------------------------
# relacc, top-1, agreement.


def test_relacc_three_models_by_hand() -> None:
    truth = {"a": 0.5, "b": 0.7, "c": 0.6}
    # min 0.5, max 0.7: c -> (0.6 - 0.5) / (0.7 - 0.5) = 0.1 / 0.2 = 0.5
    assert relacc(truth, "c") == pytest.approx(0.5)
    assert relacc(truth, "b") == pytest.approx(1.0)  # (0.7 - 0.5) / 0.2
    assert relacc(truth, "a") == pytest.approx(0.0)  # (0.5 - 0.5) / 0.2
    assert relacc({"a": 0.4, "b": 0.4}, "a") == 1.0  # max == min
    with pytest.raises(ValueError, match="not a candidate"):
        relacc(truth, "z")


def test_top1_strict_versus_tie_aware() -> None:
    truth = {"a": 0.70, "b": 0.70, "c": 0.69}
    # a and b share the max 0.70: both count as strict top-1; c does not
    assert top1("a", truth) == {"strict": True, "tie_aware": True}
    assert top1("b", truth) == {"strict": True, "tie_aware": True}
    assert top1("c", truth) == {"strict": False, "tie_aware": False}
    # c is statistically tied with the leader: tie-aware counts it, strict does not
    assert top1("c", truth, tie_group=["a", "b", "c"]) == {"strict": False, "tie_aware": True}
    # a strict winner outside a given tie group is not tie-aware
    assert top1("a", truth, tie_group=["b"]) == {"strict": True, "tie_aware": False}
    with pytest.raises(ValueError, match="not a candidate"):
        top1("z", truth)


def test_agreement_by_hand() -> None:
    proxy = {"a": 1.0, "b": 2.0, "c": 2.0, "d": 3.0}
    truth = {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.3}
    out = agreement(proxy, truth)
    # same shapes as the hand examples above: x=[1,2,2,3], y=[.1,.2,.3,.3] (ranks as y=[1,2,3,3])
    assert out["kendall_tau"] == pytest.approx(0.8)
    assert out["spearman"] == pytest.approx(5 / 6)
    # pearson: dx=[-1,0,0,1], dy=[-.125,-.025,.075,.075] (mean .225); sum dxdy = .125+.075 = .2
    # sum dx^2 = 2; sum dy^2 = .015625+.000625+.005625+.005625 = .0275; r = .2 / sqrt(2*.0275) = .2/sqrt(.055)
    assert out["pearson"] == pytest.approx(0.2 / math.sqrt(0.055))
    # proxy pick is d (3.0): truth 0.3 is the max -> relacc 1
    assert out["relacc"] == pytest.approx(1.0)


def test_agreement_breaks_proxy_ties_by_mapping_order() -> None:
    truth = {"a": 0.5, "b": 0.9, "c": 0.7}
    # proxy ties b and c at 1.0; the first in proxy's order wins
    # c first -> relacc (0.7 - 0.5) / (0.9 - 0.5) = 0.5; b first -> (0.9 - 0.5) / 0.4 = 1.0
    assert agreement({"a": 0.0, "c": 1.0, "b": 1.0}, truth)["relacc"] == pytest.approx(0.5)
    assert agreement({"a": 0.0, "b": 1.0, "c": 1.0}, truth)["relacc"] == pytest.approx(1.0)


def test_agreement_requires_same_candidates() -> None:
    with pytest.raises(ValueError, match=r"missing from truth \['c'\].*missing from proxy \['d'\]"):
        agreement({"a": 1.0, "b": 2.0, "c": 3.0}, {"a": 1.0, "b": 2.0, "d": 3.0})


# ---------------------------------------------------------------------------------------------------------
# Bootstrap.


def test_bootstrap_constant_values_zero_width() -> None:
    iv = bootstrap_mean([0.25] * 50)  # 0.25 is exact in binary, so every resampled mean is exactly 0.25
    assert iv == Interval(point=0.25, low=0.25, high=0.25)
    assert not iv.covers_zero


def test_bootstrap_bernoulli_half_width_matches_normal_approximation() -> None:
    n, p = 2000, 0.3
    values = [1.0] * 600 + [0.0] * 1400  # exactly p = 600 / 2000 = 0.3
    iv = bootstrap_mean(values)
    expected = 1.96 * math.sqrt(p * (1 - p) / n)  # = 1.96 * sqrt(0.21 / 2000) ≈ 0.02008
    half = (iv.high - iv.low) / 2
    assert iv.point == pytest.approx(0.3)
    assert iv.low < 0.3 < iv.high
    assert abs(half - expected) <= 0.15 * expected


def test_cluster_bootstrap_is_wider_when_groups_are_constant() -> None:
    rng = np.random.default_rng(7)
    group_values = rng.integers(0, 2, size=20).astype(float)  # 20 groups, each constant 0 or 1
    values = np.repeat(group_values, 50).tolist()  # 1000 examples
    groups = [f"g{i}" for i in range(20) for _ in range(50)]
    plain = bootstrap_mean(values)
    clustered = bootstrap_mean(values, groups)
    assert clustered.point == pytest.approx(plain.point)
    # effective sample size is 20 clusters, not 1000 examples: the interval is several times wider
    assert clustered.high - clustered.low > 3 * (plain.high - plain.low)


def test_paired_difference_exact_shift() -> None:
    rng = np.random.default_rng(3)
    b = rng.random(200).tolist()
    a = [v + 0.1 for v in b]  # a == b + 0.1 for every example
    iv = paired_difference(a, b)
    assert iv.point == pytest.approx(0.1, abs=1e-12)
    assert iv.low == pytest.approx(0.1, abs=1e-12)
    assert iv.high == pytest.approx(0.1, abs=1e-12)
    assert not iv.covers_zero
    # same with clustering
    groups = [str(i // 10) for i in range(200)]
    civ = paired_difference(a, b, groups)
    assert (civ.low, civ.high) == (pytest.approx(0.1, abs=1e-12), pytest.approx(0.1, abs=1e-12))


def test_bootstrap_determinism_for_a_seed() -> None:
    values = np.random.default_rng(11).random(300).tolist()
    groups = [str(i % 17) for i in range(300)]
    assert bootstrap_mean(values, seed=5) == bootstrap_mean(values, seed=5)
    assert bootstrap_mean(values, groups, seed=5) == bootstrap_mean(values, groups, seed=5)
    assert bootstrap_mean(values, seed=5) != bootstrap_mean(values, seed=6)
    b = values[::-1]
    assert paired_difference(values, b, seed=2) == paired_difference(values, b, seed=2)


def test_bootstrap_errors() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="groups has 1 entries"):
        bootstrap_mean([1.0, 2.0], ["g"])
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="level"):
        bootstrap_mean([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_mean([1.0, float("nan")])


def test_interval_covers_zero() -> None:
    assert Interval(0.1, -0.1, 0.3).covers_zero
    assert Interval(0.0, 0.0, 0.0).covers_zero
    assert not Interval(-0.2, -0.3, -0.1).covers_zero


# ---------------------------------------------------------------------------------------------------------
# Tie groups and adjacent differences.


def test_tie_group_leader_ties_and_order() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(400) < 0.6).astype(float)
    near = base.copy()
    near[:2] = 1 - near[:2]  # differs on 2 of 400 examples: mean within ±0.005 of base
    per_example = {
        "low": np.zeros(400).tolist(),  # mean 0: clearly below
        "near": near.tolist(),
        "base": base.tolist(),
    }
    tied = tie_group(per_example)
    assert tied[0] == max(["near", "base"], key=lambda k: float(np.mean(per_example[k])))
    assert sorted(tied) == ["base", "near"]
    assert "low" not in tied


def test_tie_group_equal_means_use_mapping_order_not_alphabet() -> None:
    same = [1.0, 0.0, 1.0, 1.0]
    # identical per-example scores: leader is the first in the mapping ("z"), and "a" is tied (diff == 0)
    assert tie_group({"z": same, "a": same}) == ["z", "a"]
    # a clear loser: z - m = 1 on every example -> interval [1, 1], which does not cover 0
    assert tie_group({"m": [0.0] * 4, "z": [1.0] * 4, "a": [1.0] * 4}) == ["z", "a"]


def test_tie_group_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        tie_group({})
    with pytest.raises(ValueError, match="different numbers of examples"):
        tie_group({"a": [1.0, 2.0], "b": [1.0]})


def test_adjacent_differences_order_and_values() -> None:
    per_example = {
        "b": [0.5, 0.5, 0.5, 0.5],  # mean 0.5
        "a": [0.75, 0.75, 0.75, 0.75],  # mean 0.75
        "c": [0.5, 0.5, 0.5, 0.5],  # mean 0.5, tied with b: b stays first (mapping order)
    }
    out = adjacent_differences(per_example)
    assert [(u, lo) for u, lo, _ in out] == [("a", "b"), ("b", "c")]
    # a - b = 0.25 on every example -> [0.25, 0.25]; b - c = 0 on every example -> [0, 0]
    assert out[0][2] == Interval(0.25, 0.25, 0.25)
    assert out[1][2] == Interval(0.0, 0.0, 0.0)
    assert out[1][2].covers_zero
    assert adjacent_differences({"only": [1.0, 0.0]}) == []


def test_module_does_not_import_torch() -> None:
    code = "import sys, damoc.selection.agreement; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "False"
