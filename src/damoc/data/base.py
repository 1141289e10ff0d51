"""Contracts of the stage-1 methods and the small helpers they share.

A *filter* returns the indices of the training examples to keep; a *compressor* returns rewritten
examples (shorter prompts, LLM rewrites). Both receive the run's :class:`damoc.context.StageContext`.
Each method registers in :data:`FILTERS` or :data:`COMPRESSORS`. A filter that measures something per
example leaves it in a :class:`FilterRecord` (read with :func:`filter_record`) for the data report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import Field, model_validator

from damoc.context import StageContext
from damoc.registry import MethodParams, Registry
from damoc.tasks.example import Example


class Filter(Protocol):
    """A data filter: chooses which training examples to keep."""

    @property
    def params(self) -> MethodParams: ...

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices into ``examples`` of the examples to keep (any order, no duplicates)."""
        ...


class Compressor(Protocol):
    """A token compressor or rewriter: returns shortened or rewritten examples."""

    @property
    def params(self) -> MethodParams: ...

    def compress(self, examples: list[Example], ctx: StageContext) -> list[Example]:
        """The rewritten examples (may be fewer than given)."""
        ...


@dataclass(frozen=True)
class FilterRecord:
    """What a filter measured in its last ``select``: a score per input example and why examples went.

    A filter (or a compressor, such as ``rewrite``) sets it as ``self.record``; the data report reads it
    with :func:`filter_record`.

    Attributes:
        score_name: what ``scores`` holds (``"perplexity"``, ``"ifd"``, ``"max_cosine"``, ``"cluster"``...).
        scores: one value per input example, in input order; None where the example was not scored.
        dropped: how many examples each reason dropped (a rule name, ``"duplicate"``, ``"keep_ratio"``).
        reasons: input index -> the reason it was dropped, for every dropped example a reason names.
    """

    score_name: str = ""
    scores: list[float | None] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)


def filter_record(method: object) -> FilterRecord | None:
    """The :class:`FilterRecord` a filter left in its last ``select``; None when it records nothing."""
    record = getattr(method, "record", None)
    return record if isinstance(record, FilterRecord) else None


FILTERS: Registry[Filter] = Registry("filter", "damoc.data.filters")
COMPRESSORS: Registry[Compressor] = Registry("compressor", "damoc.data.compressors")


def keep_count(num_examples: int, keep_ratio: float) -> int:
    """How many of ``num_examples`` a ``keep_ratio`` keeps: rounded half up, possibly 0."""
    return min(num_examples, int(num_examples * keep_ratio + 0.5))


class EmbeddingModelParams(MethodParams):
    """The sentence encoder of a filter that embeds examples (:mod:`damoc.data.embeddings`)."""

    embedding_model: str = Field(
        "all-minilm-l6-v2", min_length=1, description="sentence encoder: 'all-minilm-l6-v2' (bundled) or a folder"
    )
    embedding_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="encoder compute type; auto: bfloat16 where the device computes it natively "
        "(a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX), else float32",
    )


class KeepParams(MethodParams):
    """The size params every filter takes: ``keep_ratio`` of the set, or ``keep_count`` examples instead.

    A filter whose ``keep_ratio`` defaults to 1 (the dedup and rule filters) treats either as a cap
    on what survives its own test.
    """

    keep_ratio: float = Field(0.2, gt=0, le=1, description="fraction of the training examples kept")
    keep_count: int | None = Field(
        None, gt=0, description="keep this many examples (all of them when fewer) instead of keep_ratio"
    )

    @model_validator(mode="after")
    def _one_size(self) -> KeepParams:
        if self.keep_count is not None and "keep_ratio" in self.model_fields_set:
            raise ValueError("give keep_ratio or keep_count, not both")
        return self

    def kept_of(self, num_examples: int) -> int:
        """How many of ``num_examples`` to keep: ``keep_count`` (at most all), else :func:`keep_count`."""
        if self.keep_count is not None:
            return min(num_examples, self.keep_count)
        return keep_count(num_examples, self.keep_ratio)


