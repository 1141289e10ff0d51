"""Fixtures of the data-stage tests: a real local chat endpoint and working params for every compressor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from damoc.registry import registry
from damoc.testing import ChatServer, build_tiny_token_classifier, bundled_tiktoken_dir

CompressorParams = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    """A real OpenAI-compatible endpoint on 127.0.0.1 whose replies drop filler words (for ``rewrite``)."""
    with ChatServer() as server:
        yield server


@pytest.fixture(scope="session")
def llmlingua2_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An LLMLingua-2-shaped model for the llmlingua2 step, with tiktoken's encoding found offline.

    DAMOC_LLMLINGUA2_MODEL may name a local copy of a real one (a folder named like the hub model, e.g.
    llmlingua-2-bert-base-multilingual-cased-meetingbank); otherwise a tiny random BERT token classifier
    built here runs through the real llmlingua code. tiktoken's cl100k_base comes from the litellm
    package that ``make`` installs (requirements/models.txt); without it the tests fail, not skip.
    """
    import os

    cache = bundled_tiktoken_dir()
    if cache is None and "TIKTOKEN_CACHE_DIR" not in os.environ:
        pytest.fail("tiktoken's cl100k_base is not on disk: install requirements/models.txt (litellm ships it)")
    model = os.environ.get("DAMOC_LLMLINGUA2_MODEL") or str(
        build_tiny_token_classifier(tmp_path_factory.mktemp("llmlingua") / "tiny-bert-base-multilingual-cased")
    )
    with pytest.MonkeyPatch.context() as mp:
        if cache is not None:
            mp.setenv("TIKTOKEN_CACHE_DIR", os.environ.get("TIKTOKEN_CACHE_DIR", str(cache)))
        yield model


@pytest.fixture
def compressor_params(
    tiny_model_dirs: dict[str, Path], chat_server: ChatServer, llmlingua2_model: str
) -> CompressorParams:
    """Params that make each compressor runnable here (rewrite: the local endpoint; a scorer: the tiny llama)."""

    def params(name: str) -> dict[str, Any]:
        if name == "rewrite":
            return {"backend": "openai", "base_url": chat_server.url, "model": "test", "min_words": 2, "backoff_s": 0.0}
        if name == "llmlingua2":
            return {"model": llmlingua2_model, "rate": 0.6, "min_words": 2}
        fields = registry("compressor").get(name).Params.model_fields
        return (
            {"reference_model": str(tiny_model_dirs["llama"]), "batch_size": 4} if "reference_model" in fields else {}
        )

    return params
