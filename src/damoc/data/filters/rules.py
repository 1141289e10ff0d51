"""``rules``: rule-based quality heuristics (length bounds, answer leakage, malformed or duplicate choices)."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Literal

from pydantic import Field

from damoc.data.base import FILTERS, FilterRecord, KeepParams, StageContext
from damoc.data.filters.random import seeded_subset
from damoc.registry import Method
from damoc.tasks.example import Example

log = logging.getLogger(__name__)

Rule = Literal["malformed_choices", "duplicate_choices", "too_short", "too_long", "answer_leak"]
"""The checks, in the order they are applied; an example is counted under the first it fails."""
RULES: tuple[Rule, ...] = ("malformed_choices", "duplicate_choices", "too_short", "too_long", "answer_leak")


@FILTERS.register("rules")
class RulesFilter(Method):
    """Drop examples that fail simple rule heuristics (rule-based quality filters; Rae et al. 2021, arXiv 2112.11446).

    In order, an example is dropped as ``malformed_choices`` (a multiple-choice example with fewer than
    two choices, an empty choice or an answer index out of range; a QA example with an empty answer),
    ``duplicate_choices`` (two choices equal up to case and whitespace), ``too_short`` or ``too_long``
    (question plus context characters outside ``[min_prompt_chars, max_prompt_chars]``) or
    ``answer_leak`` (the correct answer, at least ``leak_min_chars`` long, appears in the question as
    whole words, ignoring case, while no other choice does: the question gives the answer away; the
    context is not checked, since reading comprehension answers come from it). Each rule's count of
    drops (under the first rule an example fails) is logged and recorded, and each example's score
    (``rules_failed``) is how many rules it fails. ``keep_ratio`` then caps what passes (a seeded
    uniform sample; 1.0: no cap).
    """

    class Params(KeepParams):
        keep_ratio: float = Field(1.0, gt=0, le=1, description="cap: at most this fraction of the set is kept")
        checks: tuple[Rule, ...] = Field(RULES, min_length=1, description=f"rules applied, of {', '.join(RULES)}")
        min_prompt_chars: int = Field(10, ge=0, description="fewest characters of question plus context")
        max_prompt_chars: int = Field(20_000, gt=0, description="most characters of question plus context")
        leak_min_chars: int = Field(3, gt=0, description="shortest answer text checked for leakage into the question")

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of the examples that pass every rule in ``checks``, capped at ``keep_ratio``."""
        failures = [failed_rules(ex, self.params) for ex in examples]
        reasons: dict[int, str] = {i: f[0] for i, f in enumerate(failures) if f}
        passed = [i for i in range(len(examples)) if i not in reasons]
        kept = seeded_subset(passed, self.params.kept_of(len(examples)), ctx.seed)
        reasons |= {i: "keep_ratio" for i in sorted(set(passed) - set(kept))}
        dropped = {rule: 0 for rule in (*self.params.checks, "keep_ratio")} | Counter(reasons.values())
        self.record = FilterRecord("rules_failed", [float(len(f)) for f in failures], dict(dropped), reasons)
        log.info("rules: kept %d of %d; dropped %s", len(kept), len(examples), dropped)
        return kept


def failed_rules(ex: Example, p: RulesFilter.Params) -> list[Rule]:
    """Every rule of ``p.checks`` that ``ex`` fails, in :data:`RULES` order (its count is the record's score)."""
    prompt_chars = len(ex.question) + len(ex.context or "")
    failed: dict[Rule, bool] = {
        "malformed_choices": malformed(ex),
        "duplicate_choices": not malformed(ex) and has_duplicate_choices(ex),
        "too_short": prompt_chars < p.min_prompt_chars,
        "too_long": prompt_chars > p.max_prompt_chars,
        "answer_leak": not malformed(ex) and leaks_answer(ex, p.leak_min_chars),
    }
    return [rule for rule in RULES if rule in p.checks and failed[rule]]


def malformed(ex: Example) -> bool:
    """Fewer than two choices, an empty choice or an out-of-range answer index; an empty QA answer."""
    if ex.choices is None:
        return isinstance(ex.answer, int) or not str(ex.answer).strip()
    bad_answer = not isinstance(ex.answer, int) or not 0 <= ex.answer < len(ex.choices)
    return len(ex.choices) < 2 or bad_answer or any(not c.strip() for c in ex.choices)


def has_duplicate_choices(ex: Example) -> bool:
    """Two choices equal after case folding and whitespace collapsing."""
    norm = [" ".join(c.split()).casefold() for c in ex.choices or ()]
    return len(set(norm)) < len(norm)


def leaks_answer(ex: Example, min_chars: int) -> bool:
    """The correct answer appears in the question as whole words (any case) and no other choice does."""
    answer = ex.choices[ex.answer] if ex.choices is not None and isinstance(ex.answer, int) else str(ex.answer)
    others = [c for i, c in enumerate(ex.choices or ()) if i != ex.answer]
    return (
        len(answer.strip()) >= min_chars and _in(answer, ex.question) and not any(_in(c, ex.question) for c in others)
    )


def _in(text: str, question: str) -> bool:
    text = text.strip()
    return bool(text) and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", question, re.IGNORECASE) is not None
