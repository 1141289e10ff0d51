"""Stage 2: build a candidate's proxy model (score layers, merge, remove, save a normal checkpoint)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from damoc.config import CandidateSpec, ModelConfig
from damoc.context import DEFAULT_CONTEXT, StageContext
from damoc.errors import DataError
from damoc.progress import ProgressFn, tick
from damoc.reports import ProxyReport, read_stage_report, write_stage_report

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel
    from damoc.tasks.example import Example
    from damoc.tasks.prompts import PromptSpec

log = logging.getLogger(__name__)


def calibration_examples(calib_file: Path) -> list[Example]:
    """The calibration examples; a missing or empty file is a DataError."""
    from damoc.tasks.load import read_examples

    if not calib_file.is_file():
        raise DataError(f"calibration file not found: {calib_file}")
    examples = read_examples(calib_file)
    if not examples:
        raise DataError(f"{calib_file}: no calibration examples")
    return examples


def render_calibration(examples: list[Example], prompt: PromptSpec | None, tokenizer: Any) -> list[str]:
    """Prompt + target text of each example, rendered as training renders it."""
    from damoc.tasks.prompts import render_prompt, target_text

    return [render_prompt(ex, prompt, tokenizer) + target_text(ex, prompt, tokenizer) for ex in examples]


def truncate_left(ids: list[int], prefix: list[int], max_seq_len: int) -> list[int]:
    """``prefix + ids`` in at most ``max_seq_len`` tokens: ``ids`` lose tokens from the left, the prefix stays."""
    head = prefix[:max_seq_len]
    room = max_seq_len - len(head)
    return head + (ids[-room:] if room > 0 else [])


def tokenize_batches(
    tokenizer: Any, texts: list[str], max_seq_len: int, batch_size: int, device: Any
) -> list[dict[str, Any]]:
    """Right-padded batches of ``input_ids`` and ``attention_mask`` on ``device``, cut as training cuts.

    A text longer than ``max_seq_len`` tokens loses tokens from its left (the tokenizer's special
    prefix, e.g. a BOS, stays), like a training prompt: on a passage task the question and answer
    at the end are what fine-tuning sees, so calibration must see them too.
    """
    import torch

    from damoc.tasks.tokens import special_prefix

    prefix = special_prefix(tokenizer)
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    seqs = [truncate_left(list(ids), prefix, max_seq_len) for ids in encoded]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batches = []
    for i in range(0, len(seqs), batch_size):
        chunk = seqs[i : i + batch_size]
        ids = torch.full((len(chunk), max(1, *map(len, chunk))), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, seq in enumerate(chunk):
            ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        batches.append({"input_ids": ids.to(device), "attention_mask": mask.to(device)})
    return batches


def build_proxy(
    candidate: CandidateSpec,
    calib_file: Path,
    cfg: ModelConfig,
    out_dir: Path,
    ctx: StageContext = DEFAULT_CONTEXT,
) -> ProxyReport:
    """Compress one candidate into its proxy: score layers, merge, remove, save.

    Args:
        candidate: the candidate to compress (resolved, and converted if bundled or GGUF).
        calib_file: JSONL of normalised examples (``damoc.tasks.load.write_examples``) used to score layers.
        cfg: scorer, remove_ratio, merger, max_seq_len and batch_size.
        out_dir: existing folder that receives the checkpoint, tokenizer and ``layers.json``.
        ctx: seed (torch and the merger), device, dtype, cache folder, progress (while layers are
            scored) and the prompt settings, so calibration sees the prompts fine-tuning will.

    Returns:
        The :class:`ProxyReport` (also written to ``out_dir/layers.json``).

    Raises:
        ConfigError: unknown scorer or merger, or bad params.
        ModelError: unsupported architecture, a ratio that leaves no layer, or a model that fails to load.
        DataError: missing or empty calibration file.
    """
    from damoc.candidates.resolve import resolve_candidate
    from damoc.model.base import MERGERS, SCORERS
    from damoc.model.tolerance import answer_batches
    from damoc.preflight import check_candidate_config

    seed, progress = ctx.seed, ctx.progress
    start = time.time()
    scorer = SCORERS.build(cfg.scorer.method, cfg.scorer.params, where="model.scorer")
    merger = MERGERS.build(cfg.merger.method, cfg.merger.params, where="model.merger")
    examples = calibration_examples(calib_file)  # before the slow model load
    resolved = resolve_candidate(candidate, ctx.cache_dir, progress)
    # a bad candidate fails before torch and weights load
    check_candidate_config(resolved, cfg.remove_ratio, cfg.remove_layers)
    import torch

    torch.manual_seed(seed)
    quantize = "4bit" if cfg.score_in_4bit else None
    model, tokenizer = _load_candidate(resolved, ctx.device, ctx.dtype, quantize)
    texts = render_calibration(examples, ctx.prompt, tokenizer)
    # the prompt-masked examples: the tolerance's loss and the task-aware scorers read them
    device = next(model.parameters()).device
    loss_batches = answer_batches(tokenizer, examples, cfg.max_seq_len, cfg.batch_size, ctx.prompt, device)
    scored = _score(model, tokenizer, texts, cfg, scorer, progress, loss_batches)
    if quantize is not None:  # scored on the 4-bit copy: cut and merge the full weights
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        model, tokenizer = _load_candidate(resolved, ctx.device, ctx.dtype)
    facts = _cut(model, scored, merger, seed)
    tick(progress, "saving proxy", 0, 1)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    report = ProxyReport(
        candidate=candidate.name,
        scorer=cfg.scorer,
        merger=cfg.merger,
        remove_ratio=cfg.remove_ratio,
        max_loss_increase=cfg.max_loss_increase,
        calibration_examples=len(texts),
        seed=seed,
        device=str(next(model.parameters()).device),
        seconds=round(time.time() - start, 3),
        **facts,
    )
    write_stage_report(out_dir, report)
    tick(progress, "saving proxy", 1, 1)
    log.info("%s: removed layers %s of %d", candidate.name, report.removed, report.layers_before)
    return report


def _load_candidate(resolved: ResolvedModel, device: str, dtype: str, quantize: str | None = None) -> tuple[Any, Any]:
    from damoc.candidates.resolve import load_model
    from damoc.model.layers import architecture

    model, tokenizer = load_model(resolved, device, dtype=dtype, quantize=quantize)  # type: ignore[arg-type]
    architecture(model)  # unsupported families fail before any scoring work
    return model, tokenizer


def _score(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    cfg: ModelConfig,
    scorer: Any,
    progress: ProgressFn | None,
    loss_batches: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Score the layers and choose the removal (per candidate when ``max_loss_increase`` is set)."""
    from damoc.model.layers import decoder_layers, num_layers_to_remove

    num_remove = num_layers_to_remove(len(decoder_layers(model)), cfg.remove_ratio, cfg.remove_layers)
    device = next(model.parameters()).device
    batches = tokenize_batches(tokenizer, texts, cfg.max_seq_len, cfg.batch_size, device)
    losses: dict[int, float] = {}
    if loss_batches is None or cfg.max_loss_increase is None:
        result = scorer.score(model, batches, num_remove, progress, loss_batches)
    else:
        from damoc.model.tolerance import choose_depth

        result, losses = choose_depth(model, batches, loss_batches, scorer, num_remove, cfg.max_loss_increase, progress)
    return {"result": result, "losses": losses}


def _cut(model: Any, scored: dict[str, Any], merger: Any, seed: int) -> dict[str, Any]:
    """Merge the chosen layers into their kept neighbours, remove them, and describe the result."""
    from damoc.candidates.resolve import count_parameters
    from damoc.model.layers import decoder_layers, remove_layers

    result = scored["result"]
    layers_before = len(decoder_layers(model))
    params_before = count_parameters(model)
    merged = merger.merge(decoder_layers(model), result.removed, seed)
    remove_layers(model, result.removed)
    return {
        "model_type": model.config.model_type,
        "layers_before": layers_before,
        "layers_after": len(decoder_layers(model)),
        "removed": result.removed,
        "scores": result.scores,
        "merged_into": merged,
        "params_before": params_before,
        "params_after": count_parameters(model),
        "calibration_tokens": result.tokens,
        "calibration_losses": scored["losses"],
    }


def read_report(out_dir: Path) -> ProxyReport:
    """Read the ``layers.json`` written by :func:`build_proxy`."""
    return read_stage_report(out_dir, ProxyReport)
