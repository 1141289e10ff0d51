"""Collect each candidate's proxy results from the run folder and rank them."""

from __future__ import annotations

import logging
from pathlib import Path

from damoc.artifacts import RunLayout, read_manifest, write_json_atomic
from damoc.config import SelectionConfig
from damoc.errors import DamocError
from damoc.reports import DataReport, EvalReport, ProxyReport, R, TrainReport, read_stage_report
from damoc.selection.base import BaselineResult, CandidateResult, Ranking
from damoc.selection.baselines.base import BASELINES

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
        seconds=_stage_seconds(layout, name),
        layers_before=proxy.layers_before if proxy else None,
        layers_after=proxy.layers_after if proxy else None,
        params_before=proxy.params_before if proxy else None,
        params_after=proxy.params_after if proxy else None,
        train_examples=train.examples_used if train else None,
        train_tokens=train.tokens_seen if train else None,
    )


def _optional(path: Path, cls: type[R]) -> R | None:
    return read_stage_report(path, cls) if path.is_file() else None


def _stage_seconds(layout: RunLayout, name: str) -> dict[str, float]:
    dirs = {"model": layout.proxy_dir(name), "train": layout.adapter_dir(name), "eval": layout.eval_dir(name)}
    out = {}
    for stage, folder in dirs.items():
        manifest = read_manifest(folder)
        if manifest is not None:
            out[stage] = float(manifest.get("seconds", 0.0))
    return out


def order_results(rows: list[CandidateResult]) -> list[CandidateResult]:
    """Sort by score (higher first, name breaks ties for a stable order) and assign ranks.

    Candidates with equal scores share the same rank and list each other in ``tied_with``.
    """
    rows = sorted(rows, key=lambda r: (-r.score, r.candidate))
    out: list[CandidateResult] = []
    for i, row in enumerate(rows):
        same = [r.candidate for r in rows if r.score == row.score and r.candidate != row.candidate]
        first = next(j for j, r in enumerate(rows) if r.score == row.score)
        out.append(row.model_copy(update={"rank": (first if same else i) + 1, "tied_with": same}))
    return out


def rank_candidates(run_dir: Path, names: list[str], cfg: SelectionConfig) -> Ranking:
    """Rank ``names`` by ``cfg.rank_by`` from the results in ``run_dir``; write ``ranking.json``.

    Args:
        run_dir: the run folder holding ``models/<name>/...`` results.
        names: candidate names, as in the config.
        cfg: the selection section (metric to rank by, baselines to compare).

    Returns:
        The ranking, best candidate first.
    """
    layout = RunLayout(run_dir)
    rows = order_results([collect_result(layout, n, cfg.rank_by) for n in names])
    report = _optional(layout.data_report, DataReport)
    data = report.model_dump(mode="json") if report else {}
    baselines = [run_baseline(b, layout, names, cfg.rank_by, rows[0].candidate) for b in cfg.baselines]
    ranking = Ranking(rank_by=cfg.rank_by, candidates=rows, baselines=baselines, data=data)
    write_json_atomic(layout.ranking_path, ranking.model_dump(mode="json"))
    log.info("ranking written to %s", layout.ranking_path)
    return ranking


def run_baseline(name: str, layout: RunLayout, names: list[str], rank_by: str, proxy_top: str) -> BaselineResult:
    """Score the candidates with one selection baseline and compare its pick with the proxy's."""
    baseline = BASELINES.build(name, {}, where=f"selection.baselines ({name})")
    scores = baseline.score(layout, names, rank_by)
    order = sorted(names, key=lambda n: (-scores[n], n))
    return BaselineResult(baseline=name, scores=scores, order=order, picks_same_top=order[0] == proxy_top)
