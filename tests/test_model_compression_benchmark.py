"""benchmarks/model_compression.py: scorer variants with params are parsed, gridded and built as named."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest

from damoc.model.base import SCORERS


@pytest.fixture(scope="module")
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("model_compression")


def test_scorer_variant_labels_parse_to_registered_params(mod: ModuleType) -> None:
    assert mod.scorer_variant("block_influence") == ("block_influence", {})
    name, params = mod.scorer_variant("perplexity_drop(one_shot=true,protect_last=2)")
    assert (name, params) == ("perplexity_drop", {"one_shot": True, "protect_last": 2})
    scorer = SCORERS.build(name, params)
    assert scorer.params.one_shot is True and scorer.params.protect_last == 2


@pytest.mark.parametrize("bad", ["perplexity_drop(one_shot)", "perplexity_drop(one_shot=true", "a/b(x=1)"])
def test_malformed_scorer_variants_are_refused(mod: ModuleType, bad: str) -> None:
    with pytest.raises(SystemExit, match="scorer variant"):
        mod.scorer_variant(bad)


def test_variants_join_the_grid_with_plain_removal(mod: ModuleType) -> None:
    g = mod.grid(False, ["perplexity_drop(one_shot=true)"])
    assert g["perplexity_drop(one_shot=true)"] == ["none"]
    assert set(SCORERS.names()) < set(g) and len(g[mod.DEFAULT_SCORER]) > 1
