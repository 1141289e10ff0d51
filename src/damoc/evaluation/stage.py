"""Stage 4: score a (fine-tuned) proxy on the eval split and write its metrics.

:func:`evaluate` checks the metrics against the task type before loading anything, loads the model
with its LoRA adapter merged (or a fully fine-tuned checkpoint), scores multiple-choice examples by
continuation log-likelihood or generates QA answers greedily, and writes ``predictions.jsonl`` and
``eval.json`` into ``out_dir``.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from damoc.artifacts import write_text_atomic
from damoc.config import EvaluationConfig
from damoc.context import DEFAULT_CONTEXT, StageContext
from damoc.errors import DataError, ModelError
from damoc.reports import PREDICTIONS_FILE, EvalReport, write_stage_report

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel
from damoc.evaluation.metrics import build_metrics
from damoc.progress import ProgressFn
from damoc.tasks.load import Example, read_examples
from damoc.tasks.prompts import PromptSpec

log = logging.getLogger(__name__)


def evaluate(
    model_dir: Path | ResolvedModel,
    eval_file: Path,
    task_type: Literal["multiple_choice", "qa"],
    cfg: EvaluationConfig,
    metrics: list[str],
    out_dir: Path,
    ctx: StageContext = DEFAULT_CONTEXT,
    *,
    adapter_dir: Path | None = None,
) -> EvalReport:
    """Evaluate the model in ``model_dir`` (plus an optional adapter) on ``eval_file``.

    Args:
        model_dir: checkpoint folder (a proxy), or a resolved candidate (the original model, for the zero-shot baseline).
        eval_file: normalised examples (JSONL from :func:`damoc.tasks.load.write_examples`).
        task_type: ``multiple_choice`` (log-likelihood of each choice) or ``qa`` (greedy generation).
        cfg: the evaluation section of the run config (batch size, lengths, and the backend: damoc's
            scorer or lm-evaluation-harness, :mod:`damoc.evaluation.harness`; the same rows either way).
        metrics: registered metric names; each must fit ``task_type``.
        out_dir: existing folder; receives ``predictions.jsonl`` and ``eval.json``.
        ctx: device and dtype, progress (once per batch) and the prompt settings, the same as training's.
        adapter_dir: output of :func:`damoc.training.train_proxy`: a LoRA adapter (merged into the
            model) or a fully fine-tuned checkpoint (loaded instead of ``model_dir``).

    Returns:
        The :class:`EvalReport` also written to ``out_dir / "eval.json"``.

    Raises:
        ConfigError: unknown metric, or one that does not fit the task type; the lm_eval backend without lm-eval.
        DataError: no examples, or multiple-choice examples without choices.
        ModelError: ``adapter_dir`` holds neither an adapter nor a checkpoint.
    """
    start = time.perf_counter()
    scorers = build_metrics(metrics, task_type)
    examples = read_examples(eval_file)
    check_examples(examples, task_type, eval_file)
    if cfg.backend == "lm_eval":
        from damoc.evaluation.harness import predict_with_lm_eval, require_lm_eval

        require_lm_eval()
    model, tokenizer = load_for_eval(model_dir, adapter_dir, ctx.device, ctx.dtype)
    if cfg.backend == "lm_eval":
        rows = predict_with_lm_eval(examples, task_type, model, tokenizer, cfg, out_dir, ctx.progress, ctx.prompt)
    else:
        rows = predict(examples, task_type, model, tokenizer, cfg, ctx.progress, ctx.prompt)
    values = {m.name: float(m.compute(rows)) for m in scorers}
    write_text_atomic(out_dir / PREDICTIONS_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report = EvalReport(
        metrics=values,
        num_examples=len(examples),
        task_type=task_type,
        seconds=round(time.perf_counter() - start, 3),
        device=str(next(model.parameters()).device),
        adapter=adapter_dir is not None,
        backend=cfg.backend,
    )
    write_stage_report(out_dir, report)
    log.info("evaluated %s on %d examples: %s", model_dir, len(examples), values)
    return report


def check_examples(examples: list[Example], task_type: str, eval_file: Path) -> None:
    """Fail before loading a model when the eval data cannot be scored as ``task_type``."""
    if not examples:
        raise DataError(f"{eval_file}: no evaluation examples")
    if task_type == "multiple_choice":
        bad = next((ex for ex in examples if ex.choices is None or not isinstance(ex.answer, int)), None)
        if bad is not None:
            raise DataError(
                f"{eval_file}: example {bad.id} has no choices or no answer index; not multiple_choice data"
            )


def predict(
    examples: list[Example], task_type: str, model: Any, tokenizer: Any, cfg: EvaluationConfig,
    progress: ProgressFn | None, prompt: PromptSpec | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Per-example prediction rows for the task type (see :mod:`damoc.evaluation.metrics.base`)."""
    if task_type == "multiple_choice":
        from damoc.evaluation.loglik import score_multiple_choice

        return score_multiple_choice(examples, model, tokenizer, cfg.max_seq_len, cfg.batch_size, progress, prompt)
    from damoc.evaluation.generate import generate_answers

    return generate_answers(
        examples, model, tokenizer, cfg.max_seq_len, cfg.max_new_tokens, cfg.batch_size, progress, prompt
    )


def load_for_eval(
    model_dir: Path | ResolvedModel, adapter_dir: Path | None, device: str, dtype: str = "auto"
) -> tuple[Any, Any]:
    """The model in eval mode with the adapter merged in, or the full checkpoint in ``adapter_dir``."""
    from damoc.candidates.resolve import load_model

    if adapter_dir is None:
        return load_model(model_dir, device, dtype=dtype)
    adapter_dir = Path(adapter_dir)
    if (adapter_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        model, tokenizer = load_model(model_dir, device, dtype=dtype)
        # merging folds the low-rank update into the weights: scoring then costs what the base model costs
        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
        model.eval()
        return model, tokenizer
    if (adapter_dir / "config.json").is_file():
        return load_model(adapter_dir, device, dtype=dtype)
    raise ModelError(
        f"{adapter_dir}: holds neither a LoRA adapter (adapter_config.json) nor a checkpoint (config.json)"
    )
