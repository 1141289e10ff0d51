"""``rewrite``: an LLM rewrites questions and passages shorter and denser, checked round by round.

Each round asks the chat model (a local causal LM or an OpenAI-compatible endpoint, see
:mod:`damoc.data.chat`) to rewrite the current version of every text still in play. A rewrite is
accepted only if it passes every check; otherwise the text keeps its previous version and leaves
the loop. Replies are cached on disk by content hash as they arrive, so a rerun, a second config on
the same data, or a pass resumed after a kill generates only what is missing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from damoc.atomic import write_json_atomic
from damoc.data.base import COMPRESSORS, FilterRecord, StageContext, answer_text, has_span, kept_spans
from damoc.data.chat import Chat, Reply
from damoc.errors import ConfigError
from damoc.progress import tick
from damoc.registry import Method, MethodParams
from damoc.tasks.example import Example

log = logging.getLogger(__name__)

TextField = Literal["question", "context"]
CACHE_FOLDER = "rewrite"
CACHE_VERSION = 1
"""Bumped when what a cached reply means changes (the chat message format, the reply clean-up)."""

DEFAULT_PROMPT = (
    "Rewrite this {kind} to be shorter and denser. Keep every name, number, date and fact that a reader "
    "needs to answer questions about it, and drop filler words. Do not answer it or add anything. "
    "Reply with the rewritten {kind} only.\n\n{text}"
)
KINDS: dict[str, str] = {"question": "question", "context": "passage"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# "the answer is B", "Correct option: (C)": a letter that names a choice; the letter itself is case-sensitive
_LETTER_LEAK = re.compile(
    r"(?i:\b(?:answer|correct(?:\s+(?:choice|option))?)\b)\W{0,3}(?:(?i:is)\W{0,3})?\(?[A-J]\)?(?!\w)"
)
_PREAMBLE = re.compile(r"^(?:here(?:'s| is)|rewritten|shorter|sure)[^\n:]{0,60}:\s*", re.IGNORECASE)


@COMPRESSORS.register("rewrite")
class RewriteCompressor(Method):
    """Rewrite questions and passages shorter and denser with an LLM, checked each round (DaMoC; Huang et al. 2025, arXiv 2509.01221).

    DaMoC's third data-level step rewrites samples with an LLM, round after round, to raise their
    density. damoc accepts a round's rewrite of a text only when it (1) ended by itself, (2) is not
    empty, (3) has at most ``(1 - min_shrink)`` of the previous version's characters, (4) adds no
    answer leak (the right choice's or answer's text where it was absent, or "the answer is B"),
    (5) adds no choice text that was absent, and (6) keeps every answer-bearing span the previous
    version had (``keep_spans``: every choice's text, or only the right answer's, matched as whole
    words ignoring case). With ``judge``, the reference model must still prefer the right answer at
    least as much as before: the margin of its summed log-likelihood over the best wrong choice (qa:
    the answer's log-likelihood) may fall by at most ``judge_tolerance`` nats; a failed judgement
    rejects the example's rewrites of that round. A rejected text keeps its previous version and is
    not rewritten again (greedy decoding would repeat itself). Texts of at most ``min_words`` words
    are left alone. Answers and choices are never changed.
    """

    class Params(MethodParams):
        backend: Literal["local", "openai"] = Field(
            "local", description="local: a causal LM run here; openai: an OpenAI-compatible chat endpoint at base_url"
        )
        model: str = Field(
            "smollm2-135m",
            min_length=1,
            description="local: bundled alias, folder, .gguf or hub id; openai: the model name the endpoint serves",
        )
        base_url: str | None = Field(None, description="openai backend: the endpoint, e.g. http://localhost:8000/v1")
        api_key_env: str | None = Field(
            None, description="openai backend: NAME of the environment variable holding the API key (None: no key)"
        )
        fields: tuple[TextField, ...] = Field(("question", "context"), min_length=1, description="texts rewritten")
        max_rounds: int = Field(
            2, ge=1, le=10, description="rewriting rounds at most; each rewrites the last accepted version"
        )
        min_shrink: float = Field(
            0.1, gt=0, lt=1, description="an accepted rewrite has <= (1 - min_shrink) x the characters"
        )
        min_words: int = Field(8, ge=1, description="texts of at most this many words are left unchanged")
        keep_spans: Literal["choices", "answer"] = Field(
            "choices", description="spans a rewrite must keep where present: every choice's text, or the answer's only"
        )
        judge: bool = Field(False, description="also require the reference model's answer margin not to fall")
        judge_model: str = Field(
            "smollm2-135m", min_length=1, description="judge: bundled alias, folder, .gguf or hub id"
        )
        judge_tolerance: float = Field(
            0.0, ge=0, description="judge: nats the answer's log-likelihood margin may fall by"
        )
        judge_max_seq_len: int = Field(512, ge=8, description="judge: longest scored sequence in tokens")
        prompt_template: str = Field(
            DEFAULT_PROMPT, description="the request; {text}: the text, {kind}: question or passage"
        )
        max_new_tokens: int = Field(
            256, ge=8, description="longest reply in tokens (local: also at most the text's length)"
        )
        batch_size: int = Field(8, gt=0, description="local: messages per generate call; judge: sequences per forward")
        timeout_s: float = Field(60.0, gt=0, description="openai backend: seconds per request")
        max_retries: int = Field(3, ge=0, description="openai backend: retries of a failed request")
        backoff_s: float = Field(1.0, ge=0, description="openai backend: the first retry's wait; it doubles each retry")
        concurrency: int = Field(4, ge=1, le=64, description="openai backend: requests in flight at once")

        @model_validator(mode="after")
        def _check(self) -> RewriteCompressor.Params:
            if self.backend == "openai" and not self.base_url:
                raise ValueError(
                    "base_url: required with backend: openai (the endpoint, e.g. http://localhost:8000/v1)"
                )
            if self.backend == "local" and (self.base_url or self.api_key_env):
                raise ValueError("base_url and api_key_env: only used with backend: openai")
            if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
                raise ValueError(
                    f"api_key_env: {self.api_key_env!r} is not an environment variable NAME (the key never goes in a config)"
                )
            try:
                self.prompt_template.format(text="x", kind="passage")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"prompt_template: not a format string with {{text}} and {{kind}} only ({exc!r})"
                ) from None
            if "{text}" not in self.prompt_template:
                raise ValueError("prompt_template: must contain {text}")
            return self

    params: Params
    record: FilterRecord | None = None

    def compress(self, examples: list[Example], ctx: StageContext) -> list[Example]:
        """The examples with rewritten ``question`` and ``context`` (see the class docstring)."""
        p = self.params
        key = read_api_key(p)  # even with nothing to rewrite: a config that cannot run fails at once
        todo = [(i, f) for i, ex in enumerate(examples) for f in p.fields if len(_get(ex, f).split()) > p.min_words]
        rejected: dict[tuple[int, TextField], tuple[int, str]] = {}
        current = list(examples)
        if todo:
            chat = open_chat(p, ctx, key)
            judge = Judge(p, ctx) if p.judge else None
            for round_no in range(1, p.max_rounds + 1):
                todo = run_round(current, todo, round_no, chat, judge, p, ctx, rejected)
                if not todo:
                    break
        self.record = rewrite_record(examples, current, rejected)
        return current


def read_api_key(p: RewriteCompressor.Params) -> str | None:
    """The API key from the environment variable ``api_key_env`` names (None without one); it is never stored."""
    if p.api_key_env is None:
        return None
    key = os.environ.get(p.api_key_env)
    if not key:
        raise ConfigError(
            f"rewrite.params.api_key_env: the environment variable {p.api_key_env!r} is not set; export it "
            "with the endpoint's API key, or drop api_key_env for an endpoint without a key"
        )
    return key


def open_chat(p: RewriteCompressor.Params, ctx: StageContext, key: str | None) -> Chat:
    """The chat backend the params name (``key``: the endpoint's API key, kept in memory only)."""
    from damoc.data.chat import EndpointChat, load_local_chat

    if p.backend == "local":
        return load_local_chat(p.model, ctx.cache_dir, ctx.device, p.batch_size, ctx.progress)
    assert p.base_url is not None  # the Params validator requires it for this backend
    return EndpointChat(p.base_url, p.model, key, p.timeout_s, p.max_retries, p.backoff_s, p.concurrency, ctx.progress)


def run_round(
    current: list[Example],
    todo: list[tuple[int, TextField]],
    round_no: int,
    chat: Chat,
    judge: Judge | None,
    p: RewriteCompressor.Params,
    ctx: StageContext,
    rejected: dict[tuple[int, TextField], tuple[int, str]],
) -> list[tuple[int, TextField]]:
    """Rewrite every ``(example, field)`` in ``todo`` once; update ``current``; return what goes on.

    A rejected rewrite is recorded in ``rejected`` with its round and reason, and its text leaves the loop.
    """
    texts = [_get(current[i], f) for i, f in todo]
    replies = cached_replies(chat, texts, [f for _, f in todo], round_no, p, ctx)
    proposed = list(current)
    passed: list[tuple[int, TextField]] = []
    for (i, f), before, reply in zip(todo, texts, replies, strict=True):
        after = clean_reply(reply.text)
        reason = check_rewrite(before, after, reply.finished, current[i], p)
        if reason is None:
            proposed[i] = _set(proposed[i], f, after)
            passed.append((i, f))
        else:
            rejected[(i, f)] = (round_no, reason)
    changed = sorted({i for i, _ in passed})
    if judge is not None and changed:
        worse = judge.worse([current[i] for i in changed], [proposed[i] for i in changed])
        for i in (i for i, bad in zip(changed, worse, strict=True) if bad):
            proposed[i] = current[i]
            rejected.update({(j, f): (round_no, "judge") for j, f in passed if j == i})
    kept = [(i, f) for i, f in passed if proposed[i] is not current[i]]
    current[:] = proposed
    log.info("rewrite round %d: %d of %d rewrites accepted", round_no, len(kept), len(todo))
    tick(ctx.progress, "rewrite rounds", round_no, p.max_rounds)
    return kept


def cached_replies(
    chat: Chat, texts: list[str], fields: list[TextField], round_no: int, p: RewriteCompressor.Params, ctx: StageContext
) -> list[Reply]:
    """The chat model's reply to each text's request, from the cache or generated (and cached as it arrives).

    Identical requests (a passage shared by several questions) are sent once.
    """
    root = cache_root(ctx.cache_dir)
    keys = [
        reply_key(t, KINDS[f], chat.model_id, p.prompt_template, round_no, p.max_new_tokens)
        for t, f in zip(texts, fields, strict=True)
    ]
    first = {k: n for n, k in reversed(list(enumerate(keys)))}  # key -> its first request
    found = {k: r for k in first if (r := read_cached(root, k)) is not None}
    missing = [k for k in first if k not in found]
    log.info("rewrite round %d: %d of %d distinct replies cached", round_no, len(found), len(first))

    def store(j: int, reply: Reply) -> None:
        found[missing[j]] = reply
        write_json_atomic(entry_path(root, missing[j]), {"text": reply.text, "finished": reply.finished})

    if missing:
        sources = [first[k] for k in missing]
        messages = [p.prompt_template.format(text=texts[n], kind=KINDS[fields[n]]) for n in sources]
        chat.replies(messages, [reply_limit(texts[n], chat, p.max_new_tokens) for n in sources], on_reply=store)
    return [found[k] for k in keys]


def reply_limit(text: str, chat: Chat, max_new_tokens: int) -> int:
    """``max_new_tokens``, and at most the text's own token count where the backend can count: a reply as long is rejected anyway."""
    tokens = chat.count_tokens(text)
    return max_new_tokens if tokens is None else max(1, min(max_new_tokens, tokens))


def reply_key(text: str, kind: str, model_id: str, template: str, round_no: int, max_new_tokens: int) -> str:
    """sha256 of what decides a reply: the text and its kind, the model, the request template, the round, the token limit."""
    blob = json.dumps([CACHE_VERSION, text, kind, model_id, template, round_no, max_new_tokens], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_root(cache_dir: Path | None) -> Path:
    """``<cache_dir>/rewrite`` (``cache_dir`` None: ``$DAMOC_CACHE`` or ``~/.cache/damoc``)."""
    from damoc.candidates.bundled import default_cache_dir

    return (cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_FOLDER


def entry_path(root: Path, key: str) -> Path:
    """Where the reply of ``key`` is stored (two-character fan-out keeps folders small)."""
    return root / key[:2] / f"{key}.json"


def read_cached(root: Path, key: str) -> Reply | None:
    """The cached reply of ``key``; None when absent or unreadable (it is then generated again)."""
    try:
        data = json.loads(entry_path(root, key).read_text(encoding="utf-8"))
        return Reply(str(data["text"]), bool(data["finished"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clean_reply(text: str) -> str:
    """The reply without surrounding whitespace or quotes and without a lead-in such as "Here is the passage:"."""
    text = _PREAMBLE.sub("", text.strip(), count=1).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    return text


def check_rewrite(before: str, after: str, finished: bool, ex: Example, p: RewriteCompressor.Params) -> str | None:
    """Why the rewrite ``before -> after`` of one of ``ex``'s texts is rejected; None when it passes."""
    if not finished:
        return "truncated"
    if not after.strip():
        return "empty"
    if len(after) > (1 - p.min_shrink) * len(before):
        return "not_shorter"
    answer = answer_text(ex)
    if (has_span(after, answer) and not has_span(before, answer)) or (
        len(_LETTER_LEAK.findall(after)) > len(_LETTER_LEAK.findall(before))
    ):
        return "leak"
    if any(has_span(after, c) and not has_span(before, c) for c in ex.choices or ()):
        return "added_choice"
    if any(has_span(before, s) and not has_span(after, s) for s in kept_spans(ex, p.keep_spans)):
        return "lost_span"
    return None


class Judge:
    """The reference model's answer margins before and after a rewrite (see :func:`answer_margins`)."""

    def __init__(self, p: RewriteCompressor.Params, ctx: StageContext) -> None:
        from damoc.data.likelihood import load_reference_model

        self.model, self.tokenizer = load_reference_model(p.judge_model, ctx.cache_dir, ctx.device)
        self.p, self.ctx = p, ctx

    def worse(self, before: list[Example], after: list[Example]) -> list[bool]:
        """Per pair, whether the rewrite lowered the answer's margin by more than ``judge_tolerance``."""
        margins = answer_margins(
            before + after, self.model, self.tokenizer, self.p.judge_max_seq_len, self.p.batch_size, self.ctx
        )
        n = len(before)
        return [bool(margins[n + k] < margins[k] - self.p.judge_tolerance) for k in range(n)]


def answer_margins(
    examples: list[Example], model: Any, tokenizer: Any, max_seq_len: int, batch_size: int, ctx: StageContext
) -> np.ndarray:
    """Per example, how much the model prefers the right answer, in nats.

    Multiple choice: the summed log-likelihood of the right choice after the prompt minus the best
    of the other choices'; qa (or a single choice): the answer's summed log-likelihood.
    """
    from damoc.data.likelihood import pad_id_of, prompt_answer_ids, start_ids, tail_token_nlls

    scored: list[Example] = []
    owner: list[int] = []
    for n, ex in enumerate(examples):
        options = range(len(ex.choices)) if ex.choices is not None and isinstance(ex.answer, int) else [ex.answer]
        scored += [dataclasses.replace(ex, answer=a) for a in options]
        owner += [n] * len(options)
    start = start_ids(tokenizer)
    seqs = [(start + ids + ans, len(ans)) for ids, ans in prompt_answer_ids(scored, tokenizer, max_seq_len, ctx.prompt)]
    nlls = tail_token_nlls(model, seqs, pad_id=pad_id_of(tokenizer), batch_size=batch_size, progress=ctx.progress)
    loglik = np.array([-float(x.sum()) for x in nlls])
    margins = np.zeros(len(examples))
    for n, ex in enumerate(examples):
        ll = loglik[[k for k, o in enumerate(owner) if o == n]]
        if len(ll) > 1 and isinstance(ex.answer, int):
            margins[n] = ll[ex.answer] - np.delete(ll, ex.answer).max()
        else:
            margins[n] = ll[0]
    return margins


def rewrite_record(
    before: list[Example], after: list[Example], rejected: dict[tuple[int, TextField], tuple[int, str]]
) -> FilterRecord:
    """Per example, the prompt side's characters after / before; per reason, how many rewrites were rejected."""
    ratios: list[float | None] = []
    for b, a in zip(before, after, strict=True):
        size = len(b.question) + len(b.context or "")
        ratios.append((len(a.question) + len(a.context or "")) / size if size else None)
    counts: dict[str, int] = {}
    reasons: dict[int, str] = {}
    for (i, field), (round_no, reason) in sorted(rejected.items()):
        counts[reason] = counts.get(reason, 0) + 1
        reasons[i] = f"{reasons[i]}; " if i in reasons else ""
        reasons[i] += f"{field} rewrite of round {round_no} rejected: {reason}"
    return FilterRecord("rewrite_length_ratio", ratios, dict(sorted(counts.items())), reasons)


def _get(ex: Example, field: TextField) -> str:
    return (ex.question if field == "question" else ex.context) or ""


def _set(ex: Example, field: TextField, text: str) -> Example:
    return dataclasses.replace(ex, question=text) if field == "question" else dataclasses.replace(ex, context=text)
