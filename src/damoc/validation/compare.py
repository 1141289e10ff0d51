"""The proxy ranking against the ground truth: intervals, agreement, picks and costs. Torch-free.

Per-example scores come from the ground truth's prediction rows (each row scored alone by the
ground truth's metric, ``ground_truth.metric`` resolved, by default the proxy's ``rank_by``: multiple
choice ``acc`` is ``pred == answer``), so every interval is a bootstrap
over the same eval questions (:mod:`damoc.selection.agreement`), clustered as the proxy ranking's
intervals are (``selection.cluster_by``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from damoc.errors import DamocError
from damoc.reports import EvalReport
from damoc.selection.agreement import adjacent_differences, agreement, bootstrap_mean, relacc, tie_group, top1
from damoc.selection.base import CandidateResult, Ranking
from damoc.validation.base import (
    CandidateValidation,
    Costs,
    CurvePoint,
    Difference,
    GroundTruthTrainReport,
    PickCheck,
    Score,
    ValidationReport,
)

LEVEL = 0.95


@dataclass(frozen=True)
class Truth:
    """One candidate's finished ground truth, as read from its cache entry."""

    train: GroundTruthTrainReport
    evaluation: EvalReport
    rows: list[dict[str, Any]]
    curve: list[CurvePoint]
    entry: Path


def per_example_scores(rows: list[dict[str, Any]], metric: str, task_type: str) -> list[float]:
    """Each eval example's ``metric`` alone (multiple choice ``acc``: ``pred == answer``); their mean is the metric."""
    from damoc.evaluation.metrics.base import build_metrics

    scorer = build_metrics([metric], task_type)[0]
    return [float(scorer.compute([r])) for r in rows]


def aligned_scores(truths: Mapping[str, Truth], metric: str) -> tuple[list[str], dict[str, list[float]]]:
    """The eval example ids (the first candidate's order) and every candidate's per-example scores on them."""
    ids = [str(r["id"]) for r in next(iter(truths.values())).rows]
    out = {}
    for name, truth in truths.items():
        by_id = {str(r["id"]): r for r in truth.rows}
        if set(by_id) != set(ids):
            raise DamocError(f"ground truth of {name!r} was scored on other eval examples than the others")
        out[name] = per_example_scores([by_id[i] for i in ids], metric, truth.evaluation.task_type)
    return ids, out


@dataclass(frozen=True)
class Inputs:
    """What the comparison reads besides the ground truths.

    Attributes:
        ranking: the proxy's ``ranking.json``.
        data_seconds: wall seconds of the proxy's data stage (its manifest).
        ground_truth: the ``ground_truth`` config section, recorded in the report.
        clusters: eval example id -> cluster key (examples resampled together); None: each alone.
        seed: bootstrap seed.
        truth_metric: what the ground truth is judged by; None: the ranking's ``rank_by``.
    """

    ranking: Ranking
    data_seconds: float
    ground_truth: dict[str, Any]
    clusters: Mapping[str, str] | None = None
    seed: int = 0
    truth_metric: str | None = None


def compare(inputs: Inputs, truths: Mapping[str, Truth]) -> ValidationReport:
    """Build ``validation.json``'s report from the proxy ranking and the finished ground truths."""
    ranking, seed = inputs.ranking, inputs.seed
    rank_by = ranking.rank_by
    judged_by = inputs.truth_metric or rank_by
    proxy = {c.candidate: c for c in ranking.candidates if c.candidate in truths}
    ids, per_example = aligned_scores(truths, judged_by)
    groups = [inputs.clusters.get(i, i) for i in ids] if inputs.clusters is not None else None
    truth_scores = {n: sum(v) / len(v) for n, v in per_example.items()}
    truth_order = sorted(truth_scores, key=lambda n: (-truth_scores[n], n))
    ordered = {n: per_example[n] for n in truth_order}
    group = tie_group(ordered, groups, level=LEVEL, seed=seed)
    rows = [
        _candidate_row(n, proxy[n], truths[n], bootstrap_mean(per_example[n], groups, level=LEVEL, seed=seed),
                       truth_scores, group)
        for n in truth_order
    ]  # fmt: skip
    proxy_scores = {n: proxy[n].score for n in proxy}
    return ValidationReport(
        rank_by=rank_by,
        truth_metric=judged_by,
        level=LEVEL,
        eval_examples=len(next(iter(per_example.values()))),
        train_examples=next(iter(truths.values())).train.train_examples,
        ground_truth=inputs.ground_truth,
        proxy_order=list(proxy),
        truth_order=truth_order,
        candidates=rows,
        truth_tie_group=group,
        adjacent=[
            Difference(upper=u, lower=lo, difference=_score(i))
            for u, lo, i in adjacent_differences(ordered, groups, level=LEVEL, seed=seed)
        ],
        agreement=agreement(proxy_scores, truth_scores) if len(proxy_scores) > 1 else None,
        top1=pick_check("proxy", ranking.pick, truth_scores, group),
        baselines=[pick_check(b.baseline, b.order[0], truth_scores, group) for b in ranking.baselines if b.order],
        costs=costs(list(proxy.values()), list(truths.values()), inputs.data_seconds),
    )


