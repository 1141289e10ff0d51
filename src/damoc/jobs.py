"""One candidate's stages (model, train, evaluate), run in whatever process the executor chose.

Stage hashes chain: a candidate's model hash covers the data hash, its train hash the model hash, and
so on, so changing one config section re-runs that stage and the ones after it, and nothing else.
A stage whose manifest shows the same hash is skipped: that is resume.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.artifacts import RunLayout, is_done, stage_folder
from damoc.config import CandidateSpec, RunConfig, section_hash
from damoc.context import StageContext
from damoc.errors import DamocError
from damoc.executors.base import GROUND_TRUTH, CandidateJob, EventFn
from damoc.reports import FailureKind, FailureReport

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel
    from damoc.reports import EvalReport

log = logging.getLogger(__name__)

PARAGRAPH = "\n\n"


@dataclass(frozen=True)
class Hashes:
    """Config hashes of every stage of one candidate."""

    data: str
    model: str
    train: str
    eval: str
    zero_shot: str
    subset: str
    ats: str = ""


def stage_hashes(cfg: RunConfig, name: str) -> Hashes:
    """The chained hashes for candidate ``name``."""
    spec = next(c for c in cfg.candidates if c.name == name)
    data = data_hash(cfg)
    model = section_hash("model", data, spec, cfg.model, cfg.seed)
    train = section_hash("train", model, cfg.training, cfg.seed)
    evaluation = section_hash("eval", train, cfg.evaluation, cfg.metrics())
    zero_shot = section_hash("zero_shot", data, spec, cfg.evaluation, cfg.metrics())
    # the subset's size and steps follow the proxy's training (train hash covers model and data)
    subset = section_hash("subset_tuning", train, cfg.task, cfg.evaluation, cfg.metrics())
    # the ats budget follows the proxy's training too; its subsets have their own hashes (ats_subset_hash)
    ats = section_hash("ats", train, cfg.evaluation.max_seq_len, _ats_stage_params(cfg))
    return Hashes(data, model, train, evaluation, zero_shot, subset, ats=ats)


def _ats_stage_params(cfg: RunConfig) -> dict[str, Any]:
    """The ats params that shape its training (k and delta only shape the fit, at rank time)."""
    from damoc.training.ats import ats_params

    return ats_params(cfg).model_dump(include={"min_examples", "compute_ratio"})


def ats_subset_hash(cfg: RunConfig, h: Hashes, spec: CandidateSpec, size: int) -> str:
    """Hash of one ats subset: the first ``size`` examples of the seeded shuffle, tuned and scored.

    It does not depend on the proxy, so a subset a new budget still uses is not redone.
    """
    from damoc.training.ats import subset_recipe

    return section_hash("ats_subset", h.data, spec, subset_recipe(cfg.training), cfg.evaluation.max_seq_len, size)


def data_hash(cfg: RunConfig) -> str:
    """Hash of everything the data stage reads."""
    return section_hash("data", cfg.task, cfg.data, cfg.seed)


def chunk_hash(cfg: RunConfig, h: Hashes, chunk: int) -> str:
    """Hash of one round of sequential evaluation: the proxy (train hash) on chunk ``chunk``."""
    return section_hash("eval_chunk", h.train, cfg.evaluation, cfg.metrics(), cfg.selection.cluster_by, chunk)


def sequential_hashes(cfg: RunConfig, h: Hashes, rounds: int) -> Hashes:
    """``h`` with the eval and baseline hashes of a sequential evaluation that stopped after ``rounds``.

    The stop depends on every candidate's chunks, so the rounds (and the chunking) enter the hashes.
    """
    tag = ("sequential", cfg.selection.cluster_by, rounds)
    return replace(
        h,
        eval=section_hash(h.eval, *tag),
        zero_shot=section_hash(h.zero_shot, *tag),
        subset=section_hash(h.subset, *tag),
    )


@dataclass(frozen=True)
class _Work:
    """One candidate job, unpacked for its stages: layout, spec, hashes and context."""

    cfg: RunConfig
    layout: RunLayout
    name: str
    spec: CandidateSpec
    hashes: Hashes
    ctx: StageContext
    rounds: int | None = None  # sequential evaluation: chunks 0..rounds-1 are the eval examples used


def run_candidate(job: CandidateJob, on_event: EventFn | None = None) -> None:
    """Stages 2-4 (and the zero_shot and subset_tuning baselines' runs) for one candidate, in this process.

    A job of the :data:`~damoc.executors.base.GROUND_TRUTH` stage runs the validation's ground truth instead.
    """
    cfg, name = job.config, job.name
    progress = None if on_event is None else functools.partial(on_event, name)
    if job.stages == (GROUND_TRUTH,):
        from damoc.validation.truth import run_ground_truth_job

        run_ground_truth_job(cfg, job.run_dir, name, progress)
        return
    _check_sequential(job)
    hashes = stage_hashes(cfg, name)
    work = _Work(
        cfg=cfg,
        layout=RunLayout(job.run_dir),
        name=name,
        spec=next(c for c in cfg.candidates if c.name == name),
        hashes=hashes if job.eval_rounds is None else sequential_hashes(cfg, hashes, job.eval_rounds),
        ctx=StageContext.from_config(cfg, progress),
        rounds=job.eval_rounds,
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
        if job.eval_chunk is not None:
            _chunk_stage(work, job.eval_chunk)
            return
        _eval_stage(work)
        if "zero_shot" in cfg.selection.baselines:
            _zero_shot_stage(work)
        if "subset_tuning" in cfg.selection.baselines:
            _subset_tuning_stage(work)
        if "ats" in cfg.selection.baselines:
            _ats_stage(work)


def job_failure(job: CandidateJob, exc: BaseException, executor: str, kind: FailureKind | None = None) -> FailureReport:
    """What the ranking records for a failed job: its stage, the kind of failure and the reason.

    Args:
        job: the job that failed.
        exc: what it raised (for a worker that died: the executor's own error).
        executor: the executor's registry name.
        kind: ``worker_died`` or ``out_of_memory`` when the executor knows; else read off ``exc``.
    """
    text = str(exc).strip()
    if not isinstance(exc, DamocError | OSError):  # damoc's and the OS's messages are written for the user
        text = f"{type(exc).__name__}: {text.split(PARAGRAPH)[0]}".rstrip(": ")
    oom = isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"  # torch's CUDA OOM
    return FailureReport(
        candidate=job.name,
        stage=unfinished_stage(job),
        kind=kind or ("out_of_memory" if oom else "error"),
        reason=text or type(exc).__name__,
        executor=executor,
    )


def unfinished_stage(job: CandidateJob) -> str:
    """The first of ``job``'s stages without an up-to-date result: where a failed job stopped.

    When the proxy's stages are all done, the baselines' runs (part of ``evaluate``) are what failed.
    """
    if job.stages == (GROUND_TRUTH,):
        return GROUND_TRUTH
    h = stage_hashes(job.config, job.name)
    layout = RunLayout(job.run_dir)
    results = {
        "model": (layout.proxy_dir(job.name), h.model),
        "train": (layout.adapter_dir(job.name), h.train),
        "evaluate": (layout.eval_dir(job.name), h.eval),
    }
    return next((s for s in job.stages if not is_done(*results[s])), job.stages[-1])


def _check_sequential(job: CandidateJob) -> None:
    """A sequential evaluate stage needs its chunk or its rounds; a whole-split one neither."""
    sequential = job.config.evaluation.sequential_chunk is not None
    given = job.eval_chunk is not None or job.eval_rounds is not None
    if "evaluate" in job.stages and sequential != given:
        raise DamocError(
            f"candidate {job.name!r}: with evaluation.sequential_chunk set the evaluate stage runs per chunk "
            "(CandidateJob.eval_chunk) and then on the rounds used (eval_rounds), through damoc.pipeline.run; "
            "without it neither applies"
        )


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


def tracked_phase(run_dir: Path, job_dir: Path, phase: str) -> tuple[Path, str]:
    """The run folder a job's ``phase`` is tracked under, and the phase prefixed by the job's folder inside it.

    A successive-halving round runs in ``run_dir/halving/round_<k>``: its proxy is ``halving/round_<k>/proxy``.
    """
    if job_dir != run_dir and job_dir.is_relative_to(run_dir):
        return run_dir, f"{job_dir.relative_to(run_dir).as_posix()}/{phase}"
    return job_dir, phase


@contextlib.contextmanager
def _tracking(w: _Work, phase: str) -> Iterator[StageContext]:
    """``w.ctx`` reporting to the run's trackers (``report_to``) as ``phase`` of the candidate."""
    from damoc.tracking.base import open_tracking

    root, phase = tracked_phase(Path(w.cfg.run_dir), w.layout.root, phase)
    with open_tracking(w.cfg.report_to, root, w.name, phase) as track:
        yield w.ctx.with_tracking(track)


def _track_eval(ctx: StageContext, report: EvalReport, step: int) -> None:
    """An evaluation's metrics, as ``eval/<metric>`` at the training step they scored."""
    from damoc.tracking.base import track

    track(ctx.track, {f"eval/{k}": v for k, v in report.metrics.items()}, step)


def _proxy_steps(w: _Work) -> int:
    from damoc.reports import TrainReport, read_stage_report

    return read_stage_report(w.layout.train_report(w.name), TrainReport).steps


def _train_stage(w: _Work) -> None:
    from damoc.training import train_proxy

    def write(out: Path) -> None:
        with _tracking(w, "proxy") as ctx:
            train_proxy(w.layout.proxy_dir(w.name), w.layout.train_file, w.cfg.training, out, ctx)

    _run_stage(w.layout.adapter_dir(w.name), w.hashes.train, "train", w.name, write)


def _evaluate(
    w: _Work, model: Path | ResolvedModel, out: Path, adapter_dir: Path | None, chunks: Sequence[int] | None = None
) -> EvalReport:
    """Evaluate on the whole eval split, or on the given chunks (default: the rounds used, if sequential)."""
    from damoc.evaluation import evaluate
    from damoc.sequential import write_chunk_examples

    cfg = w.cfg
    chunks = range(w.rounds) if chunks is None and w.rounds is not None else chunks
    eval_file = w.layout.eval_file if chunks is None else write_chunk_examples(cfg, w.layout, chunks, out)
    return evaluate(model, eval_file, cfg.task.type, cfg.evaluation, cfg.metrics(), out, w.ctx, adapter_dir=adapter_dir)


def _eval_stage(w: _Work) -> None:
    proxy, adapter = w.layout.proxy_dir(w.name), w.layout.adapter_dir(w.name)
    if w.rounds is not None:
        _combined_eval_stage(w, w.rounds)
        return

    def write(out: Path) -> None:
        with _tracking(w, "proxy") as ctx:
            _track_eval(ctx, _evaluate(w, proxy, out, adapter), _proxy_steps(w))

    _run_stage(w.layout.eval_dir(w.name), w.hashes.eval, "evaluate", w.name, write)


def _chunk_stage(w: _Work, chunk: int) -> None:
    """Sequential evaluation, one round: the proxy on chunk ``chunk`` of the eval split."""
    proxy, adapter = w.layout.proxy_dir(w.name), w.layout.adapter_dir(w.name)
    _run_stage(
        w.layout.eval_chunk_dir(w.name, chunk),
        chunk_hash(w.cfg, w.hashes, chunk),
        f"evaluate chunk {chunk}",
        w.name,
        lambda out: _evaluate(w, proxy, out, adapter, [chunk]),
    )


def _combined_eval_stage(w: _Work, rounds: int) -> None:
    """Sequential evaluation, after the stop: the ``eval/`` folder from the chunks used."""
    from damoc.sequential import combine_chunks

    for k in range(rounds):
        _require(w.layout.eval_chunk_dir(w.name, k), chunk_hash(w.cfg, w.hashes, k), "evaluate", w.name)

    def write(out: Path) -> None:
        with _tracking(w, "proxy") as ctx:
            _track_eval(ctx, combine_chunks(w.cfg, w.layout, w.name, rounds, out), _proxy_steps(w))

    _run_stage(w.layout.eval_dir(w.name), w.hashes.eval, "evaluate", w.name, write, {"rounds": rounds})


def _zero_shot_stage(w: _Work) -> None:
    """The full, untuned candidate on the same eval set: the zero_shot baseline's scores."""
    from damoc.candidates.resolve import resolve_candidate

    def write(out: Path) -> None:
        with _tracking(w, "zero_shot") as ctx:
            _track_eval(ctx, _evaluate(w, resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress), out, None), 0)

    _run_stage(w.layout.zero_shot_dir(w.name), w.hashes.zero_shot, "zero_shot", w.name, write)


def _subset_tuning_stage(w: _Work) -> None:
    """The full candidate LoRA-tuned on a random subset at the proxy's training compute, then evaluated."""
    from damoc.candidates.resolve import resolve_candidate
    from damoc.reports import ProxyReport, TrainReport, read_stage_report
    from damoc.training.subset import ADAPTER_DIR, matched_steps, tune_on_subset

    def write(out: Path) -> None:
        proxy = read_stage_report(w.layout.proxy_report(w.name), ProxyReport)
        steps = matched_steps(proxy, read_stage_report(w.layout.train_report(w.name), TrainReport))
        with _tracking(w, "subset_tuning") as ctx:
            tune_on_subset(w.spec, w.cfg.task, w.cfg.training, steps, out, ctx)
            full = resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress)
            _track_eval(ctx, _evaluate(w, full, out, out / ADAPTER_DIR), steps)

    _run_stage(w.layout.subset_tuning_dir(w.name), w.hashes.subset, "subset_tuning", w.name, write)


def _ats_stage(w: _Work) -> None:
    """The ats baseline: the full candidate tuned on nested prefixes of one shuffle, one stage folder each."""
    from damoc.training.ats import plan_ats, tune_prefix, write_curve

    layout, name = w.layout, w.name
    if is_done(layout.ats_dir(name), w.hashes.ats):
        log.info("%s: ats done already (resume)", name)
        return
    plan = plan_ats(w.cfg, w.spec, layout.proxy_dir(name), layout.adapter_dir(name), w.ctx)

    def tune(size: int, out: Path) -> None:
        with _tracking(w, f"ats/{size}") as ctx:
            tune_prefix(w.cfg, w.spec, plan, size, layout.eval_file, out, ctx)

    for size in plan.sizes:
        write = functools.partial(tune, size)
        _run_stage(
            layout.ats_subset_dir(name, size),
            ats_subset_hash(w.cfg, w.hashes, w.spec, size),
            f"ats {size}",
            name,
            write,
        )
    subsets = [layout.ats_subset_dir(name, size) for size in plan.sizes]
    _run_stage(layout.ats_dir(name), w.hashes.ats, "ats", name, lambda out: write_curve(w.cfg, plan, subsets, out))
