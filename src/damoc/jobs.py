"""One candidate's stages (model, train, evaluate), run in whatever process the executor chose.

Stage hashes chain: a candidate's model hash covers the data hash, its train hash the model hash, and
so on, so changing one config section re-runs that stage and the ones after it, and nothing else.
A stage whose manifest shows the same hash is skipped: that is resume.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.artifacts import RunLayout, is_done, stage_folder
from damoc.config import CandidateSpec, RunConfig, section_hash
from damoc.context import StageContext
from damoc.errors import DamocError
from damoc.executors.base import CandidateJob, EventFn

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class _Work:
    """One candidate job, unpacked for its stages: layout, spec, hashes and context."""

    cfg: RunConfig
    layout: RunLayout
    name: str
    spec: CandidateSpec
    hashes: Hashes
    ctx: StageContext


def run_candidate(job: CandidateJob, on_event: EventFn | None = None) -> None:
    """Stages 2-4 (and the zero-shot baseline's evaluation) for one candidate, in this process."""
    cfg, name = job.config, job.name
    progress = None if on_event is None else functools.partial(on_event, name)
    work = _Work(
        cfg=cfg,
        layout=RunLayout(job.run_dir),
        name=name,
        spec=next(c for c in cfg.candidates if c.name == name),
        hashes=stage_hashes(cfg, name),
        ctx=StageContext.from_config(cfg, progress),
    )
    layout, h = work.layout, work.hashes
    _require(layout.data_dir, h.data, "data", name)
    if "model" in job.stages:
        _model_stage(work)
    if "train" in job.stages:
        _require(layout.proxy_dir(name), h.model, "model", name)
        _train_stage(work)
    if "evaluate" in job.stages:
        _require(layout.adapter_dir(name), h.train, "train", name)
        _eval_stage(work)
        if "zero_shot" in cfg.selection.baselines:
            _zero_shot_stage(work)


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


def _model_stage(w: _Work) -> None:
    from damoc.model import build_proxy

    _run_stage(
        w.layout.proxy_dir(w.name),
        w.hashes.model,
        "model",
        w.name,
        lambda out: build_proxy(w.spec, w.layout.calib_file, w.cfg.model, out, w.ctx),
        {"candidate": w.spec.model_dump(mode="json")},
    )


def _train_stage(w: _Work) -> None:
    from damoc.training import train_proxy

    _run_stage(
        w.layout.adapter_dir(w.name),
        w.hashes.train,
        "train",
        w.name,
        lambda out: train_proxy(w.layout.proxy_dir(w.name), w.layout.train_file, w.cfg.training, out, w.ctx),
    )


def _evaluate(w: _Work, model: Path | ResolvedModel, out: Path, adapter_dir: Path | None) -> None:
    from damoc.evaluation import evaluate

    cfg = w.cfg
    evaluate(
        model, w.layout.eval_file, cfg.task.type, cfg.evaluation, cfg.metrics(), out, w.ctx, adapter_dir=adapter_dir
    )


def _eval_stage(w: _Work) -> None:
    proxy, adapter = w.layout.proxy_dir(w.name), w.layout.adapter_dir(w.name)
    _run_stage(
        w.layout.eval_dir(w.name), w.hashes.eval, "evaluate", w.name, lambda out: _evaluate(w, proxy, out, adapter)
    )


def _zero_shot_stage(w: _Work) -> None:
    """The full, untuned candidate on the same eval set: the zero_shot baseline's scores."""
    from damoc.candidates.resolve import resolve_candidate

    def write(out: Path) -> None:
        _evaluate(w, resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress), out, None)

    _run_stage(w.layout.zero_shot_dir(w.name), w.hashes.zero_shot, "zero_shot", w.name, write)