def _score(interval: Any) -> Score:
    return Score(point=round(interval.point, 6), low=round(interval.low, 6), high=round(interval.high, 6))


def _candidate_row(
    name: str, proxy: CandidateResult, truth: Truth, interval: Any, truth_scores: dict[str, float], group: list[str]
) -> CandidateValidation:
    mine = truth_scores[name]
    return CandidateValidation(
        candidate=name,
        proxy_rank=proxy.rank,
        proxy_score=proxy.score,
        truth_rank=1 + sum(1 for s in truth_scores.values() if s > mine),
        truth=_score(interval),
        truth_metrics=truth.evaluation.metrics,
        in_truth_tie_group=name in group,
        curve=truth.curve,
        proxy_seconds=dict(proxy.seconds),
        truth_seconds={"train": truth.train.seconds, "eval": truth.evaluation.seconds},
        proxy_token_layers=_proxy_token_layers(proxy),
        truth_token_layers=truth.train.tokens_seen * truth.train.layers,
        cache_entry=str(truth.entry),
    )


def _proxy_token_layers(c: CandidateResult) -> int | None:
    return c.train_tokens * c.layers_after if c.train_tokens is not None and c.layers_after is not None else None


def pick_check(source: str, pick: str, truth: dict[str, float], group: list[str]) -> PickCheck:
    """Strict and tie-aware top-1 and RelAcc of one pick against the ground truth."""
    if pick not in truth:
        raise DamocError(f"{source} picks {pick!r}, which has no ground truth; validate every candidate")
    hit = top1(pick, truth, group)
    return PickCheck(
        source=source, pick=pick, strict=hit["strict"], tie_aware=hit["tie_aware"], relacc=relacc(truth, pick)
    )


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


PROXY_STAGES = ("model", "train", "eval", "fallback")
"""The proxy's per-candidate stages whose seconds count in its cost (beside the shared data stage)."""


def costs(proxies: list[CandidateResult], truths: list[Truth], data_seconds: float) -> Costs:
    """Both sides' wall seconds by stage and training tokens x layers, and the speed-ups (truth / proxy)."""
    stage = {s: sum(c.seconds.get(s, 0.0) for c in proxies) for s in PROXY_STAGES}
    proxy = {"data": data_seconds, **stage}
    proxy["total"] = sum(proxy.values())
    truth = {"train": sum(t.train.seconds for t in truths), "eval": sum(t.evaluation.seconds for t in truths)}
    truth["total"] = truth["train"] + truth["eval"]
    proxy_tl = sum(_proxy_token_layers(c) or 0 for c in proxies)
    truth_tl = sum(t.train.tokens_seen * t.train.layers for t in truths)
    return Costs(
        proxy_seconds={k: round(v, 3) for k, v in proxy.items()},
        truth_seconds={k: round(v, 3) for k, v in truth.items()},
        proxy_token_layers=proxy_tl,
        truth_token_layers=truth_tl,
        speedup_train=_ratio(truth["train"], proxy["train"]),
        speedup_end_to_end=_ratio(truth["total"], proxy["total"]),
        speedup_token_layers=_ratio(truth_tl, proxy_tl),
    )
