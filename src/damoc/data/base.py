"""Contracts of the stage-1 methods and the small helpers they share.

A *filter* returns the indices of the training examples to keep; a *compressor* returns rewritten
examples (shorter prompts, LLM rewrites). Both receive a :class:`StepContext` with the run's seed,
device, cache folder and progress callback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from damoc.progress import ProgressFn
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec

PARAMS_CONFIG = ConfigDict(extra="forbid", frozen=True)
"""Pydantic config of every method's ``Params``: unknown keys are errors, instances are frozen."""


@dataclass(frozen=True)
class StepContext:
    """What a data step may use besides its params."""

    seed: int = 0
    device: str = "auto"
    cache_dir: Path | None = None
    progress: ProgressFn | None = None
    prompt: PromptSpec | None = None
    """The run's prompt settings (template, chat template); None is the default plain template."""


class Filter(Protocol):
    """A data filter: chooses which training examples to keep."""

    params: BaseModel

    def select(self, examples: list[Example], ctx: StepContext) -> list[int]:
        """Indices into ``examples`` of the examples to keep (any order, no duplicates)."""
        ...


class Compressor(Protocol):
    """A token compressor or rewriter: returns shortened or rewritten examples."""

    params: BaseModel

    def compress(self, examples: list[Example], ctx: StepContext) -> list[Example]:
        """The rewritten examples (may be fewer than given)."""
        ...


def keep_count(num_examples: int, keep_ratio: float) -> int:
    """How many of ``num_examples`` a ``keep_ratio`` keeps: rounded half up, possibly 0."""
    return min(num_examples, int(num_examples * keep_ratio + 0.5))


def example_text(ex: Example) -> str:
    """The text that describes an example's content: its context (if any) and question."""
    return f"{ex.context}\n{ex.question}" if ex.context else ex.question
