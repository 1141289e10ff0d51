"""The per-candidate runs of the baselines that train: ``subset_tuning``, ``ats`` and the ablations.

Each runs inside the candidate's job (:func:`damoc.jobs.run_candidate`) after the proxy is evaluated,
as a resumable stage folder under ``models/<name>/``, and is evaluated on the proxy's eval examples.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from damoc.artifacts import is_done
from damoc.candidate_work import Work, ats_subset_hash, evaluate_on_split, run_stage, track_eval, tracking

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel

log = logging.getLogger(__name__)


def subset_tuning_stage(w: Work) -> None:
    """The full candidate LoRA-tuned on a random subset at the proxy's training compute, then evaluated."""
    from damoc.candidates.resolve import resolve_candidate
    from damoc.reports import ProxyReport, TrainReport, read_stage_report
    from damoc.training.subset import ADAPTER_DIR, matched_steps, tune_on_subset

    def write(out: Path) -> None:
        proxy = read_stage_report(w.layout.proxy_report(w.name), ProxyReport)
        steps = matched_steps(proxy, read_stage_report(w.layout.train_report(w.name), TrainReport))
        with tracking(w, "subset_tuning") as ctx:
            tune_on_subset(w.spec, w.cfg.task, w.cfg.training, steps, out, ctx)
            full = resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress)
            track_eval(ctx, evaluate_on_split(w, full, out, out / ADAPTER_DIR), steps)

    run_stage(w.layout.subset_tuning_dir(w.name), w.hashes.subset, "subset_tuning", w.name, write)


ABLATIONS = ("data_only", "model_only")


def ablation_stage(w: Work, kind: str) -> None:
    """One half of the proxy at the proxy's training compute, then evaluated like the proxy.

    ``data_only``: the uncompressed candidate on the compressed data (``data/train.jsonl``) for the
    proxy's compute in tokens x layers (:func:`~damoc.training.subset.matched_steps`).
    ``model_only``: the proxy (layers removed and merged) on as many random training examples as the
    proxy trains on, for the proxy's steps.
    """
    from damoc.candidates.resolve import resolve_candidate
    from damoc.reports import ProxyReport, TrainReport, read_stage_report
    from damoc.training import train_proxy
    from damoc.training.subset import ADAPTER_DIR, matched_steps, tune_model_on_subset

    def write(out: Path) -> None:
        proxy = read_stage_report(w.layout.proxy_report(w.name), ProxyReport)
        proxy_train = read_stage_report(w.layout.train_report(w.name), TrainReport)
        adapter = out / ADAPTER_DIR
        with tracking(w, kind) as ctx:
            if kind == "data_only":
                steps = matched_steps(proxy, proxy_train)
                model: Path | ResolvedModel = resolve_candidate(w.spec, w.cfg.cache_dir, w.ctx.progress)
                adapter.mkdir()
                recipe = w.cfg.training.model_copy(update={"max_steps": steps})
                train_proxy(model, w.layout.train_file, recipe, adapter, ctx)
            else:
                steps, model = proxy_train.steps, w.layout.proxy_dir(w.name)
                tune_model_on_subset(
                    model, w.name, w.cfg.task, w.cfg.training, steps, proxy_train.examples_used, out, ctx
                )
            track_eval(ctx, evaluate_on_split(w, model, out, adapter), steps)

    h = w.hashes.data_only if kind == "data_only" else w.hashes.model_only
    run_stage(w.layout.ablation_dir(w.name, kind), h, kind, w.name, write)


def ats_stage(w: Work) -> None:
    """The ats baseline: the full candidate tuned on nested prefixes of one shuffle, one stage folder each."""
    from damoc.training.ats import plan_ats, tune_prefix, write_curve

    layout, name = w.layout, w.name
    if is_done(layout.ats_dir(name), w.hashes.ats):
        log.info("%s: ats done already (resume)", name)
        return
    plan = plan_ats(w.cfg, w.spec, layout.proxy_dir(name), layout.adapter_dir(name), w.ctx)

    def tune(size: int, out: Path) -> None:
        with tracking(w, f"ats/{size}") as ctx:
            tune_prefix(w.cfg, w.spec, plan, size, layout.eval_file, out, ctx)

    for size in plan.sizes:
        write = functools.partial(tune, size)
        run_stage(
            layout.ats_subset_dir(name, size),
            ats_subset_hash(w.cfg, w.hashes, w.spec, size),
            f"ats {size}",
            name,
            write,
        )
    subsets = [layout.ats_subset_dir(name, size) for size in plan.sizes]
    run_stage(layout.ats_dir(name), w.hashes.ats, "ats", name, lambda out: write_curve(w.cfg, plan, subsets, out))
