"""Stage 3: fine-tune one proxy model (LoRA or full) on the compressed training data.

:func:`train_proxy` reads the examples, tokenises them with the prompt masked, runs a plain seeded
AdamW loop (linear schedule with warmup, gradient accumulation, gradient clipping at 1.0) and
writes the adapter (or full checkpoint) plus ``train.json`` into ``out_dir``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.config import TrainingConfig
from damoc.context import DEFAULT_CONTEXT, StageContext
from damoc.errors import DataError
from damoc.progress import ProgressFn, tick
from damoc.reports import TrainReport, write_stage_report
from damoc.tasks.load import read_examples
from damoc.tasks.tokens import special_prefix
from damoc.training.base import IGNORE_INDEX, Feature
from damoc.training.features import collate, encode_example, plan_steps
from damoc.training.loop import build_optimizer, count_params, step_metrics, target_loss, wrap_model

if TYPE_CHECKING:
    import torch

    from damoc.candidates.resolve import ResolvedModel
    from damoc.tracking.base import MetricsFn

log = logging.getLogger(__name__)

GRAD_CLIP_NORM = 1.0


def train_proxy(
    model_dir: Path | ResolvedModel,
    train_file: Path,
    cfg: TrainingConfig,
    out_dir: Path,
    ctx: StageContext = DEFAULT_CONTEXT,
) -> TrainReport:
    """Fine-tune the checkpoint in ``model_dir`` on ``train_file`` and save the result in ``out_dir``.

    Args:
        model_dir: a proxy (or any) causal-LM checkpoint folder with safetensors weights, or a resolved
            candidate (the uncompressed model, for the subset_tuning baseline).
        train_file: normalised examples (JSONL from :func:`damoc.tasks.load.write_examples`).
        cfg: the training section of the run config.
        out_dir: existing folder; receives the LoRA adapter (or full checkpoint + tokenizer) and
            ``train.json``.
        ctx: seed (adapter initialisation, dropout, data order), device and dtype (bf16 on CUDA, fp32
            on CPU by default), progress (once per optimizer step), the prompt settings (the same as
            evaluation's) and the trackers (``train/loss`` and ``train/learning_rate`` every step).

    Returns:
        The :class:`TrainReport` also written to ``out_dir / "train.json"``.

    Raises:
        DataError: when the training file holds no examples.
    """
    import torch

    from damoc.candidates.resolve import load_model

    seed, prompt = ctx.seed, ctx.prompt
    start = time.perf_counter()
    torch.manual_seed(seed)
    examples = read_examples(train_file)
    if not examples:
        raise DataError(f"{train_file}: no training examples")
    model, tokenizer = load_model(
        model_dir if not isinstance(model_dir, str) else Path(model_dir), ctx.device, for_training=True, dtype=ctx.dtype
    )
    prefix = special_prefix(tokenizer)
    features = [encode_example(tokenizer, ex, cfg.max_seq_len, prefix, prompt) for ex in examples]
    model = wrap_model(model, cfg)
    model.train()
    plan = plan_steps(len(features), cfg, torch.Generator().manual_seed(seed))
    stats = run_steps(model, features, plan, cfg, tokenizer.pad_token_id, ctx.progress, ctx.track)
    save_result(model, tokenizer, cfg, out_dir)
    trainable, total = count_params(model)
    report = make_report(cfg, plan, stats, trainable, total, time.perf_counter() - start, model)
    write_stage_report(out_dir, report)
    log.info("trained %s: %d steps, loss %.4f -> %.4f", model_dir, report.steps, report.loss_first, report.loss_last)
    return report


def run_steps(
    model: Any,
    features: list[Feature],
    plan: list[list[list[int]]],
    cfg: TrainingConfig,
    pad_id: int,
    progress: ProgressFn | None,
    track: MetricsFn | None = None,
) -> dict[str, Any]:
    """Run every optimizer step of ``plan``; returns per-step losses and token counts.

    ``track`` receives each step's loss (as ``train.json`` records it) and the learning rate it applied.
    """
    import torch

    optimizer, scheduler = build_optimizer(model, cfg, len(plan))
    trainable = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    losses: list[float] = []
    tokens = targets = 0
    start = time.perf_counter()
    for step, micro_batches in enumerate(plan, start=1):
        batches = [collate([features[i] for i in idx], pad_id) for idx in micro_batches]
        step_targets = sum(int((b["labels"] != IGNORE_INDEX).sum()) for b in batches)
        losses.append(accumulate(model, batches, step_targets, device))
        torch.nn.utils.clip_grad_norm_(trainable, GRAD_CLIP_NORM)
        optimizer.step()
        if track is not None:
            track(step_metrics(losses[-1], optimizer), step)
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += sum(int(b["attention_mask"].sum()) for b in batches)
        targets += step_targets
        tick(progress, "train", step, len(plan))
    seconds = time.perf_counter() - start
    return {"losses": losses, "tokens_seen": tokens, "target_tokens": targets, "loop_seconds": seconds}


def accumulate(model: Any, batches: list[dict[str, torch.Tensor]], num_targets: int, device: torch.device) -> float:
    """Backward over the micro-batches of one step; the loss is the mean over all its target tokens."""
    total = 0.0
    for batch in batches:
        loss = target_loss(model, {k: v.to(device) for k, v in batch.items()}) / max(num_targets, 1)
        loss.backward()
        total += float(loss.detach())
    return total


def save_result(model: Any, tokenizer: Any, cfg: TrainingConfig, out_dir: Path) -> None:
    """LoRA: the adapter (PEFT files). Full: the whole checkpoint (safetensors) and the tokenizer."""
    model.save_pretrained(out_dir, safe_serialization=True)
    if cfg.method == "full":
        tokenizer.save_pretrained(out_dir)


def make_report(
    cfg: TrainingConfig,
    plan: list[list[list[int]]],
    stats: dict[str, Any],
    trainable: int,
    total: int,
    seconds: float,
    model: Any,
) -> TrainReport:
    """Collect the numbers of a finished run into a :class:`TrainReport`."""
    param = next(model.parameters())
    losses = [round(x, 6) for x in stats["losses"]]
    return TrainReport(
        method=cfg.method,
        steps=len(plan),
        examples_used=len({i for step in plan for mb in step for i in mb}),
        tokens_seen=stats["tokens_seen"],
        target_tokens=stats["target_tokens"],
        trainable_params=trainable,
        total_params=total,
        loss_first=losses[0],
        loss_last=losses[-1],
        losses=losses,
        seconds=round(seconds, 3),
        seconds_per_step=round(stats["loop_seconds"] / max(1, len(plan)), 4),
        device=str(param.device),
        dtype=str(param.dtype).removeprefix("torch."),
    )
