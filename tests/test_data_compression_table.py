"""benchmarks/data_compression.py's README table: the effect-on-the-pick column from stored-truth variants."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("data_compression")


def _cell(tie: bool, strict: bool) -> dict[str, bool]:
    return {"top1_tie_aware": tie, "top1_strict": strict}


def test_pick_effect_counts_one_epoch_cells_of_each_variant(mod: ModuleType) -> None:
    variants = {
        "filter-random": {"tasks": {"a": _cell(True, False), "b": _cell(False, False), "c": _cell(True, True)}},
        "filter-deita": {"tasks": {"a": _cell(True, True)}},
        "filter-deita-pool4": {"tasks": {"a": _cell(True, True), "a@3ep": _cell(False, False)}},  # 3-epoch: left out
    }
    assert mod.pick_effect("random", variants) == "filter-random: 2 of 3 (1 strict)"
    assert (
        mod.pick_effect("deita", variants) == "filter-deita: 1 of 1 (1 strict); filter-deita-pool4: 1 of 1 (1 strict)"
    )
    assert mod.pick_effect("minhash_dedup", variants) == "not measured"


def test_table_shows_the_effect_once_per_method(mod: ModuleType) -> None:
    row = {"kind": "filter", "examples_in": 10, "kept": 5, "tokens": [100, 50], "token_compression": 2.0}
    results = {"tasks": {"t": {"random": {**row, "seconds": 1.0, "examples_per_second": 10.0}},
                         "pooled": {"random": {**row, "seconds": 2.0, "examples_per_second": 5.0}}}}  # fmt: skip
    variants = {"filter-random": {"tasks": {"t": _cell(True, True)}}}
    lines = mod.markdown_table(results, variants).splitlines()
    assert lines[2].endswith("| filter-random: 1 of 1 (1 strict) |") and lines[3].endswith("| 5.0 |  |")
