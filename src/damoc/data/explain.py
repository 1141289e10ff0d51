"""What a data step did, in terms a reader can check: clusters kept, and a sample of what it dropped or rewrote.

Written into each step's record in ``data/data.json`` and shown in the report's data section.
"""

from __future__ import annotations

import random
from typing import Any

from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt

SAMPLE_SIZE = 3
EXCERPT_CHARS = 160


def cluster_count(examples: list[Example]) -> int:
    """Distinct question clusters: examples sharing a context (a passage) or, without one, a question."""
    return len({ex.context or ex.question for ex in examples})


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def dropped_samples(
    before: list[Example],
    after: list[Example],
    scores: dict[str, float | None],
    score_name: str | None,
    reasons: dict[str, str],
    seed: int,
) -> list[dict[str, Any]]:
    """Up to :data:`SAMPLE_SIZE` dropped examples (seeded), each with why.

    Why is the reason the filter named for it (a rule, ``duplicate``), else its score against the
    range of the kept examples' scores, else that the filter records nothing per example.
    """
    kept = {ex.id for ex in after}
    dropped = [ex for ex in before if ex.id not in kept]
    kept_scores = [v for k, v in scores.items() if k in kept and v is not None]
    out = []
    for ex in _seeded_sample(dropped, seed):
        why = reasons.get(ex.id) or _why(scores.get(ex.id), score_name, kept_scores)
        out.append({"id": ex.id, "question": excerpt(ex.question), "why": why})
    return out


def _seeded_sample(items: list[Any], seed: int) -> list[Any]:
    """Up to :data:`SAMPLE_SIZE` of ``items`` drawn with ``seed``, in their original order."""
    pick = random.Random(seed).sample(range(len(items)), min(SAMPLE_SIZE, len(items)))
    return [items[i] for i in sorted(pick)]


def _why(score: float | None, score_name: str | None, kept_scores: list[float]) -> str:
    if not score_name:
        return "dropped by the step (it records no per-example score)"
    if score is None:
        return f"not scored ({score_name}): outside the scored sample"
    if kept_scores:
        return f"{score_name} {score:.4g}; kept examples span {min(kept_scores):.4g} to {max(kept_scores):.4g}"
    return f"{score_name} {score:.4g}"


def rewritten_samples(
    before: list[Example],
    after: list[Example],
    prompt: PromptSpec | None,
    seed: int,
    reasons: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Up to :data:`SAMPLE_SIZE` examples the step changed (seeded): before, after, length ratio, and why.

    ``reasons`` (example id -> text; ``rewrite`` names each rejected rewrite and its round) adds a
    ``note`` to a changed example and, when fewer than :data:`SAMPLE_SIZE` changed, fills the sample
    with examples left as they were because every rewrite of them was rejected.
    """
    reasons = reasons or {}
    old = {ex.id: ex for ex in before}
    pairs = [(ex.id, render_prompt(old[ex.id], prompt), render_prompt(ex, prompt)) for ex in after if ex.id in old]
    changed = [(i, pa, pb) for i, pa, pb in pairs if pa != pb]
    unchanged = [(i, pa, pb) for i, pa, pb in pairs if pa == pb and i in reasons]
    picked = _seeded_sample(changed, seed)
    picked += _seeded_sample(unchanged, seed)[: SAMPLE_SIZE - len(picked)]
    out = []
    for i, pa, pb in picked:
        sample: dict[str, Any] = {"id": i, "before": excerpt(pa), "after": excerpt(pb)}
        sample["length_ratio"] = round(len(pb) / len(pa), 3) if pa else 1.0
        if i in reasons:
            sample["note"] = reasons[i]
        out.append(sample)
    return out
