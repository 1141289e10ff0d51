"""Content-addressed cache of finished ground truths: ``<cache_dir>/ground_truth/<key>/``.

The key hashes what decides the result and nothing else: the candidate's weights (not its name or
path), the training and eval examples (their content, not their file), the recipe with its resolved
``max_seq_len``, the prompt settings, the evaluation settings and the seed. Another config, the
benchmark and a rerun with the same inputs therefore find and reuse the same entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from damoc.candidates.resolve import ResolvedModel
from damoc.config import EvaluationConfig, TrainingConfig, section_hash
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec

CACHE_FOLDER = "ground_truth"
BLOCK = 1 << 20  # stream weights in 1 MiB blocks: a 1 GB checkpoint never sits in memory


def cache_root(cache_dir: Path | None) -> Path:
    """``<cache_dir>/ground_truth`` (``cache_dir`` None: ``$DAMOC_CACHE`` or ``~/.cache/damoc``)."""
    from damoc.candidates.bundled import default_cache_dir

    return (cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_FOLDER


def sha256_files(paths: list[Path], root: Path) -> str:
    """One sha256 over the files' names (relative to ``root``) and contents, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        with open(path, "rb") as fh:
            while block := fh.read(BLOCK):
                digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(model: ResolvedModel, alias: str | None = None) -> str:
    """What identifies a candidate's weights.

    A bundled alias: its catalogue sha256. A local folder (or a converted GGUF): sha256 of its
    ``*.safetensors`` and ``config.json``. A hub id: the id and revision.
    """
    if alias is not None:
        from damoc.candidates.bundled import bundled_models

        return f"bundled:{alias}:{bundled_models()[alias]['sha256']}"
    if isinstance(model.source, Path):
        folder = model.source
        files = [*folder.glob("*.safetensors"), folder / "config.json"]
        return f"files:{sha256_files([p for p in files if p.is_file()], folder)}"
    return f"hub:{model.source}@{model.revision or 'main'}"


def examples_hash(examples: list[Example]) -> str:
    """sha256 of the normalised examples (ids, questions, choices, answers, contexts), in order."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps(ex.to_json(), sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


RESULTS_VERSION = 1
"""Bumped whenever damoc's training or scoring code changes what a ground truth computes (e.g. the
prompt/answer token split or a metric's definition), so a cached result from older code is never
reused as if it were current."""


def ground_truth_key(
    weights: str,
    train: list[Example],
    evals: list[Example],
    recipe: TrainingConfig,
    prompt: PromptSpec | None,
    evaluation: dict[str, Any],
    seed: int,
) -> str:
    """The cache key of one ground truth (16 hex digits).

    Args:
        weights: :func:`weights_fingerprint` of the candidate.
        train: the whole training split.
        evals: the eval examples scored.
        recipe: the training config, ``max_seq_len`` resolved.
        prompt: the prompt settings (None: the default plain template).
        evaluation: what shapes the scores: task type, metrics, eval lengths, weights dtype.
        seed: the run seed (adapter init, dropout, batch order).
    """
    spec = prompt or PromptSpec()
    return section_hash(
        "ground_truth",
        RESULTS_VERSION,
        weights,
        examples_hash(train),
        examples_hash(evals),
        recipe,
        {"template": spec.template, "use_chat_template": spec.use_chat_template},
        evaluation,
        seed,
    )


def evaluation_settings(task_type: str, metrics: list[str], cfg: EvaluationConfig, dtype: str) -> dict[str, Any]:
    """The evaluation inputs that change scores (batch size does not)."""
    return {
        "task_type": task_type,
        "metrics": sorted(metrics),
        "max_seq_len": cfg.max_seq_len,
        "max_new_tokens": cfg.max_new_tokens,
        "dtype": dtype,
    }
