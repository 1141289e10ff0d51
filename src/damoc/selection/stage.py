"""Collect each candidate's proxy results from the run folder and rank them."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from damoc.artifacts import RunLayout, read_json, read_manifest, write_json_atomic
from damoc.config import SelectionConfig
from damoc.errors import DamocError
from damoc.registry import registry

log = logging.getLogger(__name__)


class CandidateResult(BaseModel):
    """One candidate's row of the ranking."""

    candidate: str
    rank: int = 0
    score: float
    metrics: dict[str, float]
    tied_with: list[str] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict, description="per stage: model, train, eval")
    layers_before: int | None = None
    layers_after: int | None = None
    params_before: int | None = None
    params_after: int | None = None
    train_examples: int | None = None
    train_tokens: int | None = None


class BaselineResult(BaseModel):
    """How a selection baseline orders the same candidates."""

    baseline: str
    scores: dict[str, float]
    order: list[str]
    picks_same_top: bool


class Ranking(BaseModel):
    """The output of stage 5 (``ranking.json``)."""

    rank_by: str
    candidates: list[CandidateResult]
    baselines: list[BaselineResult] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict, description="data stage summary")

    @property
    def best(self) -> str:
        return self.candidates[0].candidate


def collect_result(layout: RunLayout, name: str, rank_by: str) -> CandidateResult:
    """Read one candidate's layers.json, train.json and eval.json into a ranking row."""
    eval_path = layout.eval_dir(name) / "eval.json"
    if not eval_path.is_file():
        raise DamocError(f"candidate {name!r} has no evaluation yet ({eval_path}); run the earlier stages first")
    metrics = {k: float(v) for k, v in read_json(eval_path)["metrics"].items()}
    if rank_by not in metrics:
        raise DamocError(f"selection.rank_by {rank_by!r} is not in {eval_path} (has {sorted(metrics)})")
    layers = _read_optional(layout.proxy_dir(name) / "layers.json")
    train = _read_optional(layout.adapter_dir(name) / "train.json")
    return CandidateResult(
        candidate=name,
        score=metrics[rank_by],
        metrics=metrics,
        seconds=_stage_seconds(layout, name),
        layers_before=layers.get("layers_before"),
        layers_after=layers.get("layers_after"),
        params_before=layers.get("params_before"),
        params_after=layers.get("params_after"),
        train_examples=train.get("examples_used"),
        train_tokens=train.get("tokens_seen"),
    )


def _read_optional(path: Path) -> dict[str, Any]:
    data = read_json(path) if path.is_file() else {}
    return data if isinstance(data, dict) else {}


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
    data = _read_optional(layout.data_dir / "data.json")
    baselines = [run_baseline(b, layout, names, cfg.rank_by, rows[0].candidate) for b in cfg.baselines]
    ranking = Ranking(rank_by=cfg.rank_by, candidates=rows, baselines=baselines, data=data)
    write_json_atomic(layout.ranking_path, ranking.model_dump(mode="json"))
    log.info("ranking written to %s", layout.ranking_path)
    return ranking


def run_baseline(name: str, layout: RunLayout, names: list[str], rank_by: str, proxy_top: str) -> BaselineResult:
    """Score the candidates with one selection baseline and compare its pick with the proxy's."""
    baseline = registry("baseline").build(name, {}, where=f"selection.baselines ({name})")
    scores = baseline.score(layout, names, rank_by)
    order = sorted(names, key=lambda n: (-scores[n], n))
    return BaselineResult(baseline=name, scores=scores, order=order, picks_same_top=order[0] == proxy_top)
