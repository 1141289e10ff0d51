"""Shared fixtures: tiny real transformers models (6 layers, hidden 32) built from configs, a tiny
byte-level BPE tokenizer trained in code, and a small multiple-choice dataset written to JSONL.
The builders live in :mod:`damoc.testing` so benchmarks can use them too."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from damoc.testing import TINY_ARCHS as ARCHS
from damoc.testing import build_tiny_model, build_tiny_tokenizer, make_mc_records, write_jsonl


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer (any text round-trips) saved as a PreTrainedTokenizerFast."""
    from transformers import PreTrainedTokenizerFast

    out = build_tiny_tokenizer(tmp_path_factory.mktemp("tiny_tokenizer"))
    reloaded = PreTrainedTokenizerFast.from_pretrained(out)
    text = "Question: What is 2 plus 3? Ünïcode ok"
    assert reloaded.decode(reloaded(text)["input_ids"]) == text
    return out


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> dict[str, Path]:
    """arch -> folder with a randomly initialised 6-layer model (safetensors) and the tiny tokenizer."""
    return {
        arch: build_tiny_model(arch, tmp_path_factory.mktemp(f"tiny_{arch}"), tiny_tokenizer_dir, seed=i)
        for i, arch in enumerate(ARCHS)
    }


@pytest.fixture()
def mc_files(tmp_path: Path) -> tuple[Path, Path]:
    """(train.jsonl, eval.jsonl) with 48 and 16 arithmetic multiple-choice examples."""
    return (
        write_jsonl(tmp_path / "train.jsonl", make_mc_records(48, seed=0)),
        write_jsonl(tmp_path / "eval.jsonl", make_mc_records(16, seed=1)),
    )


@pytest.fixture(scope="session")
def benchmark_script() -> Callable[[str], ModuleType]:
    """A loader of ``benchmarks/<name>.py`` as a module (the benchmark scripts are not a package)."""

    def load(name: str) -> ModuleType:
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module

    return load
