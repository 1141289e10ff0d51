"""What every stage of one candidate's job shares: the chained stage hashes, the unpacked job, resumable stage folders.

:mod:`damoc.jobs` runs the proxy's stages and :mod:`damoc.baseline_stages` the baselines that train;
both build on these.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.artifacts import RunLayout, is_done, stage_folder
from damoc.config import CandidateSpec, RunConfig, section_hash
from damoc.context import StageContext

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel
    from damoc.reports import EvalReport

log = logging.getLogger(__name__)


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
    data_only: str = ""
    model_only: str = ""


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
    # the ablations follow the proxy's training (steps, layers, data): the train hash covers them
    data_only = section_hash("data_only", train, cfg.evaluation, cfg.metrics())
    model_only = section_hash("model_only", train, cfg.task, cfg.evaluation, cfg.metrics())
    return Hashes(
        data, model, train, evaluation, zero_shot, subset, ats=ats, data_only=data_only, model_only=model_only
    )


def _ats_stage_params(cfg: RunConfig) -> dict[str, Any]:
    """The ats params that shape its training (k and delta only shape the fit, at rank time)."""
    from damoc.training.ats import ats_params

    params = ats_params(cfg)
    shaping = params.model_dump(include={"min_examples", "compute_ratio"})
    # the test set's cap joins the hash only when set, so runs from before it existed still resume
    return shaping if params.test_examples is None else shaping | {"test_examples": params.test_examples}


def ats_subset_hash(cfg: RunConfig, h: Hashes, spec: CandidateSpec, size: int) -> str:
    """Hash of one ats subset: the first ``size`` examples of the seeded shuffle, tuned and scored.

    It does not depend on the proxy, so a subset a new budget still uses is not redone.
    """
    from damoc.training.ats import ats_params, subset_recipe

    parts = ("ats_subset", h.data, spec, subset_recipe(cfg.training), cfg.evaluation.max_seq_len, size)
    cap = ats_params(cfg).test_examples
    return section_hash(*parts) if cap is None else section_hash(*parts, cap)


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
        data_only=section_hash(h.data_only, *tag),
        model_only=section_hash(h.model_only, *tag),
    )


@dataclass(frozen=True)
class Work:
    """One candidate job, unpacked for its stages: layout, spec, hashes and context."""

    cfg: RunConfig
    layout: RunLayout
    name: str
    spec: CandidateSpec
    hashes: Hashes
    ctx: StageContext
    rounds: int | None = None  # sequential evaluation: chunks 0..rounds-1 are the eval examples used


def run_stage(
    folder: Path, h: str, stage: str, name: str, write: Callable[[Path], object], inputs: dict[str, Any] | None = None
) -> None:
    """Skip a finished stage (resume); else let ``write`` fill a temporary folder that becomes ``folder``."""
    if is_done(folder, h):
        log.info("%s: %s done already (resume)", name, stage)
        return
    log.info("%s: %s", name, stage)
    with stage_folder(folder, stage, h, inputs) as out:
        write(out)


def tracked_phase(run_dir: Path, job_dir: Path, phase: str) -> tuple[Path, str]:
    """The run folder a job's ``phase`` is tracked under, and the phase prefixed by the job's folder inside it.

    A successive-halving round runs in ``run_dir/halving/round_<k>``: its proxy is ``halving/round_<k>/proxy``.
    """
    if job_dir != run_dir and job_dir.is_relative_to(run_dir):
        return run_dir, f"{job_dir.relative_to(run_dir).as_posix()}/{phase}"
    return job_dir, phase


@contextlib.contextmanager
def tracking(w: Work, phase: str) -> Iterator[StageContext]:
    """``w.ctx`` reporting to the run's trackers (``report_to``) as ``phase`` of the candidate."""
    from damoc.tracking.base import open_tracking

    root, phase = tracked_phase(Path(w.cfg.run_dir), w.layout.root, phase)
    with open_tracking(w.cfg.report_to, root, w.name, phase) as track:
        yield w.ctx.with_tracking(track)


def track_eval(ctx: StageContext, report: EvalReport, step: int) -> None:
    """An evaluation's metrics, as ``eval/<metric>`` at the training step they scored."""
    from damoc.tracking.base import track

    track(ctx.track, {f"eval/{k}": v for k, v in report.metrics.items()}, step)


def evaluate_on_split(
    w: Work, model: Path | ResolvedModel, out: Path, adapter_dir: Path | None, chunks: Sequence[int] | None = None
) -> EvalReport:
    """Evaluate on the whole eval split, or on the given chunks (default: the rounds used, if sequential)."""
    from damoc.evaluation import evaluate
    from damoc.sequential import write_chunk_examples

    cfg = w.cfg
    chunks = range(w.rounds) if chunks is None and w.rounds is not None else chunks
    eval_file = w.layout.eval_file if chunks is None else write_chunk_examples(cfg, w.layout, chunks, out)
    return evaluate(model, eval_file, cfg.task.type, cfg.evaluation, cfg.metrics(), out, w.ctx, adapter_dir=adapter_dir)
