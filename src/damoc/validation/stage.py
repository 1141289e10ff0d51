"""``validate_selection``: run the ground truth a practitioner would run and compare it with the proxy ranking.

For every candidate: the uncompressed model, the whole training split (as :func:`damoc.tasks.load.load_split`
reads it, not the compressed ``run_dir/data/train.jsonl``), the ``ground_truth`` recipe's epochs, then
an evaluation on the eval split with the proxy's scorer and metrics. Finished ground truths live in
the cache under a content hash (:mod:`damoc.validation.cache`), so another config, the benchmark or a
rerun reuses them; an interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from damoc.artifacts import RunLayout, read_manifest, run_lock, stage_folder
from damoc.config import CandidateSpec, RunConfig
from damoc.context import StageContext
from damoc.progress import ProgressFn
from damoc.reports import EVAL_REPORT, PREDICTIONS_FILE, EvalReport, read_stage_report, write_stage_report
from damoc.tasks.example import Example
from damoc.validation.base import (
    ADAPTER_DIR,
    CURVE_FILE,
    POINTER_FILE,
    RESULT_DIR,
    CurvePoint,
    GroundTruthTrainReport,
    ValidationReport,
)
from damoc.validation.base import validation_dir as candidate_validation_dir
from damoc.validation.cache import cache_root
from damoc.validation.compare import Inputs, Truth, compare
from damoc.validation.scoring import Scoring
from damoc.validation.train import GroundTruthJob, run_ground_truth

log = logging.getLogger(__name__)


def validate_selection(cfg: RunConfig, progress: ProgressFn | None = None) -> ValidationReport:
    """Ground-truth fine-tune every candidate and compare with the proxy ranking.

    The proxy pipeline runs first (finished stages are skipped, so after ``damoc run`` this only
    reads ``ranking.json``). Then each candidate's ground truth is found in the cache or trained,
    its small reports are copied to ``run_dir/validation/<candidate>/``, and ``validation.json``
    and the reports (with their validation section) are written.

    Args:
        cfg: the run config; its ``ground_truth`` section is the recipe.
        progress: callback for progress bars.

    Returns:
        The :class:`ValidationReport` written to ``run_dir/validation.json``.
    """
    from damoc.pipeline import run
    from damoc.report import write_report

    ranking = run(cfg, progress=progress)
    assert ranking is not None, "the rank stage always returns the ranking"
    layout = RunLayout(cfg.run_dir)
    ctx = StageContext.from_config(cfg, progress)
    train, evals = load_task(cfg)
    truths = {spec.name: ground_truth(cfg, spec, train, evals, ctx) for spec in cfg.candidates}
    with run_lock(layout.root):
        for name, truth in truths.items():
            copy_reports(truth, candidate_validation_dir(layout.root, name))
        inputs = Inputs(
            ranking=ranking,
            data_seconds=float((read_manifest(layout.data_dir) or {}).get("seconds", 0.0)),
            ground_truth=cfg.ground_truth.model_dump(mode="json"),
            clusters=clusters(evals, cfg.selection.cluster_by),
            seed=cfg.selection.bootstrap_seed,
        )
        report = compare(inputs, truths)
        write_stage_report(layout.root, report)
        write_report(layout.root)
    log.info("validation written to %s", layout.root / report.file_name)
    return report


def load_task(cfg: RunConfig) -> tuple[list[Example], list[Example]]:
    """The whole training split and the eval split (first ``ground_truth.max_eval_examples``, else ``task.max_eval_examples``)."""
    from damoc.tasks.load import load_split, task_sources

    train_src, eval_src, fields, task_type = task_sources(cfg.task)
    train = load_split(train_src, fields, task_type, "train", fmt=cfg.task.format)
    cap = cfg.ground_truth.max_eval_examples or cfg.task.max_eval_examples
    return train, load_split(eval_src, fields, task_type, "eval", fmt=cfg.task.format)[:cap]


def clusters(evals: list[Example], cluster_by: str) -> dict[str, str] | None:
    """Eval example id -> the text its bootstrap cluster shares (question or context); None: no clustering."""
    if cluster_by == "none":
        return None
    return {ex.id: str(getattr(ex, cluster_by, None) or ex.id) for ex in evals}


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
