"""Per-example scores from the prediction files, and the intervals and tie groups built from them.

Every mean-type metric (accuracy, exact match, F1) is the mean of a per-example value, so a
candidate's score gets a 95% percentile-bootstrap interval over eval examples, and each pair of
neighbours in the ranking a paired interval of their difference (same resampled examples for both;
:mod:`damoc.selection.agreement`). Examples that share a question text are resampled together when
``cluster_by`` is ``question`` (e.g. ``medical_except`` asks each EXCEPT stem with several option
sets), since they are not independent draws.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.selection import agreement
from damoc.selection.base import PairDifference

log = logging.getLogger(__name__)

ClusterBy = Literal["question", "context", "none"]


def per_example_scores(predictions: Path, rank_by: str, task_type: str) -> dict[str, float]:
    """Example id -> the ``rank_by`` metric of that example alone, from a ``predictions.jsonl``."""
    from damoc.evaluation.metrics.base import build_metrics

    metric = build_metrics([rank_by], task_type)[0]
    out: dict[str, float] = {}
    for n, line in enumerate(predictions.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DamocError(f"{predictions}:{n}: not valid JSON ({exc.msg}); rerun the evaluate stage") from None
        out[str(row["id"])] = float(metric.compute([row]))
    return out


def example_groups(eval_file: Path, cluster_by: ClusterBy) -> dict[str, str] | None:
    """Example id -> cluster key (its question or context text); None when not clustering."""
    if cluster_by == "none" or not eval_file.is_file():
        return None
    out = {}
    for line in eval_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            out[str(rec["id"])] = str(rec.get(cluster_by) or rec["id"])
    return out


def _one_in_k(k: int) -> float:
    return 1.0 / k


def _log_one_in_k(k: int) -> float:
    return -math.log(k)


CHANCE: dict[str, Callable[[int], float]] = {
    "acc": _one_in_k,
    "acc_norm": _one_in_k,
    "choice_prob": _one_in_k,
    "choice_logprob": _log_one_in_k,
}
"""What uniform guessing scores per example with k choices, for the metrics that have a chance level."""


def chance_values(eval_file: Path, ids: Sequence[str], rank_by: str = "acc") -> list[float] | None:
    """What uniform guessing scores on each example in ``ids`` under ``rank_by`` (1 / k for accuracy,
    log(1 / k) for ``choice_logprob``, k = its number of choices); None without choices or a chance level."""
    level = CHANCE.get(rank_by)
    if level is None or not eval_file.is_file():
        return None
    choices = {}
    for line in eval_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            choices[str(rec["id"])] = len(rec.get("choices") or ())
    if any(choices.get(i, 0) < 2 for i in ids):
        return None
    return [level(choices[i]) for i in ids]


def above_chance(
    values: Mapping[str, Sequence[float]], chance: Sequence[float], groups: Sequence[str] | None, seed: int
) -> list[str]:
    """Candidates whose paired 95% interval of (score - chance) over the examples lies above 0."""
    out = []
    for name, v in values.items():
        iv = agreement.paired_difference(v, chance, groups, seed=seed)
        if iv.low > 0:
            out.append(name)
    return out


def common_ids(scores: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The example ids every candidate was scored on, sorted: the order of :func:`aligned`'s values."""
    return sorted(set.intersection(*(set(s) for s in scores.values())))


def aligned(
    scores: Mapping[str, Mapping[str, float]], groups: Mapping[str, str] | None
) -> tuple[dict[str, list[float]], list[str] | None]:
    """Per-candidate value lists over the example ids every candidate has, in one shared order."""
    common = common_ids(scores)
    if not common:
        raise DamocError("the candidates' prediction files share no example id; rerun the evaluate stage")
    values = {name: [s[i] for i in common] for name, s in scores.items()}
    return values, ([groups.get(i, i) for i in common] if groups is not None else None)


def load_values(
    layout: RunLayout, names: Sequence[str], rank_by: str, task_type: str, cluster_by: ClusterBy
) -> tuple[dict[str, list[float]], list[str] | None, list[str]] | None:
    """Aligned per-example values of every candidate, their cluster keys and example ids, or None
    when a prediction file is missing (the ids are :func:`common_ids`: sorted, every candidate has them)."""
    paths = {n: layout.predictions(n) for n in names}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        log.info("no intervals: prediction files missing (%s)", ", ".join(missing))
        return None
    scores = {n: per_example_scores(p, rank_by, task_type) for n, p in paths.items()}
    values, groups = aligned(scores, example_groups(layout.eval_file, cluster_by))
    return values, groups, common_ids(scores)


def intervals(
    values: Mapping[str, Sequence[float]], groups: Sequence[str] | None, seed: int
) -> dict[str, agreement.Interval]:
    """A 95% bootstrap interval of each candidate's mean score."""
    return {n: agreement.bootstrap_mean(v, groups, seed=seed) for n, v in values.items()}


def neighbour_differences(
    values: Mapping[str, Sequence[float]], order: Sequence[str], groups: Sequence[str] | None, seed: int
) -> list[PairDifference]:
    """Paired 95% intervals of upper minus lower for each neighbour pair in ``order``."""
    out = []
    for upper, lower in itertools.pairwise(order):
        iv = agreement.paired_difference(values[upper], values[lower], groups, seed=seed)
        out.append(PairDifference(upper=upper, lower=lower, difference=iv.point, low=iv.low, high=iv.high))
    return out


def leader_tie_group(
    values: Mapping[str, Sequence[float]], order: Sequence[str], groups: Sequence[str] | None, seed: int
) -> list[str]:
    """The leader plus every candidate whose paired difference with it covers 0."""
    leader = order[0]
    tied = [leader]
    for name in order[1:]:
        if agreement.paired_difference(values[leader], values[name], groups, seed=seed).covers_zero:
            tied.append(name)
    return tied
