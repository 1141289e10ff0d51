"""The whole run: stages in order, each skipped when its manifest shows the same config hash.

Stage hashes chain: a candidate's model hash covers the data hash, its train hash the model hash, and
so on, so changing one config section re-runs that stage and the ones after it, and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from damoc.artifacts import RunLayout, clean_stale_temps, is_done, run_lock, stage_folder, write_text_atomic
from damoc.config import RunConfig, dump_config, section_hash
from damoc.errors import DamocError
from damoc.executors import run_candidates
from damoc.progress import ProgressFn
from damoc.prompts import PromptSpec
from damoc.selection.ranking import Ranking

log = logging.getLogger(__name__)

Stage = Literal["data", "model", "train", "evaluate", "rank"]
STAGES: tuple[Stage, ...] = ("data", "model", "train", "evaluate", "rank")


@dataclass(frozen=True)
class Hashes:
    """Config hashes of every stage of one candidate."""

    data: str
    model: str
    train: str
    eval: str
    zero_shot: str


def stage_hashes(cfg: RunConfig, name: str) -> Hashes:
    """The chained hashes for candidate ``name``."""
    spec = next(c for c in cfg.candidates if c.name == name)
    data = data_hash(cfg)
    model = section_hash("model", data, spec, cfg.model, cfg.seed)
    train = section_hash("train", model, cfg.training, cfg.seed)
    evaluation = section_hash("eval", train, cfg.evaluation, cfg.metrics())
    zero_shot = section_hash("zero_shot", data, spec, cfg.evaluation, cfg.metrics())
    return Hashes(data, model, train, evaluation, zero_shot)


def data_hash(cfg: RunConfig) -> str:
    """Hash of everything the data stage reads."""
    return section_hash("data", cfg.task, cfg.data, cfg.seed)


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
    layout = RunLayout(cfg.run_dir)
    layout.check()
    names = _select(cfg, candidates)
    with run_lock(layout.root):
        clean_stale_temps(layout.root)
        write_text_atomic(layout.root / "config.yaml", dump_config(cfg))
        if "data" in stages:
            run_data(cfg, layout, progress)
        per_candidate = [s for s in stages if s in ("model", "train", "evaluate")]
        if per_candidate:
            run_candidates(cfg.executor, lambda n: run_candidate(cfg, layout, n, per_candidate, progress), names)
        if "rank" in stages:
            return run_rank(cfg, layout)
    return None


def _select(cfg: RunConfig, candidates: Sequence[str] | None) -> list[str]:
    names = [c.name for c in cfg.candidates]
    for n in candidates or []:
        if n not in names:
            raise DamocError(f"--candidate {n!r} is not in the config; candidates: {', '.join(names)}")
    return list(candidates) if candidates else names


def run_data(cfg: RunConfig, layout: RunLayout, progress: ProgressFn | None) -> None:
    """Stage 1, once for all candidates."""
    from damoc.data import compress_dataset

    h = data_hash(cfg)
    if is_done(layout.data_dir, h):
        log.info("data: done already (resume)")
        return
    with stage_folder(layout.data_dir, "data", h) as out:
        compress_dataset(
            cfg.task, cfg.data, out, seed=cfg.seed, device=cfg.device, cache_dir=cfg.cache_dir, progress=progress
        )
    log.info("data: written to %s", layout.data_dir)


def run_candidate(
    cfg: RunConfig, layout: RunLayout, name: str, stages: Sequence[str], progress: ProgressFn | None
) -> None:
    """Stages 2-4 (and the zero-shot baseline's evaluation) for one candidate."""
    h = stage_hashes(cfg, name)
    _require(layout.data_dir, h.data, "data", name)
    if "model" in stages:
        _model_stage(cfg, layout, name, h, progress)
    if "train" in stages:
        _require(layout.proxy_dir(name), h.model, "model", name)
        _train_stage(cfg, layout, name, h, progress)
    if "evaluate" in stages:
        _require(layout.adapter_dir(name), h.train, "train", name)
        _eval_stage(cfg, layout, name, h, progress)
        if "zero_shot" in cfg.selection.baselines:
            _zero_shot_stage(cfg, layout, name, h, progress)


def _require(folder: Path, h: str, stage: str, name: str) -> None:
    if not is_done(folder, h):
        raise DamocError(
            f"candidate {name!r}: the {stage} stage has no up-to-date result in {folder}; "
            f"run `damoc {stage} CONFIG` (or `damoc run CONFIG`) first"
        )


def _model_stage(cfg: RunConfig, layout: RunLayout, name: str, h: Hashes, progress: ProgressFn | None) -> None:
    from damoc.model import build_proxy

    folder = layout.proxy_dir(name)
    if _skip(folder, h.model, "model", name):
        return
    spec = next(c for c in cfg.candidates if c.name == name)
    with stage_folder(folder, "model", h.model, {"candidate": spec.model_dump(mode="json")}) as out:
        build_proxy(
            spec,
            layout.data_dir / "calib.jsonl",
            cfg.model,
            out,
            seed=cfg.seed,
            device=cfg.device,
            cache_dir=cfg.cache_dir,
            progress=progress,
            prompt=PromptSpec.from_task(cfg.task),
        )


def _train_stage(cfg: RunConfig, layout: RunLayout, name: str, h: Hashes, progress: ProgressFn | None) -> None:
    from damoc.training import train_proxy

    folder = layout.adapter_dir(name)
    if _skip(folder, h.train, "train", name):
        return
    with stage_folder(folder, "train", h.train) as out:
        train_proxy(
            layout.proxy_dir(name),
            layout.data_dir / "train.jsonl",
            cfg.training,
            out,
            seed=cfg.seed,
            device=cfg.device,
            progress=progress,
            prompt=PromptSpec.from_task(cfg.task),
        )


def _eval_stage(cfg: RunConfig, layout: RunLayout, name: str, h: Hashes, progress: ProgressFn | None) -> None:
    from damoc.evaluation import evaluate

    folder = layout.eval_dir(name)
    if _skip(folder, h.eval, "evaluate", name):
        return
    with stage_folder(folder, "evaluate", h.eval) as out:
        evaluate(
            layout.proxy_dir(name),
            layout.data_dir / "eval.jsonl",
            cfg.task.type,
            cfg.evaluation,
            cfg.metrics(),
            out,
            adapter_dir=layout.adapter_dir(name),
            device=cfg.device,
            progress=progress,
            prompt=PromptSpec.from_task(cfg.task),
        )


def _zero_shot_stage(cfg: RunConfig, layout: RunLayout, name: str, h: Hashes, progress: ProgressFn | None) -> None:
    from damoc.evaluation import evaluate
    from damoc.models import resolve_candidate

    folder = layout.zero_shot_dir(name)
    if _skip(folder, h.zero_shot, "zero-shot evaluation", name):
        return
    spec = next(c for c in cfg.candidates if c.name == name)
    resolved = resolve_candidate(spec, cfg.cache_dir, progress)
    with stage_folder(folder, "zero_shot", h.zero_shot) as out:
        evaluate(
            resolved,
            layout.data_dir / "eval.jsonl",
            cfg.task.type,
            cfg.evaluation,
            cfg.metrics(),
            out,
            device=cfg.device,
            progress=progress,
            prompt=PromptSpec.from_task(cfg.task),
        )


def _skip(folder: Path, h: str, stage: str, name: str) -> bool:
    if is_done(folder, h):
        log.info("%s: %s done already (resume)", name, stage)
        return True
    log.info("%s: %s", name, stage)
    return False


def run_rank(cfg: RunConfig, layout: RunLayout) -> Ranking:
    """Stage 5 plus the reports."""
    from damoc.report import write_report
    from damoc.selection import rank_candidates

    ranking = rank_candidates(layout.root, [c.name for c in cfg.candidates], cfg.selection)
    write_report(layout.root)
    return ranking
