"""Chat replies for data steps: a local causal LM (greedy ``generate``) or an OpenAI-compatible endpoint.

Both backends answer a list of single-turn user messages, each with its own token limit, and call
``on_reply(index, reply)`` as each reply arrives, so a caller can store it at once (a killed pass
keeps what it had). A :class:`Reply` says whether the model stopped by itself or hit the limit.
The endpoint backend talks to any server with ``POST /v1/chat/completions`` (vLLM, llama.cpp server,
TGI) through the ``openai`` client, imported when the backend is built.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from damoc.errors import ModelError
from damoc.progress import ProgressFn, tick

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """One chat reply: its text and whether the model ended it (False: cut at the token limit)."""

    text: str
    finished: bool


OnReply = Callable[[int, Reply], None]


class Chat(Protocol):
    """A chat backend: one reply per user message."""

    @property
    def model_id(self) -> str:
        """What identifies the model's replies (a weights fingerprint, or the model name an endpoint serves)."""
        ...

    def replies(self, messages: list[str], limits: list[int], on_reply: OnReply | None = None) -> list[Reply]:
        """One reply per message, each at most ``limits[i]`` new tokens, in input order."""
        ...

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` in the model's tokenizer; None when the backend cannot count them."""
        ...


@dataclass
class LocalChat:
    """Greedy chat replies from a local causal LM, through its chat template when it has one.

    Messages are generated in batches of similar length (left-padded); a tokenizer without a chat
    template gets the bare message followed by a newline. ``load`` returns ``(model, tokenizer)`` and
    runs on first use, so a pass whose replies are all cached never loads the model.
    """

    load: Callable[[], tuple[Any, Any]]
    model_id: str
    batch_size: int = 8
    progress: ProgressFn | None = None
    _loaded: tuple[Any, Any] | None = field(default=None, init=False, repr=False)

    @property
    def model(self) -> Any:
        """The causal LM (loaded on first use)."""
        return self._parts()[0]

    @property
    def tokenizer(self) -> Any:
        """Its tokenizer (loaded on first use)."""
        return self._parts()[1]

    def _parts(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = self.load()
        return self._loaded

    def replies(self, messages: list[str], limits: list[int], on_reply: OnReply | None = None) -> list[Reply]:
        """One greedy reply per message (see :class:`Chat`)."""
        prompts = [self._prompt_ids(m) for m in messages]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[Reply] = [Reply("", False)] * len(prompts)
        for lo in range(0, len(order), self.batch_size):
            idx = order[lo : lo + self.batch_size]
            for i, reply in zip(idx, self._generate([prompts[i] for i in idx], [limits[i] for i in idx]), strict=True):
                out[i] = reply
                if on_reply is not None:
                    on_reply(i, reply)
            tick(self.progress, "chat replies", min(lo + self.batch_size, len(order)), len(order))
        return out

    def count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_ids(self, message: str) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(
                [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
            )
            return list(tok(text, add_special_tokens=False)["input_ids"])
        return list(tok(message + "\n")["input_ids"])

    def _generate(self, prompts: list[list[int]], limits: list[int]) -> list[Reply]:
        import torch
        from transformers import GenerationConfig

        from damoc.data.likelihood import pad_id_of

        pad, stops = pad_id_of(self.tokenizer), self._stop_ids()
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, p in enumerate(prompts):  # left padding: every prompt ends at the last column
            ids[row, width - len(p) :] = torch.tensor(p)
            mask[row, width - len(p) :] = 1
        config = GenerationConfig(do_sample=False, max_new_tokens=max(limits), pad_token_id=pad, eos_token_id=stops)
        with torch.inference_mode():
            gen = self.model.generate(
                input_ids=ids.to(self.model.device), attention_mask=mask.to(self.model.device), generation_config=config
            )
        return [self._reply(row[width:].tolist()[:limit], stops) for row, limit in zip(gen, limits, strict=True)]

    def _stop_ids(self) -> list[int]:
        ends = self.model.generation_config.eos_token_id
        ends = ends if isinstance(ends, list) else [ends]
        return sorted({int(t) for t in [*ends, self.tokenizer.eos_token_id] if t is not None})

    def _reply(self, tokens: list[int], stops: list[int]) -> Reply:
        end = next((k for k, t in enumerate(tokens) if t in stops), None)
        kept = tokens if end is None else tokens[:end]
        return Reply(self.tokenizer.decode(kept, skip_special_tokens=True), finished=end is not None)


def load_local_chat(
    ref: str, cache_dir: Path | None, device: str, batch_size: int, progress: ProgressFn | None = None
) -> LocalChat:
    """A :class:`LocalChat` on a bundled alias, folder, .gguf or hub id; ``model_id`` fingerprints its weights.

    The reference is resolved now (a wrong one fails here); the weights load on first use.
    """
    from damoc.candidates.resolve import load_model, resolve_model_ref
    from damoc.validation.cache import weights_fingerprint

    resolved = resolve_model_ref(ref, cache_dir)

    def load() -> tuple[Any, Any]:
        model, tokenizer = load_model(resolved, device)
        model.eval()
        return model, tokenizer

    model_id = weights_fingerprint(resolved, resolved.name if resolved.kind == "alias" else None)
    return LocalChat(load, model_id, batch_size, progress)


@dataclass
class EndpointChat:
    """Chat replies from an OpenAI-compatible endpoint, ``concurrency`` requests at a time.

    A request that fails with a connection error, a timeout, HTTP 408/409/429 or a 5xx status is
    retried up to ``max_retries`` times after ``backoff_s * 2**attempt`` seconds; other HTTP errors
    (a wrong model name, a refused key) fail at once. ``temperature`` 0 asks for greedy replies.
    """

    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    concurrency: int = 4
    progress: ProgressFn | None = None

    @property
    def model_id(self) -> str:
        """The model name the endpoint serves, not its URL: the same model behind a new port or host is the same model."""
        return f"endpoint:{self.model}"

    def replies(self, messages: list[str], limits: list[int], on_reply: OnReply | None = None) -> list[Reply]:
        """One reply per message (see :class:`Chat`); ``on_reply`` runs in the calling thread.

        The first request that fails for good stops the pass: queued requests are not sent, and the
        replies that arrived before were already handed to ``on_reply``.
        """
        from concurrent.futures import ThreadPoolExecutor, as_completed, wait

        client, stop = self._client(), threading.Event()
        out: list[Reply] = [Reply("", False)] * len(messages)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            jobs = enumerate(zip(messages, limits, strict=True))
            futures = {pool.submit(self._complete, client, m, n, stop): i for i, (m, n) in jobs}
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    i = futures[future]
                    out[i] = future.result()
                    if on_reply is not None:
                        on_reply(i, out[i])
                    tick(self.progress, "chat replies", done, len(messages))
            except BaseException as exc:
                stop.set()
                wait([f for f in futures if not f.cancel()])
                failure = _first_failure(list(futures)) if isinstance(exc, Exception) else None
                raise (failure or exc) from None
        return out

    def count_tokens(self, text: str) -> int | None:
        """None: the endpoint's tokenizer is not known here."""
        return None

    def _client(self) -> Any:
        try:
            from openai import OpenAI
        except ImportError:
            raise ModelError("the openai chat backend needs the openai package (pip install openai==3.57.0)") from None
        # retries are ours (max_retries=0 here) so that their number and backoff are the step's params
        return OpenAI(base_url=self.base_url, api_key=self.api_key or "none", timeout=self.timeout_s, max_retries=0)

    def _complete(self, client: Any, message: str, limit: int, stop: threading.Event) -> Reply:
        import openai

        for attempt in range(self.max_retries + 1):
            if stop.is_set():  # another request failed for good: send nothing more
                raise _Stopped
            try:
                response = client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": "user", "content": message}],
                    max_tokens=limit,
                    temperature=0.0,
                )
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                if not _retryable(exc):
                    stop.set()
                    status = getattr(exc, "status_code", "?")
                    raise ModelError(f"{self.base_url}: chat request refused: HTTP {status}: {exc}") from None
                if attempt == self.max_retries:
                    stop.set()
                    raise ModelError(
                        f"{self.base_url}: chat request failed after {attempt + 1} attempts: {type(exc).__name__}: {exc}"
                    ) from None
                log.info(
                    "%s: %s; retry %d in %.2f s", self.base_url, type(exc).__name__, attempt + 1, self._wait(attempt)
                )
                time.sleep(self._wait(attempt))
            else:
                if not response.choices:
                    raise ModelError(f"{self.base_url}: chat reply for model {self.model!r} has no choices")
                choice = response.choices[0]
                return Reply(choice.message.content or "", finished=choice.finish_reason != "length")
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, attempt: int) -> float:
        return float(self.backoff_s * 2**attempt)


RETRY_STATUS = (408, 409, 429)
"""HTTP statuses retried besides 5xx (timeout, conflict, rate limit), as the openai client itself does."""


def _retryable(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    return status is None or status in RETRY_STATUS or status >= 500


class _Stopped(Exception):
    """A queued request not sent because another one failed for good."""


def _first_failure(futures: list[Any]) -> ModelError | None:
    """The first request's error that stopped a pass (not a queued request's :class:`_Stopped`)."""
    for future in futures:
        if future.done() and not future.cancelled() and isinstance(future.exception(), ModelError):
            return future.exception()  # type: ignore[no-any-return]
    return None
