"""``llmlingua2``: LLMLingua-2 token compression of questions and passages through the ``llmlingua`` package.

``llmlingua`` is an optional dependency (``pip install 'damoc[llmlingua]'``; the development set-up
installs it) and its models come from the hub (or a local copy). Without either, the step fails before any work with a message naming what is missing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from damoc.data.base import COMPRESSORS, KeepSpans, StageContext, kept_spans, split_at_spans
from damoc.errors import ConfigError, ModelError
from damoc.progress import tick
from damoc.registry import Method, MethodParams
from damoc.tasks.example import Example

log = logging.getLogger(__name__)

TextField = Literal["question", "context"]
DEFAULT_MODEL = "microsoft/llmlingua-2-xlm-roberta-large-meetingbank"
INSTALL_HINT = "pip install llmlingua"
# llmlingua picks its word splitting by these substrings of the model name (NotImplementedError otherwise)
MODEL_FAMILIES = ("xlm-roberta-large", "bert-base-multilingual-cased")


@COMPRESSORS.register("llmlingua2")
class LLMLingua2Compressor(Method):
    """Keep the tokens a token classifier marks as essential (LLMLingua-2; Pan et al. 2024, arXiv 2403.12968), via llmlingua.

    LLMLingua-2 distils compression into a token classifier (XLM-RoBERTa or multilingual BERT): each
    token gets the probability that it must be kept, and the most probable ``rate`` share of each
    text's words is kept in order. damoc calls ``PromptCompressor.compress_prompt_llmlingua2`` of the
    ``llmlingua`` package on each question and passage separately, with ``force_tokens`` always kept
    and consecutive forced tokens merged; the model loads without remote code. ``keep_spans`` (not in
    LLMLingua-2, which knows no answers): every occurrence of a choice's text (``choices``) or of the
    right answer's (``answer``), matched as whole words ignoring case, is kept verbatim, and the text
    between occurrences is compressed piece by piece, so a passage never loses the span its question
    asks about. Texts and pieces of at most ``min_words`` words, and a text the model would empty, are
    left unchanged. Answers and choices are never changed. llmlingua also loads tiktoken's
    ``cl100k_base`` encoding (fetched on first use, or from ``TIKTOKEN_CACHE_DIR``).
    """

    class Params(MethodParams):
        model: str = Field(
            DEFAULT_MODEL,
            min_length=1,
            description="LLMLingua-2 model: hub id or local folder; its name must contain xlm-roberta-large or "
            "bert-base-multilingual-cased",
        )
        rate: float = Field(0.5, gt=0, le=1, description="share of each text's tokens kept (llmlingua's rate)")
        force_tokens: tuple[str, ...] = Field(("\n", "?"), max_length=100, description="tokens always kept")
        force_reserve_digit: bool = Field(False, description="always keep tokens that contain a digit")
        fields: tuple[TextField, ...] = Field(("question", "context"), min_length=1, description="texts compressed")
        keep_spans: KeepSpans = Field(
            "choices", description="kept verbatim where they occur: every choice's text, the answer's, none"
        )
        min_words: int = Field(8, ge=1, description="texts and pieces of at most this many words are left unchanged")
        batch_size: int = Field(50, gt=0, description="chunks of 512 tokens per classifier forward pass")

        @model_validator(mode="after")
        def _check_family(self) -> LLMLingua2Compressor.Params:
            if not any(f in self.model for f in MODEL_FAMILIES):
                raise ValueError(
                    f"model: {self.model!r} names neither {' nor '.join(MODEL_FAMILIES)}; llmlingua chooses its "
                    "word splitting by that part of the name (keep it in a local folder's name)"
                )
            return self

    params: Params

    def compress(self, examples: list[Example], ctx: StageContext) -> list[Example]:
        """The examples with compressed ``question`` and ``context``."""
        p = self.params
        check_available(p.model)  # even with nothing to compress: a config that cannot run fails at once
        todo = [(i, f) for i, ex in enumerate(examples) for f in p.fields if len(_get(ex, f).split()) > p.min_words]
        out = list(examples)
        if not todo:
            return out
        compressor = load_compressor(p, ctx.device)
        for n, (i, f) in enumerate(todo, start=1):
            pieces = split_at_spans(_get(out[i], f), kept_spans(out[i], p.keep_spans))
            short = compress_pieces(compressor, pieces, p)
            if short.strip():
                out[i] = _set(out[i], f, short)
            tick(ctx.progress, "llmlingua2", n, len(todo))
        log.info("llmlingua2: compressed %d texts at rate %.2f", len(todo), p.rate)
        return out


def compress_pieces(compressor: Any, pieces: list[tuple[str, bool]], p: LLMLingua2Compressor.Params) -> str:
    """The text of ``pieces`` (see :func:`split_at_spans`): spans verbatim, each longer gap compressed by llmlingua.

    One llmlingua call takes all of a text's gaps of more than ``p.min_words`` words (each keeps ``p.rate``
    of its tokens), and :func:`join_pieces` puts the text back together.
    """
    texts = [text for text, _ in pieces]
    todo = [k for k, (text, is_span) in enumerate(pieces) if not is_span and len(text.split()) > p.min_words]
    if not todo:
        return "".join(texts)
    result = compressor.compress_prompt_llmlingua2(
        [texts[k] for k in todo],
        rate=p.rate,
        force_tokens=list(p.force_tokens),
        force_reserve_digit=p.force_reserve_digit,
        drop_consecutive=True,
    )
    short = list(texts)
    for k, text in zip(todo, result["compressed_prompt_list"], strict=True):
        short[k] = text.strip()
    return join_pieces(texts, short)


def join_pieces(originals: list[str], pieces: list[str]) -> str:
    """``pieces`` (``originals`` after compression, edge whitespace possibly lost) joined into one text.

    One space goes between two pieces where the originals had whitespace between them (an emptied
    piece with whitespace counts) or where two word characters would otherwise touch.
    """
    out, spaced = "", False  # spaced: the originals have whitespace between the last piece written and this one
    for orig, text in zip(originals, pieces, strict=True):
        spaced = spaced or orig[:1].isspace()
        if not text:
            spaced = spaced or any(c.isspace() for c in orig)
            continue
        glued = (out[-1:] + text[:1]).isalnum()  # a dropped comma or space must not join two words
        if out and (spaced or glued) and not out[-1].isspace() and not text[0].isspace():
            out += " "
        out += text
        spaced = orig[-1:].isspace()
    return out


def check_available(model: str) -> None:
    """Raise one ConfigError naming everything missing: the llmlingua package, a local model folder."""
    problems = []
    if importlib.util.find_spec("llmlingua") is None:
        problems.append(f"the llmlingua package is not installed ({INSTALL_HINT}; damoc does not depend on it)")
    if _looks_local(model) and not Path(model).expanduser().is_dir():
        problems.append(f"model folder {model!r} not found")
    if problems:
        raise ConfigError(f"compressor llmlingua2: {'; '.join(problems)}")


def load_compressor(p: LLMLingua2Compressor.Params, device: str) -> Any:
    """llmlingua's ``PromptCompressor`` in LLMLingua-2 mode on ``device`` (``auto``: CUDA when present)."""
    check_available(p.model)
    try:
        from llmlingua import PromptCompressor
    except ImportError as exc:  # a dependency of llmlingua, or llmlingua itself, cannot be imported
        raise ConfigError(f"compressor llmlingua2: importing llmlingua failed ({exc}); {INSTALL_HINT}") from None
    from damoc.data.embeddings import resolve_device

    model = str(Path(p.model).expanduser()) if _looks_local(p.model) else p.model
    try:
        return PromptCompressor(
            model_name=model,
            device_map=resolve_device(device),
            model_config={"trust_remote_code": False},
            use_llmlingua2=True,
            llmlingua2_config={"max_batch_size": p.batch_size, "max_force_token": 100},
        )
    except Exception as exc:
        raise ModelError(
            f"compressor llmlingua2: llmlingua could not load model {p.model!r}: {type(exc).__name__}: {exc}. "
            "Without network, give the folder of a downloaded copy, and point TIKTOKEN_CACHE_DIR at a folder "
            "holding tiktoken's cl100k_base encoding"
        ) from exc


def _looks_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def _get(ex: Example, field: TextField) -> str:
    return (ex.question if field == "question" else ex.context) or ""


def _set(ex: Example, field: TextField, text: str) -> Example:
    return dataclasses.replace(ex, question=text) if field == "question" else dataclasses.replace(ex, context=text)
