"""Collect each candidate's proxy results from the run folder and rank them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from damoc.artifacts import RunLayout, read_manifest, write_json_atomic
from damoc.config import SelectionConfig
from damoc.errors import DamocError
from damoc.reports import DataReport, EvalReport, ProxyReport, R, TrainReport, read_stage_report
from damoc.selection.base import BaselineResult, CandidateResult, FailedCandidate, Ranking
from damoc.selection.baselines.base import BASELINES, ExplainedBaseline

log = logging.getLogger(__name__)


def collect_result(layout: RunLayout, name: str, rank_by: str) -> CandidateResult:
    """Read one candidate's typed stage reports into a ranking row."""
    if not layout.eval_report(name).is_file():
        raise DamocError(
            f"candidate {name!r} has no evaluation yet ({layout.eval_report(name)}); run the earlier stages first"
        )
    evaluation = read_stage_report(layout.eval_report(name), EvalReport)
    metrics = dict(evaluation.metrics)
    if rank_by not in metrics:
        raise DamocError(f"selection.rank_by {rank_by!r} is not in {layout.eval_report(name)} (has {sorted(metrics)})")
    proxy = _optional(layout.proxy_report(name), ProxyReport)
    train = _optional(layout.train_report(name), TrainReport)
    return CandidateResult(
        candidate=name,
        score=metrics[rank_by],
        metrics=metrics,
        seconds=_stage_seconds(layout, name, evaluation.rounds or 0),
        layers_before=proxy.layers_before if proxy else None,
        layers_after=proxy.layers_after if proxy else None,
        params_before=proxy.params_before if proxy else None,
        params_after=proxy.params_after if proxy else None,
        train_examples=train.examples_used if train else None,
        train_tokens=train.tokens_seen if train else None,
    )


def _optional(path: Path, cls: type[R]) -> R | None:
    return read_stage_report(path, cls) if path.is_file() else None


def _stage_seconds(layout: RunLayout, name: str, rounds: int = 0) -> dict[str, float]:
    """Seconds per stage from the manifests; a sequential evaluation's ``eval`` adds its ``rounds`` chunks."""
    dirs = {"model": layout.proxy_dir(name), "train": layout.adapter_dir(name), "eval": layout.eval_dir(name)}
    out = {}
    for stage, folder in dirs.items():
        manifest = read_manifest(folder)
        if manifest is not None:
            out[stage] = float(manifest.get("seconds", 0.0))
    chunks = [read_manifest(layout.eval_chunk_dir(name, k)) for k in range(rounds)]
    if rounds:
        out["eval"] = out.get("eval", 0.0) + sum(float(m.get("seconds", 0.0)) for m in chunks if m is not None)
    return out


def _sequential_summary(layout: RunLayout, names: list[str]) -> tuple[int | None, int | None]:
    """(rounds, examples used) of a sequential evaluation (``evaluation.sequential_chunk``), else Nones."""
    first = read_stage_report(layout.eval_report(names[0]), EvalReport)
    return (None, None) if first.rounds is None else (first.rounds, first.num_examples)


def order_results(rows: list[CandidateResult]) -> list[CandidateResult]:
    """Sort by score, higher first; equal scores keep the given (config) order and share a rank.

    Candidates with equal scores list each other in ``tied_with``: an exact tie is reported, never
    broken silently (and never by name).
    """
    rows = sorted(rows, key=lambda r: -r.score)  # stable: config order among equal scores
    out: list[CandidateResult] = []
    for i, row in enumerate(rows):
        same = [r.candidate for r in rows if r.score == row.score and r.candidate != row.candidate]
        first = next(j for j, r in enumerate(rows) if r.score == row.score)
        out.append(row.model_copy(update={"rank": (first if same else i) + 1, "tied_with": same}))
    return out


