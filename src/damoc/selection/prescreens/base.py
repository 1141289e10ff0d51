"""The pre-screen contract, its registry and the keep rule (no torch at import).

A pre-screen scores one full, untuned candidate (higher is better) from a forward pass over a
seeded sample of training examples; each one registers in :data:`PRESCREENS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from damoc.registry import Registry

if TYPE_CHECKING:
    from damoc.tasks.example import Example
    from damoc.tasks.prompts import PromptSpec


@dataclass(frozen=True)
class ScoringSettings:
    """How a pre-screen runs its forward pass: the evaluation's lengths and batch, the run's prompt."""

    max_seq_len: int = 512
    batch_size: int = 8
    prompt: PromptSpec | None = None


class Prescreen(Protocol):
    """Scores a full candidate without training."""

    task_types: ClassVar[tuple[str, ...]]
    """Task types the pre-screen can score (``multiple_choice``, ``qa``)."""

    def score(self, model: Any, tokenizer: Any, examples: list[Example], settings: ScoringSettings) -> float:
        """The candidate's score on ``examples`` (higher is better)."""
        ...


PRESCREENS: Registry[Prescreen] = Registry("prescreen", "damoc.selection.prescreens")


def keep_top(scores: Mapping[str, float], keep: int) -> tuple[list[str], list[str]]:
    """(order, kept): candidates best first (equal scores in mapping order), the top ``keep`` and any tied with the last.

    Args:
        scores: candidate -> score (higher is better), in config order.
        keep: how many to keep at least (all of them when there are fewer).
    """
    order = sorted(scores, key=lambda n: -scores[n])  # stable: config order among equal scores
    if keep >= len(order):
        return order, order
    last = scores[order[keep - 1]]
    return order, [n for n in order if n in order[:keep] or scores[n] == last]


def sample_indices(num_examples: int, num_samples: int, seed: int) -> list[int]:
    """A seeded sample of ``num_samples`` example indices (all of them when there are fewer), in file order."""
    import random

    if num_samples >= num_examples:
        return list(range(num_examples))
    return sorted(random.Random(seed).sample(range(num_examples), num_samples))


def answer_indices(examples: Sequence[Example]) -> list[int]:
    """The right choice's index of each multiple-choice example (the class label)."""
    return [int(ex.answer) for ex in examples]
