"""The whole run: stages in order, each skipped when its manifest shows the same config hash.

The data stage runs here once; the per-candidate stages go to the configured executor as
:class:`~damoc.executors.base.CandidateJob` values (run by :func:`damoc.jobs.run_candidate`); the
ranking and the reports follow. Stage hashes (:mod:`damoc.jobs`) make every stage resumable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from damoc.artifacts import (
    RunLayout,
    clean_stale_temps,
    is_done,
    run_lock,
    stage_folder,
    write_json_atomic,
    write_text_atomic,
)
from damoc.config import RunConfig
from damoc.context import StageContext
from damoc.errors import DamocError
from damoc.executors.base import CANDIDATE_STAGES, CandidateJob, EventFn, Executor
from damoc.failures import CandidateFailed, record_failures
from damoc.jobs import data_hash
from damoc.loading import dump_config
from damoc.progress import ProgressFn
from damoc.selection.stage import Ranking
from damoc.tracking.base import prepare_tracking

log = logging.getLogger(__name__)

Stage = Literal["data", "model", "train", "evaluate", "rank"]
STAGES: tuple[Stage, ...] = ("data", "model", "train", "evaluate", "rank")


def run(
    cfg: RunConfig,
    stages: Sequence[Stage] = STAGES,
    candidates: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
) -> Ranking | None:
    """Run ``stages`` (default: all) for ``candidates`` (default: all), resuming finished work.

    Args:
        cfg: the validated run config.
        stages: which stages to run; a stage whose inputs are missing raises DamocError.
        candidates: subset of candidate names for the per-candidate stages.
        progress: callback for progress bars.

    Returns:
        The ranking when the ``rank`` stage ran, else None.
    """
    from damoc.budget import apply_budget

    cfg = apply_budget(cfg)  # a no-op without a budget, and when load_config already applied it
    layout = RunLayout(cfg.run_dir)
    layout.check()
    names = _select(cfg, candidates)
    with run_lock(layout.root):
        clean_stale_temps(layout.root)
        write_text_atomic(layout.config_file, dump_config(cfg))
        if "data" in stages:
            run_data(cfg, layout, StageContext.from_config(cfg, progress))
        per_candidate = tuple(s for s in stages if s in CANDIDATE_STAGES)
        if per_candidate and cfg.selection.prescreen is not None:
            names = _prescreened(cfg, layout, names, StageContext.from_config(cfg, progress))
        if per_candidate:
            prepare_tracking(cfg.report_to, layout.root)
            run_candidates(cfg, layout, names, per_candidate, progress, then_rank="rank" in stages)
        if "rank" in stages:
            return run_rank(cfg, layout, StageContext.from_config(cfg, progress))
    return None


def run_candidates(
    cfg: RunConfig,
    layout: RunLayout,
    names: list[str],
    stages: tuple[str, ...],
    progress: ProgressFn | None = None,
    then_rank: bool = False,
) -> None:
    """The per-candidate ``stages`` of ``names`` through the configured executor; failures are recorded.

    A failed candidate gets ``models/<name>/failed.json`` (:mod:`damoc.failures`). When the ranking
    follows (``then_rank``) under the ``all`` strategy, the others' results are ranked and the failed one
    is listed with its reason; successive halving and sequential evaluation compare the candidates round
    by round, so there (and without a ranking to report it in) :class:`CandidateFailed` is raised once
    the other jobs of that round have finished.
    """
    from damoc.executors.base import build_executor

    mode = _candidate_mode(cfg, stages)
    try:
        _dispatch(mode, cfg, layout, names, stages, build_executor(cfg), events_to_progress(progress))
    except CandidateFailed as exc:
        record_failures(layout, names, stages, exc.failures)
        if not then_rank or mode != "all":
            raise
    else:
        record_failures(layout, names, stages, [])


def _candidate_mode(cfg: RunConfig, stages: tuple[str, ...]) -> Literal["halving", "sequential", "all"]:
    if cfg.selection.strategy == "successive_halving" and {"train", "evaluate"} <= set(stages):
        return "halving"
    if cfg.evaluation.sequential_chunk is not None and "evaluate" in stages:
        return "sequential"
    return "all"


def _dispatch(
    mode: str, cfg: RunConfig, layout: RunLayout, names: list[str], stages: tuple[str, ...],
    executor: Executor, on_event: EventFn | None,
) -> None:  # fmt: skip
    if mode == "halving":
        from damoc.halving import run_halving

        run_halving(cfg, layout, _all_of(cfg, names, "selection.strategy"), executor, on_event)
    elif mode == "sequential":
        from damoc.sequential import run_sequential

        run_sequential(cfg, layout, names, stages, executor, on_event)
    else:
        executor.run([CandidateJob(cfg, layout.root, n, stages) for n in names], on_event)


def events_to_progress(progress: ProgressFn | None) -> EventFn | None:
    """Candidate events drawn as the CLI's progress bars: one bar per candidate and step (they may run at once)."""
    if progress is None:
        return None
    return lambda candidate, description, done, total: progress(f"{candidate} {description}", done, total)


