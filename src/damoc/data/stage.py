"""Stage 1: compress the training data with a configured sequence of filters and compressors."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Literal

from damoc.config import DataConfig, MethodSpec, SourceSpec, TaskConfig
from damoc.context import DEFAULT_CONTEXT, StageContext
from damoc.data.explain import cluster_count, dropped_samples, rewritten_samples
from damoc.data.tokens import TokenCounter, prompt_target_text
from damoc.errors import ConfigError, DataError
from damoc.progress import tick
from damoc.reports import CALIB_FILE, EVAL_FILE, TRAIN_FILE, DataReport, StepReport, write_stage_report
from damoc.tasks.load import Example, load_split, task_sources, write_examples
from damoc.tasks.prompts import PromptSpec

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 100_000
"""Longest question, context, choice or answer accepted (about 25k tokens, far past any max_seq_len).

Texts longer than ``max_seq_len`` tokens are truncated from the left when they are tokenised (the
end of the prompt, next to the answer, is kept). A text of megabytes would be cut the same way but
stalls every stage that tokenises it, and is almost always a broken file, so it is refused.
"""


def compress_dataset(
    task: TaskConfig,
    cfg: DataConfig,
    out_dir: Path,
    ctx: StageContext = DEFAULT_CONTEXT,
    tokens: TokenCounter | None = None,
) -> DataReport:
    """Load the task's splits, apply ``cfg.steps`` to the training set and write the results.

    Writes ``train.jsonl`` (compressed training set), ``eval.jsonl`` (normalised eval split, capped at
    ``task.max_eval_examples``), ``calib.jsonl`` (``cfg.calibration_samples`` seeded draws from the
    compressed set) and ``data.json`` (:class:`DataReport`) into ``out_dir``. The same seed gives the
    same ``.jsonl`` files byte for byte. With ``tokens`` the report counts tokens before and after
    every step too, with that tokenizer (the pipeline passes the first candidate's).

    Raises:
        DataError: a data file is malformed, or a step keeps no example (naming ``data.steps.N``).
        ConfigError: a step names an unknown method or bad params.
    """
    start = time.perf_counter()
    train_src, eval_src, fields, task_type = task_sources(task)
    train = load_split(train_src, fields, task_type, "train", fmt=task.format)
    evals = load_split(eval_src, fields, task_type, "eval", fmt=task.format)[: task.max_eval_examples]
    check_text_sizes(train, _where(train_src))
    check_text_sizes(evals, _where(eval_src))
    prompt = ctx.prompt if ctx.prompt is not None else PromptSpec.from_task(task)
    ctx = replace(ctx, prompt=prompt)
    seed, progress = ctx.seed, ctx.progress
    examples, steps = train, []
    for i, spec in enumerate(cfg.steps):
        examples, step = run_step(i, spec, examples, ctx, tokens)
        steps.append(step)
        tick(progress, "data steps", i + 1, len(cfg.steps))
    calib = draw_calibration(examples, cfg.calibration_samples, seed)
    chars_before = count_characters(train, prompt)
    tokens_before = tokens.count(train, prompt) if tokens else None
    write_examples(out_dir / TRAIN_FILE, examples)
    write_examples(out_dir / EVAL_FILE, evals)
    write_examples(out_dir / CALIB_FILE, calib)
    report = DataReport(
        task_type=task_type,
        seed=seed,
        train_examples_before=len(train),
        train_examples_after=len(examples),
        eval_examples=len(evals),
        calibration_examples=len(calib),
        characters_before=chars_before,
        characters_after=steps[-1].characters_after if steps else chars_before,  # the last step counted them
        tokenizer=tokens.name if tokens else None,
        tokens_before=tokens_before,
        tokens_after=steps[-1].tokens_after if steps else tokens_before,
        clusters_before=cluster_count(train),
        clusters_after=cluster_count(examples),
        steps=steps,
        seconds=round(time.perf_counter() - start, 3),
    )
    write_stage_report(out_dir, report)
    log.info("data: %d -> %d training examples in %.1f s", len(train), len(examples), report.seconds)
    return report


def check_text_sizes(examples: list[Example], where: str) -> None:
    """Refuse an example with a text longer than :data:`MAX_TEXT_CHARS`, naming its file, position and id."""
    for n, ex in enumerate(examples, start=1):
        texts = {"question": ex.question, "context": ex.context or "", "answer": str(ex.answer)}
        texts.update({f"choice {i}": c for i, c in enumerate(ex.choices or ())})
        part, size = max(((k, len(v)) for k, v in texts.items()), key=lambda kv: kv[1])
        if size > MAX_TEXT_CHARS:
            raise DataError(
                f"{where}: example {n} (id {ex.id!r}): {part} has {size:,} characters; at most "
                f"{MAX_TEXT_CHARS:,} are accepted (longer texts are cut to max_seq_len tokens anyway); "
                "shorten or drop it"
            )


def _where(source: SourceSpec) -> str:
    return str(source.path) if source.path is not None else f"{source.hf}[{source.split}]"


def run_step(
    index: int, spec: MethodSpec, examples: list[Example], ctx: StageContext, tokens: TokenCounter | None = None
) -> tuple[list[Example], StepReport]:
    """Build and run one filter or compressor; a step that leaves no example is a DataError."""
    from damoc.data.base import COMPRESSORS, FILTERS, Compressor, Filter, filter_record

    where = f"data.steps.{index}"
    kind = step_kind(spec.method, where)
    method: Filter | Compressor
    start = time.perf_counter()
    if kind == "filter":
        method = FILTERS.build(spec.method, spec.params, where=where)
        out = [examples[i] for i in _checked_indices(method.select(examples, ctx), len(examples), spec.method)]
    else:
        method = COMPRESSORS.build(spec.method, spec.params, where=where)
        out = list(method.compress(examples, ctx))
    if not out:
        raise DataError(
            f"{where} ({spec.method}): keeps 0 of {len(examples)} training examples; "
            "raise keep_ratio, loosen the step's params or give more training data"
        )
    seconds = round(time.perf_counter() - start, 3)
    log.info("%s (%s): %d -> %d examples in %.1f s", where, spec.method, len(examples), len(out), seconds)
    params = method.params.model_dump(mode="json")
    record = filter_record(method)  # a compressor may leave one too (rewrite: length ratios, rejections)
    scores = {ex.id: v for ex, v in zip(examples, record.scores, strict=True)} if record and record.scores else {}
    reasons = {examples[i].id: r for i, r in record.reasons.items()} if record else {}
    if kind == "filter":
        samples = dropped_samples(examples, out, scores, record.score_name if record else None, reasons, ctx.seed)
    else:
        samples = rewritten_samples(examples, out, ctx.prompt, ctx.seed, reasons)
    report = StepReport(
        method=spec.method,
        kind=kind,
        params=params,
        examples_before=len(examples),
        kept=len(out),
        characters_after=count_characters(out, ctx.prompt),
        tokens_after=tokens.count(out, ctx.prompt) if tokens else None,
        seconds=seconds,
        score_name=record.score_name if record else None,
        example_scores=scores,
        dropped=dict(record.dropped) if record else {},
        clusters_after=cluster_count(out),
        samples=samples,
    )
    return out, report


def step_kind(method: str, where: str) -> Literal["filter", "compressor"]:
    """Whether ``method`` is a registered filter or compressor (filters win a name clash)."""
    from damoc.registry import registry

    if method in registry("filter").names():
        return "filter"
    if method in registry("compressor").names():
        return "compressor"
    allowed = registry("filter").names() + registry("compressor").names()
    raise ConfigError(f"{where}.method: unknown method {method!r}; available: {', '.join(allowed)}")


def _checked_indices(indices: list[int], num_examples: int, method: str) -> list[int]:
    bad = [i for i in indices if not 0 <= i < num_examples]
    if bad:
        raise ValueError(f"filter {method!r} returned indices out of range 0..{num_examples - 1}: {bad[:5]}")
    return sorted(set(indices))  # the original order of the data is kept


def draw_calibration(examples: list[Example], num_samples: int, seed: int) -> list[Example]:
    """A seeded sample of ``num_samples`` examples (all of them when fewer), in data order."""
    if num_samples >= len(examples):
        if num_samples > len(examples):
            log.info("data: calibration_samples=%d > %d training examples; using all", num_samples, len(examples))
        return list(examples)
    return [examples[i] for i in sorted(random.Random(seed).sample(range(len(examples)), num_samples))]


def count_characters(examples: list[Example], prompt: PromptSpec | None = None) -> int:
    """Characters of prompt plus target text (no chat template), summed: what token compression reduces."""
    return sum(len(prompt_target_text(ex, prompt)) for ex in examples)
