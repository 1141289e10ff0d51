"""``perplexity``: pre-screen by the untuned candidate's mean answer log-likelihood on training examples."""

from __future__ import annotations

from typing import Any, ClassVar

from damoc.registry import Method
from damoc.selection.prescreens.base import PRESCREENS, ScoringSettings
from damoc.tasks.example import Example


@PRESCREENS.register("perplexity")
class PerplexityPrescreen(Method):
    """Rank by the untuned model's mean answer log-likelihood -meanCE(A|Q), as the perplexity filter scores it (Marion et al. 2023, arXiv 2309.04564).

    Each example's answer tokens are scored after the start token and the prompt (the sequence the
    ``perplexity`` filter and IFD build); the score is the mean over the examples of the per-token
    mean log-probability, so higher is better and ``exp(-score)`` is a geometric-mean perplexity.
    """

    task_types: ClassVar[tuple[str, ...]] = ("multiple_choice", "qa")

    def score(self, model: Any, tokenizer: Any, examples: list[Example], settings: ScoringSettings) -> float:
        """Mean over ``examples`` of the answer's mean token log-likelihood given its prompt."""
        import numpy as np

        from damoc.data.filters.perplexity import answer_perplexities

        ppl = answer_perplexities(
            examples, model, tokenizer, max_seq_len=settings.max_seq_len, batch_size=settings.batch_size,
            prompt=settings.prompt,
        )  # fmt: skip
        return float(-np.mean(np.log(ppl)))
