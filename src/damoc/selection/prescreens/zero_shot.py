"""``zero_shot``: pre-screen by the untuned candidate's accuracy on training examples."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.registry import Method
from damoc.selection.prescreens.base import PRESCREENS, ScoringSettings
from damoc.tasks.example import Example


@PRESCREENS.register("zero_shot")
class ZeroShotPrescreen(Method):
    """Rank by zero-shot accuracy on a training sample, scored as lm-eval does (DaMoC's zero-shot baseline, arXiv 2509.01221).

    Multiple choice only: the choice with the highest summed continuation log-likelihood is the
    prediction (``acc``), exactly as stage 4 scores the eval split.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice",)

    def score(self, model: Any, tokenizer: Any, examples: list[Example], settings: ScoringSettings) -> float:
        """Share of ``examples`` whose right choice gets the highest log-likelihood."""
        from damoc.evaluation.loglik import score_multiple_choice

        rows = score_multiple_choice(
            examples, model, tokenizer, settings.max_seq_len, settings.batch_size, spec=settings.prompt
        )
        return sum(float(r["pred"] == r["answer"]) for r in rows) / len(rows)
