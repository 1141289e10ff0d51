"""``self_information``: token compression that drops the least informative words of each prompt."""

from __future__ import annotations

import bisect
import dataclasses
import re
from typing import Any

import numpy as np
from pydantic import Field

from damoc.data.base import COMPRESSORS, StageContext
from damoc.progress import ProgressFn
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example

_WORD = re.compile(r"\S+")


@COMPRESSORS.register("self_information")
class SelfInformationCompressor(Method):
    """Drop the least informative words of questions and contexts (Selective Context; Li et al. 2023, arXiv 2310.06201).

    A small reference model gives every token its self-information ``-log p(token | text before it)``;
    a word's is the sum over its tokens, and the ``rate`` share of words with the most information
    is kept in their order (the word-level variant of LLMLingua's token dropping, arXiv 2310.05736).
    The answer and the choices are never changed.
    """

    class Params(ReferenceModelParams):
        rate: float = Field(0.6, gt=0, le=1, description="fraction of the words of each question and context kept")
        min_words: int = Field(8, ge=1, description="texts of at most this many words are left unchanged")
        max_seq_len: int = Field(512, ge=8, description="tokens scored per text; words past it are kept")
        batch_size: int = Field(16, gt=0, description="texts per forward pass")

    params: Params

    def compress(self, examples: list[Example], ctx: StageContext) -> list[Example]:
        """The examples with shortened ``question`` and ``context``."""
        from damoc.data.likelihood import load_reference_model

        p = self.params
        model, tokenizer = load_reference_model(p.reference_model, ctx.cache_dir, ctx.device)
        texts = [ex.question for ex in examples] + [ex.context or "" for ex in examples]
        short = compress_texts(texts, model, tokenizer, p, ctx.progress)
        n = len(examples)
        return [
            dataclasses.replace(ex, question=short[i], context=short[n + i] if ex.context else ex.context)
            for i, ex in enumerate(examples)
        ]


def compress_texts(
    texts: list[str], model: Any, tokenizer: Any, p: SelfInformationCompressor.Params, progress: ProgressFn | None
) -> list[str]:
    """Each text reduced to its ``p.rate`` most informative words (texts of <= ``p.min_words`` words kept)."""
    from damoc.data.likelihood import pad_id_of, start_ids, tail_token_nlls

    spans = [[m.span() for m in _WORD.finditer(t)] for t in texts]
    todo = [i for i, s in enumerate(spans) if len(s) > p.min_words]
    if not todo:
        return list(texts)
    enc = tokenizer([texts[i] for i in todo], add_special_tokens=False, return_offsets_mapping=True)
    start = start_ids(tokenizer)
    room = p.max_seq_len - len(start)
    seqs = [(start + ids[:room], len(ids[:room])) for ids in enc["input_ids"]]
    nlls = tail_token_nlls(model, seqs, pad_id=pad_id_of(tokenizer), batch_size=p.batch_size, progress=progress)
    out = list(texts)
    for i, offsets, nll in zip(todo, enc["offset_mapping"], nlls, strict=True):
        info = word_information(spans[i], offsets, nll)
        keep = sorted(np.argsort(-info, kind="stable")[: max(1, int(len(info) * p.rate + 0.5))])
        out[i] = " ".join(texts[i][spans[i][j][0] : spans[i][j][1]] for j in keep)
    return out


def word_information(spans: list[tuple[int, int]], offsets: list[tuple[int, int]], nll: np.ndarray) -> np.ndarray:
    """Per-word sum of token self-information; words with an unscored (truncated) token get +inf.

    A token belongs to the word holding its last character, so a leading space in the token does
    not matter; whitespace-only tokens belong to no word.
    """
    starts = [s for s, _ in spans]
    info = np.zeros(len(spans), dtype=np.float64)
    for t, (_, end) in enumerate(offsets):
        j = bisect.bisect_right(starts, end - 1) - 1
        if j < 0 or end - 1 >= spans[j][1] or end <= 0:
            continue
        info[j] += nll[t] if t < len(nll) else np.inf
    return info
