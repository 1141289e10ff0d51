"""Agreement between a proxy ranking and the true ranking of candidate models. Pure maths, never imports torch.

Rank correlations (Kendall's tau-b, Spearman, Pearson), the relative accuracy of a pick (AtS, Lin et al.,
ICML 2024), strict and tie-aware top-1, and percentile bootstrap intervals (plain, clustered and paired) used
to decide which candidates are statistically tied with the leader.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Upper bound on the number of cells drawn per chunk of bootstrap resamples (bounds memory on large inputs).
_CHUNK_CELLS = 1 << 22


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval [low, high]."""

    point: float
    low: float
    high: float

    @property
    def covers_zero(self) -> bool:
        """True when low <= 0 <= high."""
        return self.low <= 0.0 <= self.high


def _as_array(values: Sequence[float], name: str) -> FloatArray:
    """Convert to a 1-D float array, rejecting empty, non-1-D and non-finite input."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _as_pair(x: Sequence[float], y: Sequence[float]) -> tuple[FloatArray, FloatArray]:
    """Validate two equal-length vectors with at least two entries each."""
    xa, ya = _as_array(x, "x"), _as_array(y, "y")
    if xa.size != ya.size:
        raise ValueError(f"x and y differ in length: {xa.size} != {ya.size}")
    if xa.size < 2:
        raise ValueError(f"need at least 2 paired values, got {xa.size}")
    return xa, ya


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b, which corrects for ties.

    tau_b = (n_c - n_d) / sqrt((n_0 - n_1) * (n_0 - n_2)), where n_c / n_d count concordant / discordant
    pairs (i < j), n_0 = n(n-1)/2, n_1 = sum_t t(t-1)/2 over groups of tied x values, and n_2 the same for y.
    Pairs tied in x or y count as neither concordant nor discordant.

    Args:
        x: First vector of scores.
        y: Second vector, same length as ``x``.

    Returns:
        tau-b in [-1, 1]; 0.0 when either side is constant (denominator 0).

    Raises:
        ValueError: If the lengths differ or there are fewer than 2 values.
    """
    xa, ya = _as_pair(x, y)
    n = xa.size
    sx = np.sign(xa[:, None] - xa[None, :])
    sy = np.sign(ya[:, None] - ya[None, :])
    n0 = n * (n - 1) / 2
    n1 = (np.count_nonzero(sx == 0) - n) / 2  # tied pairs in x, each counted twice off the diagonal
    n2 = (np.count_nonzero(sy == 0) - n) / 2
    denom = (n0 - n1) * (n0 - n2)
    if denom <= 0:
        return 0.0
    s = float(np.sum(sx * sy)) / 2  # n_c - n_d: the full matrix counts each pair twice
    return float(np.clip(s / math.sqrt(denom), -1.0, 1.0))


def _average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks where tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], values.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's correlation coefficient.

    r = sum (x_i - mean x)(y_i - mean y) / sqrt(sum (x_i - mean x)^2 * sum (y_i - mean y)^2).

    Args:
        x: First vector.
        y: Second vector, same length as ``x``.

    Returns:
        r in [-1, 1]; 0.0 when either side is constant.

    Raises:
        ValueError: If the lengths differ or there are fewer than 2 values.
    """
    xa, ya = _as_pair(x, y)
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return 0.0
    dx, dy = xa - xa.mean(), ya - ya.mean()
    denom = math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy)))
    if denom == 0:
        return 0.0
    return float(np.clip(float(np.dot(dx, dy)) / denom, -1.0, 1.0))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation with ties handled by average ranks.

    rho = pearson(rank(x), rank(y)), where tied values get the mean of the ranks they span.

    Args:
        x: First vector.
        y: Second vector, same length as ``x``.

    Returns:
        rho in [-1, 1]; 0.0 when either side is constant.

    Raises:
        ValueError: If the lengths differ or there are fewer than 2 values.
    """
    xa, ya = _as_pair(x, y)
    return pearson(_average_ranks(xa).tolist(), _average_ranks(ya).tolist())


def relacc(truth: Mapping[str, float], pick: str) -> float:
    """Relative accuracy of a pick (AtS, Lin et al., ICML 2024), in accuracy form.

    relacc = (truth[pick] - min_m truth[m]) / (max_m truth[m] - min_m truth[m]).

    Args:
        truth: Candidate -> true score (higher is better).
        pick: The chosen candidate; must be a key of ``truth``.

    Returns:
        A value in [0, 1]; 1.0 when every candidate has the same true score.

    Raises:
        ValueError: If ``truth`` is empty or ``pick`` is not one of its keys.
    """
    if not truth:
        raise ValueError("truth is empty")
    if pick not in truth:
        raise ValueError(f"pick {pick!r} is not a candidate in truth")
    lo, hi = min(truth.values()), max(truth.values())
    if hi == lo:
        return 1.0
    return (truth[pick] - lo) / (hi - lo)