class PoolParams(MethodParams):
    """``pool``: a filter that scores examples with a model scores only a seeded random pool of them.

    The scoring pass (IFD under a reference model) is the data stage's cost; with ``pool: 8`` a filter
    that keeps 100 examples scores 800 drawn uniformly (seeded) and selects among them, so its cost
    follows the budget instead of the training set (the best of a random pool, as Superfiltering's
    cheap reference model is a cost cap).
    """

    pool: float | None = Field(
        None,
        ge=1,
        description="score only a seeded random pool of pool x the kept count (a cost cap); None: every example",
    )

    def pool_of(self, num_examples: int, kept: int, seed: int) -> list[int]:
        """The indices to score (:func:`scored_pool`)."""
        return scored_pool(num_examples, kept, self.pool, seed)


def scored_pool(n: int, k: int, pool: float | None, seed: int) -> list[int]:
    """The indices a pooled filter scores: all ``n``, or a seeded sample of ``ceil(pool * k)`` of them, in order."""
    import math
    import random

    if pool is None or math.ceil(pool * k) >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), math.ceil(pool * k)))


def pooled_scores(n: int, pool: list[int], scores: Sequence[float]) -> list[float | None]:
    """One score per example of ``n`` for a record: ``scores[j]`` at ``pool[j]``, None elsewhere and where not finite."""
    import math

    out: list[float | None] = [None] * n
    for i, v in zip(pool, scores, strict=True):
        out[i] = float(v) if math.isfinite(v) else None
    return out


def example_text(ex: Example) -> str:
    """The text that describes an example's content: its context (if any) and question."""
    return f"{ex.context}\n{ex.question}" if ex.context else ex.question


def item_parts(ex: Example) -> tuple[str, str, str]:
    """An example's item as (question, choices, context) for duplicate detection; "" for a part it lacks.

    Choices are sorted, so the same options in another order are the same item. The dedup filters
    call two examples duplicates only when *every* part nearly repeats: a templated set that asks one
    stem over many option sets (``medical_except``: about 80 stems over 2,124 items), or several
    questions about one passage (``reading_comprehension``), holds different items whose combined
    text is nearly the same.
    """
    choices = "\n".join(sorted(ex.choices)) if ex.choices else ""
    return ex.question, choices, ex.context or ""


KeepSpans = Literal["choices", "answer", "none"]
"""Which texts a compressor must keep where they occur: every choice's, the right answer's, none."""


def answer_text(ex: Example) -> str:
    """The right choice's text (multiple choice) or the answer (qa)."""
    if ex.choices is not None and isinstance(ex.answer, int):
        return ex.choices[ex.answer]
    return str(ex.answer)


def kept_spans(ex: Example, which: KeepSpans) -> list[str]:
    """The texts of ``ex`` a compressor must not drop (``which``; ``choices`` without choices: the answer)."""
    if which == "none":
        return []
    if which == "choices" and ex.choices:
        return list(ex.choices)
    return [answer_text(ex)]


def span_pattern(span: str) -> re.Pattern[str] | None:
    """``span`` as whole words, ignoring case and runs of whitespace; None for a blank span."""
    words = span.split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


def has_span(text: str, span: str) -> bool:
    """Whether ``span`` occurs in ``text`` as whole words, ignoring case and runs of whitespace."""
    pattern = span_pattern(span)
    return pattern is not None and pattern.search(text) is not None


def span_occurrences(text: str, spans: list[str]) -> list[tuple[int, int]]:
    """Sorted ``(start, end)`` of every occurrence of any span in ``text`` (matched as in :func:`has_span`)."""
    return sorted(m.span() for pattern in filter(None, map(span_pattern, spans)) for m in pattern.finditer(text))


def split_at_spans(text: str, spans: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into ``(piece, is_span)`` around every occurrence of any span; the pieces concatenate to ``text``.

    Occurrences match as in :func:`has_span`; overlapping or touching occurrences form one span piece.
    """
    merged: list[list[int]] = []
    for start, end in span_occurrences(text, spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[tuple[str, bool]] = []
    at = 0
    for start, end in merged:
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text) or not pieces:
        pieces.append((text[at:], False))
    return pieces


class EmbeddingParams(KeepParams, EmbeddingModelParams):
    """A filter that embeds examples and keeps ``keep_ratio`` or ``keep_count`` of them."""

    batch_size: int = Field(64, gt=0, description="texts per encoder forward pass")
