"""One candidate's stages (model, train, evaluate), run in whatever process the executor chose.

Stage hashes chain: a candidate's model hash covers the data hash, its train hash the model hash, and
so on, so changing one config section re-runs that stage and the ones after it, and nothing else.
A stage whose manifest shows the same hash is skipped: that is resume.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from damoc.artifacts import RunLayout, is_done
from damoc.candidate_work import (  # re-exported: the hashes are part of damoc.jobs' interface
    Hashes,
    Work,
    chunk_hash,
    data_hash,
    evaluate_on_split,
    run_stage,
    sequential_hashes,
    stage_hashes,
    track_eval,
    tracked_phase,
    tracking,
)
from damoc.context import StageContext
from damoc.errors import DamocError
from damoc.executors.base import GROUND_TRUTH, CandidateJob, EventFn
from damoc.reports import FailureKind, FailureReport

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

__all__ = [
    "Hashes",
    "chunk_hash",
    "data_hash",
    "job_failure",
    "run_candidate",
    "sequential_hashes",
    "stage_hashes",
    "tracked_phase",
    "unfinished_stage",
]

PARAGRAPH = "\n\n"


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
    work = Work(
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
        _baseline_stages(work)


def _baseline_stages(w: Work) -> None:
    """The listed baselines that train (``damoc.baseline_stages``), after the proxy's evaluation."""
    from damoc import baseline_stages as b

    listed = w.cfg.selection.baselines
    if "subset_tuning" in listed:
        b.subset_tuning_stage(w)
    if "ats" in listed:
        b.ats_stage(w)
    for kind in b.ABLATIONS:
        if kind in listed:
            b.ablation_stage(w, kind)


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


def _model_stage(w: Work) -> None:
    from damoc.model import build_proxy

    run_stage(
        w.layout.proxy_dir(w.name),
        w.hashes.model,
        "model",
        w.name,
        lambda out: build_proxy(w.spec, w.layout.calib_file, w.cfg.model, out, w.ctx),
        {"candidate": w.spec.model_dump(mode="json")},
    )


def _proxy_steps(w: Work) -> int:
    from damoc.reports import TrainReport, read_stage_report

    return read_stage_report(w.layout.train_report(w.name), TrainReport).steps


def _train_stage(w: Work) -> None:
    from damoc.training import train_proxy

    def write(out: Path) -> None:
        with tracking(w, "proxy") as ctx:
            train_proxy(w.layout.proxy_dir(w.name), w.layout.train_file, w.cfg.training, out, ctx)

    run_stage(w.layout.adapter_dir(w.name), w.hashes.train, "train", w.name, write)


def _eval_stage(w: Work) -> None:
    proxy, adapter = w.layout.proxy_dir(w.name), w.layout.adapter_dir(w.name)
    if w.rounds is not None:
        _combined_eval_stage(w, w.rounds)
        return

    def write(out: Path) -> None:
        with tracking(w, "proxy") as ctx:
            track_eval(ctx, evaluate_on_split(w, proxy, out, adapter), _proxy_steps(w))

    run_stage(w.layout.eval_dir(w.name), w.hashes.eval, "evaluate", w.name, write)


def _chunk_stage(w: Work, chunk: int) -> None:
    """Sequential evaluation, one round: the proxy on chunk ``chunk`` of the eval split."""
    proxy, adapter = w.layout.proxy_dir(w.name), w.layout.adapter_dir(w.name)
    run_stage(
        w.layout.eval_chunk_dir(w.name, chunk),
        chunk_hash(w.cfg, w.hashes, chunk),
        f"evaluate chunk {chunk}",
        w.name,
        lambda out: evaluate_on_split(w, proxy, out, adapter, [chunk]),
    )


def _combined_eval_stage(w: Work, rounds: int) -> None:
    """Sequential evaluation, after the stop: the ``eval/`` folder from the chunks used."""
    from damoc.sequential import combine_chunks

    for k in range(rounds):
        _require(w.layout.eval_chunk_dir(w.name, k), chunk_hash(w.cfg, w.hashes, k), "evaluate", w.name)

    def write(out: Path) -> None:
        with tracking(w, "proxy") as ctx:
            track_eval(ctx, combine_chunks(w.cfg, w.layout, w.name, rounds, out), _proxy_steps(w))

    run_stage(w.layout.eval_dir(w.name), w.hashes.eval, "evaluate", w.name, write, {"rounds": rounds})


def _zero_shot_stage(w: Work) -> None:
    """The full, untuned candidate on the same eval set: the zero_shot baseline's scores."""
    from damoc.candidates.resolve import resolve_candidate

    def write(out: Path) -> None:
        with tracking(w, "zero_shot") as ctx:
            track_eval(
                ctx, evaluate_on_split(w, resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress), out, None), 0
            )

    run_stage(w.layout.zero_shot_dir(w.name), w.hashes.zero_shot, "zero_shot", w.name, write)
