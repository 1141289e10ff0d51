"""Contracts of the stage-1 methods and the small helpers they share.

A *filter* returns the indices of the training examples to keep; a *compressor* returns rewritten
examples (shorter prompts, LLM rewrites). Both receive the run's :class:`damoc.context.StageContext`.
Each method registers in :data:`FILTERS` or :data:`COMPRESSORS`.
"""

from __future__ import annotations

from typing import Protocol

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


FILTERS: Registry[Filter] = Registry("filter", "damoc.data.filters")
COMPRESSORS: Registry[Compressor] = Registry("compressor", "damoc.data.compressors")


def keep_count(num_examples: int, keep_ratio: float) -> int:
    """How many of ``num_examples`` a ``keep_ratio`` keeps: rounded half up, possibly 0."""
    return min(num_examples, int(num_examples * keep_ratio + 0.5))


def example_text(ex: Example) -> str:
    """The text that describes an example's content: its context (if any) and question."""
    return f"{ex.context}\n{ex.question}" if ex.context else ex.question
