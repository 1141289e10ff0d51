"""The whole run: stages in order, each skipped when its manifest shows the same config hash.

Stage hashes chain: a candidate's model hash covers the data hash, its train hash the model hash, and
so on, so changing one config section re-runs that stage and the ones after it, and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from damoc.artifacts import RunLayout, clean_stale_temps, is_done, run_lock, stage_folder, write_text_atomic
from damoc.config import CandidateSpec, RunConfig, section_hash
from damoc.errors import DamocError
from damoc.executors import run_candidates
from damoc.loading import dump_config
from damoc.progress import ProgressFn
from damoc.selection.stage import Ranking
from damoc.tasks.prompts import PromptSpec

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel

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


@dataclass(frozen=True)
class CandidateJob:
    """Everything the per-candidate stages of one candidate need."""

    cfg: RunConfig
    layout: RunLayout
    name: str
    progress: ProgressFn | None

    @property
    def hashes(self) -> Hashes:
        return stage_hashes(self.cfg, self.name)

    @property
    def spec(self) -> CandidateSpec:
        return next(c for c in self.cfg.candidates if c.name == self.name)

    @property
    def prompt(self) -> PromptSpec:
        return PromptSpec.from_task(self.cfg.task)


def run_candidate(
    cfg: RunConfig, layout: RunLayout, name: str, stages: Sequence[str], progress: ProgressFn | None
) -> None:
    """Stages 2-4 (and the zero-shot baseline's evaluation) for one candidate."""
    job = CandidateJob(cfg, layout, name, progress)
    h = job.hashes
    _require(layout.data_dir, h.data, "data", name)
    if "model" in stages:
        _model_stage(job)
    if "train" in stages:
        _require(layout.proxy_dir(name), h.model, "model", name)
        _train_stage(job)
    if "evaluate" in stages:
        _require(layout.adapter_dir(name), h.train, "train", name)
        _eval_stage(job)
        if "zero_shot" in cfg.selection.baselines:
            _zero_shot_stage(job)


def _require(folder: Path, h: str, stage: str, name: str) -> None:
    if not is_done(folder, h):
        raise DamocError(
            f"candidate {name!r}: the {stage} stage has no up-to-date result in {folder}; "
            f"run `damoc {stage} CONFIG` (or `damoc run CONFIG`) first"
        )


def _run_stage(
    folder: Path, h: str, stage: str, name: str, write: Callable[[Path], object], inputs: dict[str, Any] | None = None
) -> None:
    """Skip a finished stage (resume); else let ``write`` fill a temporary folder that becomes ``folder``."""
    if is_done(folder, h):
        log.info("%s: %s done already (resume)", name, stage)
        return
    log.info("%s: %s", name, stage)
    with stage_folder(folder, stage, h, inputs) as out:
        write(out)


def _model_stage(job: CandidateJob) -> None:
    from damoc.model import build_proxy

    cfg, calib = job.cfg, job.layout.data_dir / "calib.jsonl"
    _run_stage(
        job.layout.proxy_dir(job.name),
        job.hashes.model,
        "model",
        job.name,
        lambda out: build_proxy(
            job.spec,
            calib,
            cfg.model,
            out,
            seed=cfg.seed,
            device=cfg.device,
            cache_dir=cfg.cache_dir,
            progress=job.progress,
            prompt=job.prompt,
        ),
        {"candidate": job.spec.model_dump(mode="json")},
    )


def _train_stage(job: CandidateJob) -> None:
    from damoc.training import train_proxy

    cfg, layout = job.cfg, job.layout
    _run_stage(
        layout.adapter_dir(job.name),
        job.hashes.train,
        "train",
        job.name,
        lambda out: train_proxy(
            layout.proxy_dir(job.name),
            layout.data_dir / "train.jsonl",
            cfg.training,
            out,
            seed=cfg.seed,
            device=cfg.device,
            progress=job.progress,
            prompt=job.prompt,
        ),
    )


def _evaluate(job: CandidateJob, model: Path | ResolvedModel, out: Path, adapter_dir: Path | None) -> None:
    from damoc.evaluation import evaluate

    cfg = job.cfg
    evaluate(
        model,
        job.layout.data_dir / "eval.jsonl",
        cfg.task.type,
        cfg.evaluation,
        cfg.metrics(),
        out,
        adapter_dir=adapter_dir,
        device=cfg.device,
        progress=job.progress,
        prompt=job.prompt,
    )


def _eval_stage(job: CandidateJob) -> None:
    proxy, adapter = job.layout.proxy_dir(job.name), job.layout.adapter_dir(job.name)
    _run_stage(
        job.layout.eval_dir(job.name),
        job.hashes.eval,
        "evaluate",
        job.name,
        lambda out: _evaluate(job, proxy, out, adapter),
    )


def _zero_shot_stage(job: CandidateJob) -> None:
    """The full, untuned candidate on the same eval set: the zero_shot baseline's scores."""
    from damoc.candidates.resolve import resolve_candidate

    def write(out: Path) -> None:
        _evaluate(job, resolve_candidate(job.spec, job.cfg.cache_dir, job.progress), out, None)

    _run_stage(job.layout.zero_shot_dir(job.name), job.hashes.zero_shot, "zero_shot", job.name, write)


def run_rank(cfg: RunConfig, layout: RunLayout) -> Ranking:
    """Stage 5 plus the reports."""
    from damoc.report import write_report
    from damoc.selection import rank_candidates

    ranking = rank_candidates(layout.root, [c.name for c in cfg.candidates], cfg.selection)
    write_report(layout.root)
    return ranking
