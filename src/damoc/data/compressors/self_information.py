"""``self_information``: Selective Context compression of questions and contexts by unit self-information.

Texts are cut into units that cover them exactly (sentences, phrases or words, each carrying its own
leading whitespace), every unit is scored by the mean self-information of its tokens under a small
reference model, and the units below a percentile of those scores are dropped. Whatever is kept is
the original text minus whole units, so whitespace, newlines and punctuation inside kept units survive.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any, Literal

import numpy as np
from pydantic import Field

from damoc.data.base import COMPRESSORS, KeepSpans, StageContext, kept_spans, span_occurrences
from damoc.progress import ProgressFn
from damoc.registry import Method, ReferenceModelParams
from damoc.tasks.example import Example

Unit = Literal["sentence", "phrase", "word"]

_WORD = re.compile(r"\s*\S+")
# a sentence ends at . ! ? (closing quotes/brackets allowed), but not after "e.g." or "Mr." (Selective Context's rule)
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*$")
_ABBREVIATION = re.compile(r"^\W*(?:\w\.\w\.|[A-Z][a-z]?\.)$")
_CLAUSE_END = re.compile(r"[,;:)\]]+[\"']*$")
# a phrase starts before one of these words: conjunctions, relative and question words, prepositions
_PHRASE_STARTER_WORDS = (
    "and or but nor so yet because although though while whereas if unless until since than "
    "that which who whom whose what when where why how "
    "in on at by for with from to of about into onto over under after before between through during "
    "without within against among via"
)
_PHRASE_STARTERS = frozenset(_PHRASE_STARTER_WORDS.split())


@COMPRESSORS.register("self_information")
class SelfInformationCompressor(Method):
    """Drop the least informative phrases of questions and contexts (Selective Context; Li et al. 2023, arXiv 2310.06201).

    A small reference model gives every token its self-information ``I(t) = -log p(t | text before it)``;
    a unit's score is the mean over its tokens, as Selective Context's code computes it (the paper
    writes a sum). Units whose score is below the ``1 - rate`` quantile of the text's unit scores are
    dropped (``np.percentile``, linear interpolation), so about the ``rate`` share of units is kept, in
    order. Texts longer than ``max_seq_len`` tokens are scored in overlapping windows, so every unit
    gets a score. The answer and the choices are never changed.

    Units: ``sentence`` splits after ``. ! ?`` and at newlines; ``phrase`` (default, as in Selective
    Context) also splits after ``, ; :`` and closing brackets and before a conjunction, relative or
    question word, or preposition from a fixed English list: a regex stand-in for the spaCy noun
    chunks Selective Context uses; ``word`` splits at whitespace. Unlike Selective Context, which
    collapses all whitespace to single spaces and scores each sentence on its own, damoc keeps the
    text's whitespace and conditions each token on up to ``max_seq_len`` tokens before it.

    ``keep_spans`` (not in Selective Context, which knows no answers): units that contain any part of
    a choice's text (``choices``, the default) or of the right answer's (``answer``), matched as whole
    words ignoring case, are always kept, so a passage never loses the span its question asks about.
    """

    class Params(ReferenceModelParams):
        rate: float = Field(0.6, gt=0, le=1, description="share of the units of each question and context kept")
        unit: Unit = Field("phrase", description="what is dropped or kept whole: sentence, phrase or word")
        min_words: int = Field(8, ge=1, description="texts of at most this many words are left unchanged")
        fields: list[Literal["question", "context"]] = Field(
            ["question", "context"],
            min_length=1,
            description="which texts are compressed (the others stay as they are)",
        )
        max_seq_len: int = Field(512, ge=8, description="tokens per scoring window; longer texts use several")
        batch_size: int = Field(16, gt=0, description="windows per forward pass")
        keep_spans: KeepSpans = Field(
            "choices", description="units holding these spans are always kept: every choice's text, the answer's, none"
        )

    params: Params

    def compress(self, examples: list[Example], ctx: StageContext) -> list[Example]:
        """The examples with shortened ``fields`` (question and context by default)."""
        from damoc.data.likelihood import load_reference_model

        p = self.params
        model, tokenizer = load_reference_model(p.reference_model, ctx.cache_dir, ctx.device)
        fields = list(dict.fromkeys(p.fields))  # in order, each once
        texts = [getattr(ex, f) or "" for f in fields for ex in examples]  # one batched pass over every text
        spans = [kept_spans(ex, p.keep_spans) for ex in examples] * len(fields)
        short = compress_texts(texts, model, tokenizer, p, ctx.progress, spans)
        n = len(examples)
        out = []
        for i, ex in enumerate(examples):
            changes: dict[str, Any] = {f: short[k * n + i] for k, f in enumerate(fields) if getattr(ex, f)}
            out.append(dataclasses.replace(ex, **changes))
        return out


def compress_texts(
    texts: list[str],
    model: Any,
    tokenizer: Any,
    p: SelfInformationCompressor.Params,
    progress: ProgressFn | None,
    spans: list[list[str]] | None = None,
) -> list[str]:
    """Each text without its least informative units (texts of <= ``p.min_words`` words unchanged).

    ``spans[i]``: texts whose occurrences in ``texts[i]`` are kept (see :func:`span_units`).
    """
    out = list(texts)
    todo = [i for i, t in enumerate(texts) if len(t.split()) > p.min_words]
    scored = score_units([texts[i] for i in todo], model, tokenizer, p, progress)
    for i, (units, scores) in zip(todo, scored, strict=True):
        keep = select_units(scores, p.rate) | span_units(units, texts[i], spans[i] if spans else [])
        out[i] = join_units(units, keep, texts[i])
    return out


def span_units(units: list[str], text: str, spans: list[str]) -> np.ndarray:
    """Mask of the units overlapping an occurrence of any span (whole words, case and whitespace runs ignored)."""
    hit = np.zeros(len(units), dtype=bool)
    ends = np.cumsum([len(u) for u in units])
    for start, end in span_occurrences(text, spans):
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, end - 1, side="right"))
        hit[first : last + 1] = True
    return hit


def score_units(
    texts: list[str], model: Any, tokenizer: Any, p: SelfInformationCompressor.Params, progress: ProgressFn | None
) -> list[tuple[list[str], np.ndarray]]:
    """``(units, mean token self-information of each unit)`` for every text (see :func:`split_units`)."""
    from damoc.data.likelihood import pad_id_of, start_ids, tail_token_nlls

    if not texts:
        return []
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    start = start_ids(tokenizer)
    room = p.max_seq_len - len(start)
    seqs: list[tuple[list[int], int]] = []
    owner: list[int] = []
    for t, ids in enumerate(enc["input_ids"]):
        for ctx_start, score_start, end in token_windows(len(ids), room):
            seqs.append((start + ids[ctx_start:end], end - score_start))
            owner.append(t)
    nlls = tail_token_nlls(model, seqs, pad_id=pad_id_of(tokenizer), batch_size=p.batch_size, progress=progress)
    per_text: list[list[np.ndarray]] = [[] for _ in texts]
    for t, nll in zip(owner, nlls, strict=True):
        per_text[t].append(nll)
    out = []
    for text, offsets, parts in zip(texts, enc["offset_mapping"], per_text, strict=True):
        units = split_units(text, p.unit)
        nll = np.concatenate(parts) if parts else np.zeros(0)
        out.append((units, unit_information(units, [tuple(o) for o in offsets], nll)))
    return out


def token_windows(num_tokens: int, room: int) -> list[tuple[int, int, int]]:
    """Sliding windows ``(context_start, score_start, end)`` that score every token exactly once.

    The first window scores tokens ``[0, room)``; each later one scores the next ``room // 2``
    tokens with the tokens before them (up to ``room`` in all) as context.
    """
    if num_tokens <= 0:
        return []
    end = min(num_tokens, room)
    windows = [(0, 0, end)]
    stride = max(1, room // 2)
    while end < num_tokens:
        new_end = min(num_tokens, end + stride)
        windows.append((max(0, new_end - room), end, new_end))
        end = new_end
    return windows


def split_units(text: str, unit: Unit) -> list[str]:
    """Cut ``text`` into units that concatenate back to it; each unit starts with its leading whitespace.

    Leading whitespace of the text goes to the first unit and trailing whitespace to the last.
    """
    words = [m.group() for m in _WORD.finditer(text)]
    if not words:
        return [text] if text else []
    words[-1] += text[len("".join(words)) :]
    units = [words[0]]
    for prev, word in itertools.pairwise(words):
        if _starts_unit(prev, word, unit):
            units.append(word)
        else:
            units[-1] += word
    return units


def _starts_unit(prev: str, word: str, unit: Unit) -> bool:
    if unit == "word" or "\n" in word[: len(word) - len(word.lstrip())]:
        return True
    prev = prev.strip()
    if _SENTENCE_END.search(prev) and not _ABBREVIATION.match(prev):
        return True
    if unit == "sentence":
        return False
    return bool(_CLAUSE_END.search(prev)) or re.sub(r"^\W+|\W+$", "", word).lower() in _PHRASE_STARTERS


def unit_information(units: list[str], offsets: list[tuple[int, int]], nll: np.ndarray) -> np.ndarray:
    """Mean self-information of the tokens that overlap each unit's non-whitespace characters.

    A token that spans two units counts in both; whitespace-only tokens count in none. A unit no
    scored token overlaps gets NaN (kept by :func:`select_units`).
    """
    owner: list[int] = []
    for u, text in enumerate(units):
        owner += [-1 if c.isspace() else u for c in text]
    total = np.zeros(len(units))
    count = np.zeros(len(units))
    for t, (a, b) in enumerate(offsets[: len(nll)]):
        for u in {owner[c] for c in range(a, min(b, len(owner)))} - {-1}:
            total[u] += nll[t]
            count[u] += 1
    with np.errstate(invalid="ignore"):
        return total / count


def select_units(scores: np.ndarray, rate: float) -> np.ndarray:
    """Keep mask: drop the units scored below the ``1 - rate`` quantile (NaN scores are kept).

    With distinct scores this keeps about ``rate`` of the units; ties at the threshold are all kept.
    """
    keep = np.ones(len(scores), dtype=bool)
    finite = np.isfinite(scores)
    if rate >= 1 or not finite.any():
        return keep
    threshold = np.percentile(scores[finite], (1 - rate) * 100)
    keep[finite] = scores[finite] >= threshold
    return keep


def join_units(units: list[str], keep: np.ndarray, text: str) -> str:
    """The kept units joined as they are; leading whitespace is dropped unless ``text`` began with some."""
    out = "".join(u for u, k in zip(units, keep, strict=True) if k)
    return out if text[:1].isspace() else out.lstrip()
