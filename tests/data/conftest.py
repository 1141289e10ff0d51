"""Fixtures of the data-stage tests: a real local chat endpoint and working params for every compressor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from damoc.registry import registry
from damoc.testing import ChatServer

CompressorParams = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ChatServer]:
    """A real OpenAI-compatible endpoint on 127.0.0.1 whose replies drop filler words (for ``rewrite``)."""
    with ChatServer() as server:
        yield server


@pytest.fixture
def compressor_params(tiny_model_dirs: dict[str, Path], chat_server: ChatServer) -> CompressorParams:
    """Params that make each compressor runnable here (rewrite: the local endpoint; a scorer: the tiny llama)."""

    def params(name: str) -> dict[str, Any]:
        if name == "rewrite":
            return {"backend": "openai", "base_url": chat_server.url, "model": "test", "min_words": 2, "backoff_s": 0.0}
        if name == "llmlingua2":
            return llmlingua2_params()
        fields = registry("compressor").get(name).Params.model_fields
        return (
            {"reference_model": str(tiny_model_dirs["llama"]), "batch_size": 4} if "reference_model" in fields else {}
        )

    return params


def llmlingua2_params() -> dict[str, Any]:
    """Params for the llmlingua2 step; skips the test unless llmlingua and a local LLMLingua-2 model are there.

    llmlingua is not a damoc dependency, and its models come from the hub: set DAMOC_LLMLINGUA2_MODEL to a
    local copy (a folder named like the hub model, e.g. llmlingua-2-bert-base-multilingual-cased-meetingbank).
    """
    import importlib.util
    import os

    if importlib.util.find_spec("llmlingua") is None:
        pytest.skip("llmlingua is not installed (pip install llmlingua)")
    model = os.environ.get("DAMOC_LLMLINGUA2_MODEL")
    if not model:
        pytest.skip("DAMOC_LLMLINGUA2_MODEL does not name a local LLMLingua-2 model")
    return {"model": model, "rate": 0.6, "min_words": 2}
