"""The ``subset_tuning`` baseline's training: the uncompressed candidate, LoRA-tuned on a random subset.

AtS (Lin et al., ICML 2024) calls this SubTuning: fine-tune each full candidate on a small random
subset and rank by the result. damoc gives it the same training compute as the candidate's proxy,
measured as training tokens x decoder layers: the proxy trains ``S`` steps on ``L_after`` layers,
so the full model (``L_before`` layers) gets ``round(S * L_after / L_before)`` steps of the same
batch shape on ``steps * batch_size * gradient_accumulation_steps`` examples drawn at random (seeded)
from the whole training split. Both sides' actual tokens are recorded, so the match can be checked.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING

from damoc.config import CandidateSpec, TaskConfig, TrainingConfig
from damoc.context import StageContext
from damoc.reports import ProxyReport, TrainReport
from damoc.tasks.example import Example

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel

log = logging.getLogger(__name__)

SUBSET_FILE, ADAPTER_DIR = "train_subset.jsonl", "adapter"


def matched_steps(proxy: ProxyReport, proxy_train: TrainReport) -> int:
    """Steps on the full model that cost what the proxy's training cost (tokens x layers), at least 1."""
    return max(1, round(proxy_train.steps * proxy.layers_after / proxy.layers_before))


def draw_subset(examples: list[Example], num_examples: int, seed: int) -> list[Example]:
    """``num_examples`` examples drawn without replacement (all when fewer), kept in data order."""
    if num_examples >= len(examples):
        return list(examples)
    return [examples[i] for i in sorted(random.Random(seed).sample(range(len(examples)), num_examples))]


def tune_on_subset(
    candidate: CandidateSpec, task: TaskConfig, cfg: TrainingConfig, steps: int, out_dir: Path, ctx: StageContext
) -> TrainReport:
    """Train the uncompressed ``candidate`` for ``steps`` on a random subset of the task's training split.

    Writes ``train_subset.jsonl`` into ``out_dir`` and the adapter plus ``train.json`` into ``out_dir/adapter``.
    """
    from damoc.candidates.resolve import resolve_candidate

    resolved = resolve_candidate(candidate, ctx.cache_dir, ctx.progress)
    num_examples = steps * cfg.batch_size * cfg.gradient_accumulation_steps
    return tune_model_on_subset(resolved, candidate.name, task, cfg, steps, num_examples, out_dir, ctx)


def tune_model_on_subset(
    model: ResolvedModel | Path,
    name: str,
    task: TaskConfig,
    cfg: TrainingConfig,
    steps: int,
    num_examples: int,
    out_dir: Path,
    ctx: StageContext,
) -> TrainReport:
    """Train ``model`` (a candidate or a proxy folder) for ``steps`` on ``num_examples`` random training examples.

    The examples are drawn (seeded) from the task's whole training split and written to
    ``out_dir/train_subset.jsonl``; the adapter and ``train.json`` go to ``out_dir/adapter``.
    """
    from damoc.tasks.load import load_split, task_sources, write_examples
    from damoc.training.stage import train_proxy

    train_src, _, fields, task_type = task_sources(task)
    examples = load_split(train_src, fields, task_type, "train", fmt=task.format)
    subset = draw_subset(examples, num_examples, ctx.seed)
    write_examples(out_dir / SUBSET_FILE, subset)
    log.info("%s: %d random examples of %d, %d steps", name, len(subset), len(examples), steps)
    tuned = cfg.model_copy(update={"max_steps": steps})
    (out_dir / ADAPTER_DIR).mkdir(exist_ok=True)
    return train_proxy(model, out_dir / SUBSET_FILE, tuned, out_dir / ADAPTER_DIR, ctx)