def _cluster_sums(values: FloatArray, groups: Sequence[str] | None) -> tuple[FloatArray, FloatArray]:
    """Per-cluster sums and sizes; without groups every example is its own cluster."""
    if groups is None:
        return values, np.ones(values.size, dtype=np.float64)
    if len(groups) != values.size:
        raise ValueError(f"groups has {len(groups)} entries but there are {values.size} values")
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(g, len(index)) for g in groups), dtype=np.int64, count=values.size)
    sums = np.bincount(ids, weights=values, minlength=len(index)).astype(np.float64)
    sizes = np.bincount(ids, minlength=len(index)).astype(np.float64)
    return sums, sizes


def _resample_means(sums: FloatArray, sizes: FloatArray, *, num_resamples: int, seed: int) -> FloatArray:
    """Means of ``num_resamples`` cluster resamples, drawn in chunks of bounded size (vectorised per chunk)."""
    rng = np.random.default_rng(seed)
    g = sums.size
    chunk = max(1, _CHUNK_CELLS // g)
    stats = np.empty(num_resamples, dtype=np.float64)
    for start in range(0, num_resamples, chunk):
        stop = min(start + chunk, num_resamples)
        idx = rng.integers(0, g, size=(stop - start, g))
        stats[start:stop] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    return stats


def bootstrap_mean(
    values: Sequence[float],
    groups: Sequence[str] | None = None,
    *,
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the mean, optionally clustered.

    Each resample draws G clusters with replacement (G = number of clusters; without ``groups`` every example
    is a cluster) and computes mean* = sum_{g in resample} S_g / sum_{g in resample} n_g, with S_g / n_g the
    sum / size of cluster g. The interval is [q_{(1-level)/2}, q_{(1+level)/2}] of the resampled means
    (numpy's linear quantiles); the point is the plain sample mean.

    Args:
        values: Per-example values.
        groups: Optional cluster label per example; whole clusters are resampled together.
        num_resamples: Number of bootstrap resamples.
        level: Confidence level in (0, 1).
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        The mean and its percentile interval.

    Raises:
        ValueError: On empty or non-finite values, a groups length mismatch, or a bad level/num_resamples.
    """
    arr = _as_array(values, "values")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    stats = _resample_means(*_cluster_sums(arr, groups), num_resamples=num_resamples, seed=seed)
    alpha = 1.0 - level
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return Interval(point=float(arr.mean()), low=float(low), high=float(high))


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    groups: Sequence[str] | None = None,
    *,
    num_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Paired percentile bootstrap interval of mean(a - b).

    Because mean_{i in R}(a_i - b_i) = mean_{i in R} a_i - mean_{i in R} b_i for any resample R, bootstrapping
    d_i = a_i - b_i with :func:`bootstrap_mean` uses the same resampled examples (or clusters) for a and b.

    Args:
        a: Per-example values of the first candidate.
        b: Per-example values of the second candidate, aligned with ``a``.
        groups: Optional cluster label per example.
        num_resamples: Number of bootstrap resamples.
        level: Confidence level in (0, 1).
        seed: Seed for ``numpy.random.default_rng``.

    Returns:
        mean(a - b) and its percentile interval.

    Raises:
        ValueError: If ``a`` and ``b`` differ in length, or as :func:`bootstrap_mean`.
    """
    aa, ba = _as_array(a, "a"), _as_array(b, "b")
    if aa.size != ba.size:
        raise ValueError(f"a and b differ in length: {aa.size} != {ba.size}")
    return bootstrap_mean((aa - ba).tolist(), groups, num_resamples=num_resamples, level=level, seed=seed)


def _order_by_mean(per_example: Mapping[str, Sequence[float]]) -> list[tuple[str, float]]:
    """Candidates with their means, by mean descending; ties keep the mapping's order (stable sort)."""
    if not per_example:
        raise ValueError("per_example is empty")
    lengths = {name: len(vals) for name, vals in per_example.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"candidates have different numbers of examples: {lengths}")
    means = [(name, float(_as_array(vals, name).mean())) for name, vals in per_example.items()]
    return sorted(means, key=lambda item: -item[1])


def tie_group(
    per_example: Mapping[str, Sequence[float]],
    groups: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    seed: int = 0,
    num_resamples: int = 2000,
) -> list[str]:
    """The leader and every candidate statistically tied with it.

    The leader has the highest mean (on equal means the first in the mapping's order). A candidate c joins
    when the paired bootstrap interval of mean(leader - c) (:func:`paired_difference`) covers 0.

    Args:
        per_example: Candidate -> per-example scores, all aligned on the same examples.
        groups: Optional cluster label per example.
        level: Confidence level in (0, 1).
        seed: Seed for ``numpy.random.default_rng`` (the same for every pair).
        num_resamples: Number of bootstrap resamples.

    Returns:
        The tied candidates by mean descending, mapping order on equal means; the leader is first.

    Raises:
        ValueError: If ``per_example`` is empty or the candidates differ in number of examples.
    """
    ordered = _order_by_mean(per_example)
    leader = ordered[0][0]
    diff = partial(paired_difference, groups=groups, num_resamples=num_resamples, level=level, seed=seed)
    return [leader] + [name for name, _ in ordered[1:] if diff(per_example[leader], per_example[name]).covers_zero]


def adjacent_differences(
    per_example: Mapping[str, Sequence[float]],
    groups: Sequence[str] | None = None,
    *,
    level: float = 0.95,
    seed: int = 0,
    num_resamples: int = 2000,
) -> list[tuple[str, str, Interval]]:
    """Paired bootstrap intervals between neighbours in the ranking by mean.

    Candidates are ordered by mean descending (stable: mapping order on equal means); for each neighbour pair
    (upper, lower) the interval is that of mean(upper - lower) from :func:`paired_difference`.

    Args:
        per_example: Candidate -> per-example scores, all aligned on the same examples.
        groups: Optional cluster label per example.
        level: Confidence level in (0, 1).
        seed: Seed for ``numpy.random.default_rng`` (the same for every pair).
        num_resamples: Number of bootstrap resamples.

    Returns:
        One (upper, lower, interval) per neighbour pair; empty for a single candidate.

    Raises:
        ValueError: If ``per_example`` is empty or the candidates differ in number of examples.
    """
    names = [name for name, _ in _order_by_mean(per_example)]
    diff = partial(paired_difference, groups=groups, num_resamples=num_resamples, level=level, seed=seed)
    return [(upper, lower, diff(per_example[upper], per_example[lower])) for upper, lower in pairwise(names)]


def top1(pick: str, truth: Mapping[str, float], tie_group: Sequence[str] | None = None) -> dict[str, bool]:
    """Whether a pick is the best candidate, strictly and up to statistical ties.

    strict = truth[pick] == max_m truth[m] (with several maxima, any of them counts);
    tie_aware = pick in tie_group, or the same as strict when ``tie_group`` is None.

    Args:
        pick: The chosen candidate; must be a key of ``truth``.
        truth: Candidate -> true score (higher is better).
        tie_group: Candidates tied with the true leader, e.g. from :func:`tie_group` on the true scores.

    Returns:
        ``{"strict": ..., "tie_aware": ...}``.

    Raises:
        ValueError: If ``pick`` is not one of the keys of ``truth``.
    """
    if pick not in truth:
        raise ValueError(f"pick {pick!r} is not a candidate in truth")
    strict = truth[pick] == max(truth.values())
    tie_aware = strict if tie_group is None else pick in tie_group
    return {"strict": strict, "tie_aware": tie_aware}


def agreement(proxy: Mapping[str, float], truth: Mapping[str, float]) -> dict[str, float]:
    """How well proxy scores agree with true scores over the same candidates.

    Computes :func:`kendall_tau` (tau-b), :func:`spearman` and :func:`pearson` between the two score vectors
    (aligned in the order of ``proxy``), and :func:`relacc` of the proxy's pick, argmax_m proxy[m]. Ties in
    the proxy are broken by the mapping order of ``proxy``: the first candidate with the highest score wins.

    Args:
        proxy: Candidate -> proxy score (higher is better).
        truth: Candidate -> true score, with exactly the same candidates.

    Returns:
        ``{"kendall_tau": ..., "spearman": ..., "pearson": ..., "relacc": ...}``.

    Raises:
        ValueError: If the key sets differ (the message names the missing candidates) or fewer than 2.
    """
    missing_truth = [name for name in proxy if name not in truth]
    missing_proxy = [name for name in truth if name not in proxy]
    if missing_truth or missing_proxy:
        raise ValueError(f"candidates differ: missing from truth {missing_truth}, missing from proxy {missing_proxy}")
    names = list(proxy)
    x = [proxy[name] for name in names]
    y = [truth[name] for name in names]
    pick = max(names, key=lambda name: proxy[name])  # max() returns the first maximum: mapping order
    return {
        "kendall_tau": kendall_tau(x, y),
        "spearman": spearman(x, y),
        "pearson": pearson(x, y),
        "relacc": relacc(truth, pick),
    }