def _select(cfg: RunConfig, candidates: Sequence[str] | None) -> list[str]:
    names = [c.name for c in cfg.candidates]
    for n in candidates or []:
        if n not in names:
            raise DamocError(f"--candidate {n!r} is not in the config; candidates: {', '.join(names)}")
    return list(candidates) if candidates else names


def _prescreened(cfg: RunConfig, layout: RunLayout, names: list[str], ctx: StageContext) -> list[str]:
    """``names`` less the candidates the pre-screen drops (it screens every candidate of the config)."""
    from damoc.prescreen import run_prescreen

    _require_data(cfg, layout, "selection.prescreen")
    kept = run_prescreen(cfg, layout, [c.name for c in cfg.candidates], ctx).kept
    return [n for n in names if n in kept]


def _all_of(cfg: RunConfig, names: list[str], key: str) -> list[str]:
    """Every candidate left after the pre-screen: a strategy that compares them cannot run on a subset."""
    from damoc.prescreen import screened_out

    left = [c.name for c in cfg.candidates if c.name not in screened_out(RunLayout(cfg.run_dir), cfg)]
    missing = [n for n in left if n not in names]
    if missing:
        raise DamocError(f"{key} compares every candidate; --candidate cannot leave out {', '.join(missing)}")
    return left


def _require_data(cfg: RunConfig, layout: RunLayout, key: str) -> None:
    if not is_done(layout.data_dir, data_hash(cfg)):
        raise DamocError(f"{key} needs the data stage: run `damoc data CONFIG` (or `damoc run CONFIG`) first")


def run_data(cfg: RunConfig, layout: RunLayout, ctx: StageContext) -> None:
    """Stage 1, once for all candidates."""
    from damoc.data import compress_dataset
    from damoc.data.tokens import candidate_token_counter

    h = data_hash(cfg)
    if is_done(layout.data_dir, h):
        log.info("data: done already (resume)")
        return
    tokens = candidate_token_counter(cfg.candidates[0], ctx.cache_dir)
    with stage_folder(layout.data_dir, "data", h) as out:
        compress_dataset(cfg.task, cfg.data, out, ctx, tokens)
    log.info("data: written to %s", layout.data_dir)


def run_rank(cfg: RunConfig, layout: RunLayout, ctx: StageContext) -> Ranking:
    """Stage 5 (with ``selection.fallback`` when no proxy learned the task) plus the reports."""
    from damoc.prescreen import apply_fallback
    from damoc.report import write_report
    from damoc.selection import rank_candidates

    ranking = apply_fallback(
        cfg, layout, rank_candidates(layout.root, [c.name for c in cfg.candidates], cfg.selection), ctx
    )
    if ranking.fallback is not None:  # rank_candidates wrote the ranking without it
        write_json_atomic(layout.ranking_path, ranking.model_dump(mode="json"))
    write_report(layout.root)
    return ranking
