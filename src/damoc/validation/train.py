"""One ground truth: fine-tune the full candidate on the whole training set, resumable, with a learning curve.

The loop is stage 3's (:mod:`damoc.training`: the same features, target-token loss, AdamW with
linear warmup and decay, gradient clipping) over the recipe's whole epoch plan. A checkpoint is
written every ``checkpoint_minutes`` of wall time and at every epoch end; a new run finds the most
advanced one and continues from its step with the same batches, RNG and optimizer state, so its
result equals an uninterrupted run's. Learning-curve points are evaluated in place and saved as
they come (``curve.json``), so they survive a kill too.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from damoc.artifacts import is_done, stage_folder, write_json_atomic, write_text_atomic
from damoc.candidates.resolve import ResolvedModel
from damoc.config import GroundTruthConfig, TrainingConfig
from damoc.context import StageContext
from damoc.progress import tick
from damoc.reports import PREDICTIONS_FILE, EvalReport, write_stage_report
from damoc.tasks.example import Example
from damoc.tracking.base import track
from damoc.training.base import IGNORE_INDEX, Feature
from damoc.validation.base import ADAPTER_DIR, CURVE_FILE, RESULT_DIR, CurvePoint, GroundTruthTrainReport
from damoc.validation.checkpoint import TrainState, find_checkpoint, load_checkpoint, remove_checkpoints, remove_temps
from damoc.validation.checkpoint import save_checkpoint as write_checkpoint
from damoc.validation.recipe import EpochPlan, curve_steps, plan_epochs
from damoc.validation.scoring import Scored, Scoring, evaluate_in_place

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroundTruthJob:
    """Everything one ground truth needs; ``key`` is its cache key (:func:`damoc.validation.cache.ground_truth_key`)."""

    candidate: str
    model: ResolvedModel
    train: list[Example]
    evals: list[Example]
    recipe: TrainingConfig
    gt: GroundTruthConfig
    scoring: Scoring
    key: str


@dataclass
class Session:
    """A fine-tune in progress in this process (the model, its data, plan, optimizer and progress)."""

    job: GroundTruthJob
    work_dir: Path
    model: Any
    tokenizer: Any
    features: list[Feature]
    plan: EpochPlan
    optimizer: Any
    scheduler: Any
    state: TrainState
    resumed_from: int
    load_seconds: float
    curve: dict[int, CurvePoint]


def run_ground_truth(job: GroundTruthJob, work_dir: Path, ctx: StageContext) -> Path:
    """Fine-tune and evaluate ``job`` in ``work_dir`` (its cache entry), resuming from a checkpoint.

    Args:
        job: the candidate, data, recipe, scoring and cache key.
        work_dir: the cache entry; checkpoints and ``curve.json`` live here while training runs.
        ctx: seed (adapter init, dropout, batch order), device, dtype, progress, prompt.

    Returns:
        ``work_dir/result``: the adapter (or full checkpoint), ``train.json``, ``eval.json``,
        ``predictions.jsonl`` and ``curve.json``, with a manifest; reused as it is when it exists.
    """
    result = work_dir / RESULT_DIR
    if is_done(result, job.key):
        log.info("%s: ground truth found in the cache (%s)", job.candidate, work_dir)
        return result
    remove_temps(work_dir)  # the caller holds the entry's lock: any temporary folder here is a dead writer's
    session = start_session(job, work_dir, ctx)
    final = train_session(session, ctx)
    write_result(session, final, result)
    remove_checkpoints(work_dir)
    (work_dir / CURVE_FILE).unlink(missing_ok=True)
    return result


def start_session(job: GroundTruthJob, work_dir: Path, ctx: StageContext) -> Session:
    """Load and wrap the model, encode the data, plan the epochs, and restore the latest checkpoint."""
    import torch

    from damoc.candidates.resolve import load_model
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import encode_example
    from damoc.training.loop import build_optimizer, wrap_model

    start = time.perf_counter()
    torch.manual_seed(ctx.seed)
    model, tokenizer = load_model(job.model, ctx.device, for_training=True, dtype=ctx.dtype)
    prefix = special_prefix(tokenizer)
    features = [encode_example(tokenizer, ex, job.recipe.max_seq_len, prefix, ctx.prompt) for ex in job.train]
    model = wrap_model(model, job.recipe)
    model.train()
    plan = plan_epochs(len(features), job.recipe, ctx.seed)
    optimizer, scheduler = build_optimizer(model, job.recipe, plan.total)
    found = find_checkpoint(work_dir, job.key)
    state = load_checkpoint(found, model, optimizer, scheduler) if found else TrainState(key=job.key)
    if found:
        log.info("%s: resuming the ground truth from step %d of %d", job.candidate, state.step, plan.total)
    return Session(
        job, work_dir, model, tokenizer, features, plan, optimizer, scheduler, state,
        resumed_from=state.step, load_seconds=round(time.perf_counter() - start, 3), curve=read_curve(work_dir),
    )  # fmt: skip


def train_session(s: Session, ctx: StageContext) -> Scored:
    """Run the remaining steps with checkpoints and curve points; returns the final evaluation."""
    points = curve_steps(s.plan, s.job.gt.curve_fractions, s.job.gt.epochs)
    epoch_ends = set(s.plan.epoch_ends)
    every_s = s.job.gt.checkpoint_minutes * 60
    last_save = time.monotonic()
    final = maybe_evaluate(s, points, ctx)  # a kill may land between a checkpoint and its curve point
    for index in range(s.state.step, s.plan.total):
        started = time.perf_counter()
        metrics = train_step(s, s.plan.steps[index])
        if s.state.step in epoch_ends or time.monotonic() - last_save >= every_s:
            s.state.train_seconds += time.perf_counter() - started
            started = time.perf_counter()
            write_checkpoint(s.work_dir, s.model, s.optimizer, s.scheduler, s.state)
            last_save = time.monotonic()
        s.state.train_seconds += time.perf_counter() - started
        tick(ctx.progress, f"ground truth {s.job.candidate}", s.state.step, s.plan.total)
        track(ctx.track, metrics, s.state.step)
        final = maybe_evaluate(s, points, ctx) or final
    assert final is not None, "the last step is an epoch end, always evaluated"
    return final


def train_step(s: Session, micro_batches: list[list[int]]) -> dict[str, float]:
    """One optimizer step over its micro-batches (stage 3's accumulation, clipping and schedule).

    Returns its loss and the learning rate it applied, for the trackers.
    """
    import torch

    from damoc.training.features import collate
    from damoc.training.loop import step_metrics
    from damoc.training.stage import GRAD_CLIP_NORM, accumulate

    pad_id = s.tokenizer.pad_token_id
    batches = [collate([s.features[i] for i in idx], pad_id) for idx in micro_batches]
    targets = sum(int((b["labels"] != IGNORE_INDEX).sum()) for b in batches)
    device = next(s.model.parameters()).device
    loss = accumulate(s.model, batches, targets, device)
    torch.nn.utils.clip_grad_norm_([p for p in s.model.parameters() if p.requires_grad], GRAD_CLIP_NORM)
    s.optimizer.step()
    metrics = step_metrics(loss, s.optimizer)
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    s.state.step += 1
    s.state.losses.append(round(loss, 6))
    s.state.tokens_seen += sum(int(b["attention_mask"].sum()) for b in batches)
    s.state.target_tokens += targets
    return metrics


def maybe_evaluate(s: Session, points: dict[int, float], ctx: StageContext) -> Scored | None:
    """Evaluate at a curve step not yet on the curve (the last step always: its rows are the result)."""
    step = s.state.step
    if step not in points or (step in s.curve and step != s.plan.total):
        return None
    scored = evaluate_in_place(s.model, s.tokenizer, s.job.evals, s.job.scoring, ctx.progress)
    previous = max((k for k in s.curve if k < step), default=0)
    recent = s.state.losses[previous:step]
    s.curve[step] = CurvePoint(
        step=step,
        epoch=points[step],
        metrics=scored.metrics,
        train_loss=round(sum(recent) / len(recent), 6) if recent else None,
        seconds=scored.seconds,
    )
    write_json_atomic(s.work_dir / CURVE_FILE, [p.model_dump(mode="json") for _, p in sorted(s.curve.items())])
    track(ctx.track, {f"eval/{k}": v for k, v in scored.metrics.items()}, step)
    log.info("%s: step %d (epoch %.3g): %s", s.job.candidate, step, points[step], scored.metrics)
    return scored


def read_curve(work_dir: Path) -> dict[int, CurvePoint]:
    """The curve points saved so far (empty when none)."""
    path = work_dir / CURVE_FILE
    if not path.is_file():
        return {}
    try:
        return {p.step: p for p in (CurvePoint.model_validate(x) for x in json.loads(path.read_text("utf-8")))}
    except (OSError, ValueError):
        return {}


def write_result(s: Session, final: Scored, result: Path) -> None:
    """Adapter (or full checkpoint), reports, predictions and curve, into ``result`` atomically."""
    from damoc.training.stage import save_result

    with stage_folder(result, "ground_truth", s.job.key, {"candidate": s.job.candidate}) as out:
        save_result(s.model, s.tokenizer, s.job.recipe, out / ADAPTER_DIR)
        rows = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in final.rows)
        write_text_atomic(out / PREDICTIONS_FILE, rows)
        write_json_atomic(out / CURVE_FILE, [p.model_dump(mode="json") for _, p in sorted(s.curve.items())])
        param = next(s.model.parameters())
        evaluation = EvalReport(
            metrics=final.metrics, num_examples=len(s.job.evals), task_type=s.job.scoring.task_type,
            seconds=final.seconds, device=str(param.device), adapter=s.job.recipe.method == "lora",
        )  # fmt: skip
        write_stage_report(out, evaluation)
        write_stage_report(out, train_report(s))


def train_report(s: Session) -> GroundTruthTrainReport:
    """The numbers of a finished fine-tune (its final curve point is the evaluation)."""
    from damoc.training.loop import causal_lm, count_params

    trainable, total = count_params(s.model)
    param = next(s.model.parameters())
    losses = s.state.losses
    final_step = s.plan.total
    return GroundTruthTrainReport(
        candidate=s.job.candidate, cache_key=s.job.key, method=s.job.recipe.method, epochs=s.job.gt.epochs,
        steps=s.plan.total, steps_per_epoch=s.plan.steps_per_epoch, train_examples=len(s.features),
        max_seq_len=s.job.recipe.max_seq_len, tokens_seen=s.state.tokens_seen, target_tokens=s.state.target_tokens,
        layers=int(causal_lm(s.model).config.num_hidden_layers), trainable_params=trainable, total_params=total,
        loss_first=losses[0], loss_last=losses[-1], losses=losses,
        seconds=round(s.load_seconds + s.state.train_seconds, 3), load_seconds=s.load_seconds,
        curve_seconds=round(sum(p.seconds for k, p in s.curve.items() if k != final_step), 3),
        resumed_from_step=s.resumed_from, checkpoints=s.state.checkpoints,
        device=str(param.device), dtype=str(param.dtype).removeprefix("torch."),
    )  # fmt: skip
