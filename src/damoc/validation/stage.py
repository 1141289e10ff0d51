"""``validate_selection``: run the ground truth a practitioner would run and compare it with the proxy ranking.

For every candidate: the uncompressed model, the whole training split (as :func:`damoc.tasks.load.load_split`
reads it, not the compressed ``run_dir/data/train.jsonl``), the ``ground_truth`` recipe's epochs, then
an evaluation on the eval split with the proxy's scorer and metrics. Finished ground truths live in
the cache under a content hash (:mod:`damoc.validation.cache`), so another config, the benchmark or a
rerun reuses them; an interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import logging

from damoc.artifacts import RunLayout, read_manifest, run_lock
from damoc.config import RunConfig
from damoc.errors import DamocError
from damoc.progress import ProgressFn
from damoc.reports import write_stage_report
from damoc.selection.base import Ranking
from damoc.tasks.example import Example
from damoc.validation.base import ValidationReport
from damoc.validation.base import validation_dir as candidate_validation_dir
from damoc.validation.compare import Inputs, compare
from damoc.validation.recipe import truth_metric

# one candidate's ground truth lives in damoc.validation.truth; these names stay importable from here
from damoc.validation.truth import ground_truth as ground_truth
from damoc.validation.truth import load_task as load_task
from damoc.validation.truth import read_copied_truth

log = logging.getLogger(__name__)


def validate_selection(cfg: RunConfig, progress: ProgressFn | None = None) -> ValidationReport:
    """Ground-truth fine-tune every candidate and compare with the proxy ranking.

    The proxy pipeline runs first (finished stages are skipped, so after ``damoc run`` this only
    reads ``ranking.json``). Then the configured executor runs one ground-truth job per candidate
    (:func:`damoc.validation.truth.run_ground_truth_job`: found in the cache or trained, its small
    reports copied to ``run_dir/validation/<candidate>/``), and ``validation.json`` and the reports
    (with their validation section) are written. A candidate whose proxy failed stops it first.

    Args:
        cfg: the run config; its ``ground_truth`` section is the recipe.
        progress: callback for progress bars.

    Returns:
        The :class:`ValidationReport` written to ``run_dir/validation.json``.
    """
    from damoc.executors.base import GROUND_TRUTH, CandidateJob, build_executor
    from damoc.pipeline import events_to_progress, run
    from damoc.report import write_report

    ranking = run(cfg, progress=progress)
    assert ranking is not None, "the rank stage always returns the ranking"
    _require_every_candidate(ranking)
    layout = RunLayout(cfg.run_dir)
    _, evals = load_task(cfg)
    jobs = [CandidateJob(cfg, layout.root, spec.name, (GROUND_TRUTH,)) for spec in cfg.candidates]
    with run_lock(layout.root):
        build_executor(cfg).run(jobs, events_to_progress(progress))
        truths = {
            spec.name: read_copied_truth(candidate_validation_dir(layout.root, spec.name)) for spec in cfg.candidates
        }
        inputs = Inputs(
            ranking=ranking,
            data_seconds=float((read_manifest(layout.data_dir) or {}).get("seconds", 0.0)),
            ground_truth=cfg.ground_truth.model_dump(mode="json"),
            clusters=clusters(evals, cfg.selection.cluster_by),
            seed=cfg.selection.bootstrap_seed,
            truth_metric=truth_metric(cfg),
        )
        report = compare(inputs, truths)
        write_stage_report(layout.root, report)
        write_report(layout.root)
    log.info("validation written to %s", layout.root / report.file_name)
    return report


def _require_every_candidate(ranking: Ranking) -> None:
    """The agreement compares every candidate: a failed proxy run stops the validation before any fine-tune."""
    from damoc.failures import RERUN_HINT, describe

    if ranking.failed:
        lines = [describe(f) for f in ranking.failed]
        raise DamocError(
            "validation compares every candidate with its ground truth, and the proxy run has failed ones:\n"
            + "\n".join([*lines, f"{RERUN_HINT} (damoc run CONFIG)"])
        )


def clusters(evals: list[Example], cluster_by: str) -> dict[str, str] | None:
    """Eval example id -> the text its bootstrap cluster shares (question or context); None: no clustering."""
    if cluster_by == "none":
        return None
    return {ex.id: str(getattr(ex, cluster_by, None) or ex.id) for ex in evals}
