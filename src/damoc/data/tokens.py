"""Count the training set's tokens for the data report, with one candidate's tokenizer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec, render_prompt, target_text

log = logging.getLogger(__name__)

BATCH = 512
"""Texts tokenised per call (a fast tokenizer works through a batch in parallel)."""


def prompt_target_text(ex: Example, prompt: PromptSpec | None = None) -> str:
    """The prompt followed by the target, no chat template: the text the data report measures."""
    return render_prompt(ex, prompt) + target_text(ex, prompt)


@dataclass(frozen=True)
class TokenCounter:
    """A named tokenizer that counts prompt + target tokens, as ``count_characters`` counts characters."""

    name: str
    tokenizer: Any

    def count(self, examples: list[Example], prompt: PromptSpec | None = None) -> int:
        """Tokens of prompt plus target text (no chat template, no special tokens), summed over ``examples``."""
        texts = [prompt_target_text(ex, prompt) for ex in examples]
        total = 0
        for i in range(0, len(texts), BATCH):
            enc = self.tokenizer(texts[i : i + BATCH], add_special_tokens=False, verbose=False)
            total += sum(len(ids) for ids in enc["input_ids"])
        return total


def candidate_token_counter(spec: Any, cache_dir: Path | None) -> TokenCounter | None:
    """The tokenizer of candidate ``spec`` (a :class:`CandidateSpec`), or None with a warning when it cannot load.

    Token counts are a report figure: a candidate whose tokenizer does not load here fails in its own
    stage with the full error, so the data stage goes on with characters only.
    """
    from damoc.candidates.resolve import load_tokenizer, resolve_candidate

    try:
        src = resolve_candidate(spec, cache_dir)
        tokenizer = load_tokenizer(src.source, revision=src.revision, trust_remote_code=src.trust_remote_code)
    except Exception as exc:
        log.warning(
            "data: tokens not counted (%s's tokenizer did not load: %s: %s)", spec.name, type(exc).__name__, exc
        )
        return None
    return TokenCounter(name=spec.name, tokenizer=tokenizer)
