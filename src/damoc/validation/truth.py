"""One candidate's ground truth: the full fine-tune, found in the cache or trained, and its copy in the run folder.

:func:`run_ground_truth_job` is what an executor runs for a
:data:`~damoc.executors.base.GROUND_TRUTH` job (:func:`damoc.jobs.run_candidate`); it imports no
pipeline code, so a worker process loads only what the fine-tune needs.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from damoc.artifacts import run_lock, stage_folder
from damoc.config import CandidateSpec, RunConfig
from damoc.context import StageContext
from damoc.progress import ProgressFn
from damoc.reports import EVAL_REPORT, PREDICTIONS_FILE, EvalReport, read_stage_report
from damoc.tasks.example import Example
from damoc.validation.base import ADAPTER_DIR, CURVE_FILE, POINTER_FILE, RESULT_DIR, CurvePoint, GroundTruthTrainReport
from damoc.validation.base import validation_dir as candidate_validation_dir
from damoc.validation.cache import cache_root
from damoc.validation.compare import Truth
from damoc.validation.scoring import Scoring
from damoc.validation.train import GroundTruthJob, run_ground_truth

log = logging.getLogger(__name__)


def run_ground_truth_job(cfg: RunConfig, run_dir: Path, name: str, progress: ProgressFn | None = None) -> None:
    """One candidate's ground truth, found in the cache or trained, copied into ``run_dir/validation/<name>/``.

    What an executor runs for a :data:`~damoc.executors.base.GROUND_TRUTH` job, in any process that
    sees the run folder and the cache. A fine-tune that runs here (not one found in the cache) reports
    its losses, learning rates and curve scores to ``cfg.report_to`` as the candidate's ``ground_truth`` phase.
    """
    from damoc.tracking.base import open_tracking

    spec = next(c for c in cfg.candidates if c.name == name)
    train, evals = load_task(cfg)
    with open_tracking(cfg.report_to, run_dir, name, "ground_truth") as track:
        ctx = StageContext.from_config(cfg, progress).with_tracking(track)
        truth = ground_truth(cfg, spec, train, evals, ctx)
    copy_reports(truth, candidate_validation_dir(run_dir, name))


def read_copied_truth(folder: Path) -> Truth:
    """A ground truth from its copy in ``run_dir/validation/<name>/`` (its cache entry from the pointer)."""
    pointer = json.loads((folder / POINTER_FILE).read_text("utf-8"))
    return read_truth(folder, Path(pointer["cache_entry"]))


def load_task(cfg: RunConfig) -> tuple[list[Example], list[Example]]:
    """The whole training split and the eval split (first ``ground_truth.max_eval_examples``, else ``task.max_eval_examples``)."""
    from damoc.tasks.load import load_split, task_sources

    train_src, eval_src, fields, task_type = task_sources(cfg.task)
    train = load_split(train_src, fields, task_type, "train", fmt=cfg.task.format)
    cap = cfg.ground_truth.max_eval_examples or cfg.task.max_eval_examples
    return train, load_split(eval_src, fields, task_type, "eval", fmt=cfg.task.format)[:cap]


def ground_truth(
    cfg: RunConfig, spec: CandidateSpec, train: list[Example], evals: list[Example], ctx: StageContext
) -> Truth:
    """One candidate's ground truth: from the cache, or trained (resuming a checkpoint) into it."""
    job = build_job(cfg, spec, train, evals, ctx)
    entry = cache_root(cfg.cache_dir) / job.key
    log.info("%s: ground truth %s (%d examples x %g epochs, max_seq_len %d)", spec.name, entry, len(train),
             cfg.ground_truth.epochs, job.recipe.max_seq_len)  # fmt: skip
    with run_lock(entry):
        result = run_ground_truth(job, entry, ctx)
    return read_truth(result, entry)


def build_job(
    cfg: RunConfig, spec: CandidateSpec, train: list[Example], evals: list[Example], ctx: StageContext
) -> GroundTruthJob:
    """Resolve the candidate, fix ``max_seq_len`` and the recipe, and hash them into the cache key."""
    from damoc.candidates.resolve import load_tokenizer, pick_device, pick_dtype, resolve_candidate
    from damoc.validation.cache import evaluation_settings, ground_truth_key, weights_fingerprint
    from damoc.validation.recipe import auto_max_seq_len, training_config

    model = resolve_candidate(spec, cfg.cache_dir, ctx.progress)
    max_len = cfg.ground_truth.max_seq_len
    if max_len is None:
        tokenizer = load_tokenizer(model.source, revision=model.revision, trust_remote_code=model.trust_remote_code)
        max_len = auto_max_seq_len(tokenizer, train, ctx.prompt)
    recipe = training_config(cfg.ground_truth, max_len)
    scoring = Scoring(cfg.task.type, cfg.metrics(), cfg.evaluation, ctx.prompt)
    dtype = str(pick_dtype(pick_device(cfg.device), cfg.dtype)).removeprefix("torch.")
    settings = evaluation_settings(scoring.task_type, scoring.metrics, cfg.evaluation, dtype)
    key = ground_truth_key(weights_fingerprint(model, spec.alias), train, evals, recipe, ctx.prompt, settings, cfg.seed)
    return GroundTruthJob(spec.name, model, train, evals, recipe, cfg.ground_truth, scoring, key)


def read_truth(result: Path, entry: Path) -> Truth:
    """A finished ground truth's reports, predictions and curve."""
    rows = [json.loads(line) for line in (result / PREDICTIONS_FILE).read_text("utf-8").splitlines() if line]
    curve = [CurvePoint.model_validate(p) for p in json.loads((result / CURVE_FILE).read_text("utf-8"))]
    return Truth(
        train=read_stage_report(result, GroundTruthTrainReport),
        evaluation=read_stage_report(result / EVAL_REPORT, EvalReport),
        rows=rows,
        curve=curve,
        entry=entry,
    )


def copy_reports(truth: Truth, out: Path) -> None:
    """The small files of a ground truth (not its weights) and a pointer to its cache entry, into ``out``."""
    result = truth.entry / RESULT_DIR
    pointer: dict[str, Any] = {
        "cache_entry": str(truth.entry),
        "cache_key": truth.train.cache_key,
        "adapter": str(result / ADAPTER_DIR),
    }
    with stage_folder(out, "validation", truth.train.cache_key) as tmp:
        for name in (GroundTruthTrainReport.file_name, EVAL_REPORT, PREDICTIONS_FILE, CURVE_FILE):
            shutil.copyfile(result / name, tmp / name)
        (tmp / POINTER_FILE).write_text(json.dumps(pointer, indent=2) + "\n", encoding="utf-8")
