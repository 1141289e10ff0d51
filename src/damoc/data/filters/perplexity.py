"""``perplexity``: quality-aware filtering by the answer's perplexity under a small reference model."""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from pydantic import Field

from damoc.data.base import FILTERS, FilterRecord, KeepParams, StageContext
from damoc.progress import ProgressFn
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec

log = logging.getLogger(__name__)

PerplexityBand = Literal["lowest", "middle", "highest"]
"""Which part of the perplexity ranking is kept."""


@FILTERS.register("perplexity")
class PerplexityFilter(Method):
    """Keep a band of the answer perplexity under the reference model (Ankner et al. 2024, arXiv 2405.20541; Marion et al. 2023, arXiv 2309.04564).

    Score: ``PPL(A|Q) = exp(meanCE(A|Q))``, the mean next-token loss of the answer tokens given the
    prompt (the conditioned half of IFD, computed by the same code). Both papers prune pretraining
    text by a reference model's perplexity, keeping the bottom, middle or top of the ranking, and
    find that the best band depends on the data (Ankner et al.: on its domain mix), so ``mode``
    chooses it. The default ``lowest`` treats the filter as a cheap quality check on labelled
    fine-tuning data: the answers the reference model finds least predictable from their prompts
    are the likeliest to be wrong, garbled or off-format. ``middle`` keeps the band around the
    median, dropping both the trivial and the noisy (Marion et al.'s middle subset); ``highest``
    keeps the hardest. Examples with a non-finite score are never kept.
    """

    class Params(ReferenceModelParams, KeepParams):
        mode: PerplexityBand = Field(
            "lowest", description="band kept: lowest, middle (around the median) or highest answer perplexity"
        )

    params: Params
    record: FilterRecord | None = None

    def select(self, examples: list[Example], ctx: StageContext) -> list[int]:
        """Indices of the ``keep_ratio`` share of the examples in the ``mode`` band of answer perplexity."""
        from damoc.data.likelihood import load_reference_model

        p = self.params
        ppl = np.zeros(0)
        if examples:
            model, tokenizer = load_reference_model(p.reference_model, ctx.cache_dir, ctx.device)
            ppl = answer_perplexities(
                examples,
                model,
                tokenizer,
                max_seq_len=p.max_seq_len,
                batch_size=p.batch_size,
                progress=ctx.progress,
                prompt=ctx.prompt,
            )
        kept = select_band(ppl, p.kept_of(len(examples)), p.mode)
        self.record = FilterRecord("perplexity", [float(x) if np.isfinite(x) else None for x in ppl])
        log.info("perplexity (%s): kept %d of %d", p.mode, len(kept), len(examples))
        return kept


def answer_perplexities(
    examples: list[Example],
    model: Any,
    tokenizer: Any,
    *,
    max_seq_len: int = 256,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    prompt: PromptSpec | None = None,
) -> np.ndarray:
    """``exp(meanCE(answer | start, prompt))`` per example, built as IFD's conditioned sequences.

    The sequence is the start token, the prompt cut from the left to fit ``max_seq_len`` and the
    answer, exactly as :func:`damoc.data.likelihood.ifd_losses` builds it, so ``log`` of this score
    equals IFD's ``meanCE(A|Q)``.
    """
    from damoc.data.likelihood import answer_losses, pad_id_of, prompt_answer_ids, start_ids

    start = start_ids(tokenizer)
    seqs = [
        (start + ids + answer, len(answer))
        for ids, answer in prompt_answer_ids(examples, tokenizer, max_seq_len, prompt)
    ]
    losses = answer_losses(model, seqs, pad_id=pad_id_of(tokenizer), batch_size=batch_size, progress=progress)
    return np.exp(losses)


def select_band(scores: np.ndarray, k: int, mode: PerplexityBand) -> list[int]:
    """The ``k`` indices of a band of the finite ``scores`` ranked ascending (ties: lower index first).

    ``lowest`` takes the first ``k``, ``highest`` the last ``k``, ``middle`` the ``k`` starting at
    ``(m - k) // 2`` of the ``m`` finite scores.
    """
    valid = np.flatnonzero(np.isfinite(scores))
    ranked = valid[np.argsort(scores[valid], kind="stable")]
    k = min(k, len(ranked))
    start = {"lowest": 0, "middle": (len(ranked) - k) // 2, "highest": len(ranked) - k}[mode]
    return sorted(int(i) for i in ranked[start : start + k])