def rank_candidates(run_dir: Path, names: list[str], cfg: SelectionConfig) -> Ranking:
    """Rank ``names`` by ``cfg.rank_by`` from the results in ``run_dir``; write ``ranking.json``.

    Each score gets a 95% bootstrap interval over the eval examples and each neighbour pair a paired
    interval of its difference; ``top_group`` holds every candidate statistically tied with the leader.
    A candidate whose job failed (``models/<name>/failed.json``) is listed in ``failed`` with its
    reason and left out of the order, the intervals and the baselines.

    Args:
        run_dir: the run folder holding ``models/<name>/...`` results.
        names: candidate names, as in the config.
        cfg: the selection section (metric to rank by, baselines, bootstrap clustering and seed).

    Returns:
        The ranking, best candidate first.
    """
    from damoc.selection import screening

    layout = RunLayout(run_dir)
    names = screening.ranked_names(layout, names, cfg)  # the pre-screen's survivors
    failed = _failed(layout, names)
    names = [n for n in names if n not in {f.candidate for f in failed}]
    rows = order_results([collect_result(layout, n, cfg.rank_by) for n in names])
    rows = screening.order_by_round(rows, screening.read_halving(layout, cfg))
    rounds, used = _sequential_summary(layout, names)
    ranking = Ranking(
        rank_by=cfg.rank_by, candidates=rows, cluster_by=cfg.cluster_by, eval_rounds=rounds, eval_examples_used=used
    )
    ranking = screening.add_screening(add_uncertainty(ranking, layout, cfg), layout, cfg)
    report = _optional(layout.data_report, DataReport)
    top_group = ranking.top_group or [rows[0].candidate, *rows[0].tied_with]
    baselines = [
        run_baseline(b, layout, names, cfg.rank_by, top_group, cfg.baseline_params.get(b)) for b in cfg.baselines
    ]
    ranking = ranking.model_copy(
        update={"baselines": baselines, "data": report.model_dump(mode="json") if report else {}, "failed": failed}
    )
    write_json_atomic(layout.ranking_path, ranking.model_dump(mode="json"))
    log.info("ranking written to %s", layout.ranking_path)
    return ranking


def _failed(layout: RunLayout, names: list[str]) -> list[FailedCandidate]:
    """The candidates of ``names`` whose last job failed; an error when that leaves none to rank."""
    from damoc.failures import RERUN_HINT, describe, read_failures

    failed = [
        FailedCandidate(candidate=f.candidate, stage=f.stage, kind=f.kind, reason=f.reason)
        for f in read_failures(layout, names)
    ]
    if failed and len(failed) == len(names):
        raise DamocError("\n".join(["no candidate to rank: every one failed", *map(describe, failed), RERUN_HINT]))
    return failed


def add_uncertainty(ranking: Ranking, layout: RunLayout, cfg: SelectionConfig) -> Ranking:
    """The ranking with score intervals, neighbour differences and the leader's tie group.

    Left without them (and logged) when a candidate has no ``predictions.jsonl``.
    """
    from damoc.selection import uncertainty

    order = [c.candidate for c in ranking.candidates]
    task_type = read_stage_report(layout.eval_report(order[0]), EvalReport).task_type
    loaded = uncertainty.load_values(layout, order, cfg.rank_by, task_type, cfg.cluster_by)
    if loaded is None:
        return ranking
    values, groups, ids = loaded
    seed = cfg.bootstrap_seed
    iv = uncertainty.intervals(values, groups, seed)
    guess = uncertainty.chance_values(layout.eval_file, ids, cfg.rank_by)
    rows = [
        c.model_copy(update={"score_low": iv[c.candidate].low, "score_high": iv[c.candidate].high})
        for c in ranking.candidates
    ]
    return ranking.model_copy(
        update={
            "candidates": rows,
            "neighbours": uncertainty.neighbour_differences(values, order, groups, seed),
            "top_group": uncertainty.leader_tie_group(values, order, groups, seed),
            "num_examples": len(next(iter(values.values()))),
            "chance": None if guess is None else round(sum(guess) / len(guess), 6),
            "above_chance": [] if guess is None else uncertainty.above_chance(values, guess, groups, seed),
        }
    )


def run_baseline(
    name: str, layout: RunLayout, names: list[str], rank_by: str, top_group: list[str],
    params: dict[str, Any] | None = None,
) -> BaselineResult:  # fmt: skip
    """Score the candidates with one selection baseline and compare its pick with the proxy's.

    Equal baseline scores keep the config order and are reported in ``tied_for_top``; ``params`` are
    the baseline's (``selection.baseline_params``).
    """
    baseline = BASELINES.build(name, params, where=f"selection.baseline_params.{name}")
    scores = baseline.score(layout, names, rank_by)
    order = sorted(names, key=lambda n: -scores[n])  # stable: config order among equal scores
    pick = order[0]
    return BaselineResult(
        baseline=name,
        scores=scores,
        order=order,
        pick=pick,
        tied_for_top=[n for n in order[1:] if scores[n] == scores[pick]],
        picks_same_top=pick == top_group[0],
        picks_in_top_group=pick in top_group,
        details=baseline.details(layout, names) if isinstance(baseline, ExplainedBaseline) else {},
    )
