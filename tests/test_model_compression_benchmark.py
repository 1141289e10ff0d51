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


def _entry(acc: float, loss: float, cells: dict[str, tuple[float, float]]) -> dict:
    return {
        "full": {"acc": acc, "answer_loss": loss},
        "cells": {k: {"acc": a, "answer_loss": lo} for k, (a, lo) in cells.items()},
    }


def test_order_table_ranks_models_and_compares_with_the_uncompressed_order(mod: ModuleType) -> None:
    results = {
        "runs": {
            "a-1/t": _entry(0.5, 2.0, {"0.25/s/none": (0.3, 4.0), "0.25/x/none": (0.1, 1.0)}),
            "b-1/t": _entry(0.4, 3.0, {"0.25/s/none": (0.3, 5.0)}),
            "c-1/t": _entry(0.3, 4.0, {"0.25/s/none": (0.2, 3.0)}),
        }
    }
    rows = mod.order_table(results)
    assert (
        rows[2] == "| t | 0 | uncompressed | a 2.00 < b 3.00 < c 4.00 | +1.00 | a 0.500 > b 0.400 > c 0.300 | +1.00 |"
    )
    # by loss c < a < b: pairs (a,b) kept, (a,c) and (b,c) flipped -> tau = (1 - 2) / 3
    assert rows[3] == "| t | 0.25 | s / none | c 3.00 < a 4.00 < b 5.00 | -0.33 | a 0.300 = b 0.300 > c 0.200 | +0.82 |"
    assert len(rows) == 4  # x was measured on one model only
