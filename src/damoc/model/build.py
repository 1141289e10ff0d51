"""Stage 2: build a candidate's proxy model (score layers, merge, remove, save a normal checkpoint)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from damoc.config import CandidateSpec, MethodSpec, ModelConfig
from damoc.errors import DataError
from damoc.progress import ProgressFn, tick

log = logging.getLogger(__name__)

REPORT_FILE = "layers.json"


class ProxyReport(BaseModel):
    """What stage 2 did to one candidate; written as ``layers.json`` next to the proxy checkpoint."""

    model_config = ConfigDict(frozen=True)

    candidate: str
    model_type: str
    layers_before: int
    layers_after: int
    removed: list[int]
    scores: list[float]
    merged_into: dict[int, list[int]]
    params_before: int
    params_after: int
    scorer: MethodSpec
    merger: MethodSpec
    remove_ratio: float
    calibration_examples: int
    calibration_tokens: int
    seed: int
    device: str
    seconds: float


def calibration_texts(calib_file: Path) -> list[str]:
    """Prompt + target text of every calibration example (what fine-tuning will show the model)."""
    from damoc.tasks import build_prompt, read_examples, target_text

    if not calib_file.is_file():
        raise DataError(f"calibration file not found: {calib_file}")
    texts = [build_prompt(ex) + target_text(ex) for ex in read_examples(calib_file)]
    if not texts:
        raise DataError(f"{calib_file}: no calibration examples")
    return texts


def tokenize_batches(
    tokenizer: Any, texts: list[str], max_seq_len: int, batch_size: int, device: Any
) -> list[dict[str, Any]]:
    """Right-padded, truncated batches of ``input_ids`` and ``attention_mask`` on ``device``."""
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"
    try:
        batches = []
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[i : i + batch_size], padding=True, truncation=True, max_length=max_seq_len, return_tensors="pt"
            )
            batches.append(
                {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device)}
            )
    finally:
        tokenizer.padding_side = side
    return batches


def build_proxy(
    candidate: CandidateSpec,
    calib_file: Path,
    cfg: ModelConfig,
    out_dir: Path,
    *,
    seed: int = 0,
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> ProxyReport:
    """Compress one candidate into its proxy: score layers, merge, remove, save.

    Args:
        candidate: the candidate to compress (resolved, and converted if bundled or GGUF).
        calib_file: JSONL of normalised examples (``damoc.tasks.write_examples``) used to score layers.
        cfg: scorer, remove_ratio, merger, max_seq_len and batch_size.
        out_dir: existing folder that receives the checkpoint, tokenizer and ``layers.json``.
        seed: seeds torch and the merger.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: converted bundled models; default ``$DAMOC_CACHE`` or ``~/.cache/damoc``.
        progress: called as ``progress(description, done, total)`` while layers are scored.

    Returns:
        The :class:`ProxyReport` (also written to ``out_dir/layers.json``).

    Raises:
        ConfigError: unknown scorer or merger, or bad params.
        ModelError: unsupported architecture, a ratio that leaves no layer, or a model that fails to load.
        DataError: missing or empty calibration file.
    """
    import torch

    from damoc.registry import registry

    start = time.time()
    torch.manual_seed(seed)
    scorer = registry("scorer").build(cfg.scorer.method, cfg.scorer.params, where="model.scorer")
    merger = registry("merger").build(cfg.merger.method, cfg.merger.params, where="model.merger")
    texts = calibration_texts(calib_file)
    model, tokenizer = _load_candidate(candidate, device, cache_dir, progress)
    facts = _compress(model, tokenizer, texts, cfg, scorer, merger, seed, progress)
    tick(progress, "saving proxy", 0, 1)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    report = ProxyReport(
        candidate=candidate.name,
        scorer=cfg.scorer,
        merger=cfg.merger,
        remove_ratio=cfg.remove_ratio,
        calibration_examples=len(texts),
        seed=seed,
        device=str(next(model.parameters()).device),
        seconds=round(time.time() - start, 3),
        **facts,
    )
    write_report(report, out_dir)
    tick(progress, "saving proxy", 1, 1)
    log.info("%s: removed layers %s of %d", candidate.name, report.removed, report.layers_before)
    return report


def _load_candidate(
    candidate: CandidateSpec, device: str, cache_dir: Path | None, progress: ProgressFn | None
) -> tuple[Any, Any]:
    from damoc.model.layers import architecture
    from damoc.models import load_model, resolve_candidate

    model, tokenizer = load_model(resolve_candidate(candidate, cache_dir, progress), device)
    architecture(model)  # unsupported families fail before any scoring work
    return model, tokenizer


def _compress(
    model: Any,
    tokenizer: Any,
    texts: list[str],
    cfg: ModelConfig,
    scorer: Any,
    merger: Any,
    seed: int,
    progress: ProgressFn | None,
) -> dict[str, Any]:
    from damoc.model.layers import decoder_layers, num_layers_to_remove, remove_layers
    from damoc.models import count_parameters

    layers_before = len(decoder_layers(model))
    num_remove = num_layers_to_remove(layers_before, cfg.remove_ratio)
    params_before = count_parameters(model)
    device = next(model.parameters()).device
    batches = tokenize_batches(tokenizer, texts, cfg.max_seq_len, cfg.batch_size, device)
    result = scorer.score(model, batches, num_remove, progress)
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
    }


def write_report(report: ProxyReport, out_dir: Path) -> Path:
    """Write ``layers.json`` atomically and return its path."""
    from damoc.artifacts import write_json_atomic

    path = out_dir / REPORT_FILE
    write_json_atomic(path, report.model_dump(mode="json"))
    return path


def read_report(out_dir: Path) -> ProxyReport:
    """Read the ``layers.json`` written by :func:`build_proxy`."""
    return ProxyReport.model_validate_json((out_dir / REPORT_FILE).read_text(encoding="utf-8"))
