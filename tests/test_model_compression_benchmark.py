"""benchmarks/model_compression.py: scorer variants with params are parsed, gridded and built as named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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


def test_scorers_limit_the_grid_and_unknown_names_are_refused(mod: ModuleType) -> None:
    g = mod.grid(False, ["perplexity_drop(one_shot=true)"], ["block_influence", "angular"])
    assert set(g) == {"block_influence", "angular", "perplexity_drop(one_shot=true)"}
    assert g["angular"] == ["none"] and len(g["block_influence"]) == len(mod.grid(False)["block_influence"])
    assert set(mod.grid(False, scorers=["angular"])) == {"angular"}  # no default scorer: no merger cells
    with pytest.raises(SystemExit, match="nope: not a registered scorer"):
        mod.grid(False, scorers=["angular", "nope"])


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


def test_summary_table_averages_loss_rises_and_counts_kept_orders_per_task(mod: ModuleType) -> None:
    results = {
        "runs": {
            "a-1/t": _entry(0.5, 2.0, {"0.25/s/none": (0.3, 4.0), "0.25/x/none": (0.1, 1.0)}),
            "b-1/t": _entry(0.4, 3.0, {"0.25/s/none": (0.3, 5.0)}),
            "c-1/t": _entry(0.3, 4.0, {"0.25/s/none": (0.2, 3.0)}),
            "a-1/u": _entry(0.5, 1.0, {"0.25/s/none": (0.3, 1.5)}),
            "b-1/u": _entry(0.4, 2.0, {"0.25/s/none": (0.3, 3.0)}),
            "c-1/u": _entry(0.4, 3.0, {"0.25/s/none": (0.3, 3.0)}),
            "a-1/v": _entry(0.5, 1.0, {"0.25/s/none": (0.3, 9.0)}),  # v: not measured on b and c yet
        }
    }
    rows = mod.summary_table(results)
    assert rows[0] == "| ratio | scorer / merger | t | u | mean rise | loss order kept |"
    # t: rises +2, +2, -1 -> +1.00, order c < a < b against a < b < c -> tau -1/3; u: rises +0.5, +1, 0 -> +0.50,
    # order a < b = c against a < b < c -> tau-b 2 / sqrt(3 * 2) = +0.82; mean (1.00 + 0.50) / 2; x is on one
    # model of t only: no row
    assert rows[2:] == ["| 0.25 | s / none | +1.00 (-0.33) | +0.50 (+0.82) | +0.75 | 0 of 2 |"]
    assert [r.split(" | ")[0] for r in mod.order_table(results)[2:]] == [
        "| t",
        "| t",
        "| u",
        "| u",
    ]  # v left out there too


def test_acc_change_interval_resamples_whole_clusters(mod: ModuleType) -> None:
    # four clusters of two examples; the compressed model gains one hit in cluster a only
    full = "00100111"
    comp = "10100111"
    groups = ["a", "a", "b", "b", "c", "c", "d", "d"]
    text = mod.acc_change(comp, full, groups)
    point, interval = text.split(" (")
    assert point == "+0.125"  # one more hit of 8
    low, high = (float(x) for x in interval.rstrip(")").split(" to "))
    # a resample holds cluster a 0..4 times of 4 -> mean difference in {0, 1/8, ..., 4/8}: the interval
    # starts at 0 (a drawn no time has probability (3/4)^4 = 0.32) and cannot pass 0.5
    assert low == 0.0 and 0.125 < high <= 0.5
    # the same hits in every cluster: no change and a point interval
    assert mod.acc_change(full, full, groups) == "+0.000 (+0.000 to +0.000)"


def test_grid_table_shows_the_change_with_its_interval(mod: ModuleType) -> None:
    full = {"layers": 4, "acc": 0.5, "answer_loss": 2.0, "hits": "1100", "eval_cpu_seconds": 1, "loss_cpu_seconds": 1}
    cell = {
        "layers_after": 3, "acc": 0.75, "retained_acc": 1.5, "answer_loss": 3.0, "hits": "1110",
        "score_cpu_seconds": 2, "merge_cpu_seconds": 0.0, "eval_cpu_seconds": 1, "loss_cpu_seconds": 1,
    }  # fmt: skip
    results = {"runs": {"m/t": {"full": full, "cells": {"0.25/s/none": cell}}}}
    rows = mod.grid_table(results, {"m/t": ["a", "a", "b", "b"]})
    assert rows[3].startswith("| m | t | 0.25 | s / none | 3 | 0.750 | +0.250 (+0.000 to +0.500) | 1.500 | 3.000 |")


def test_two_runs_sharing_the_results_file_keep_each_others_cells(mod: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "model_compression.json"
    settings = {"dev": 96, "device": "cpu"}
    first = {"runs": {}}
    second = mod.load_results(path)  # both start before either has written
    a = mod.run_entry(first, "smol/task", settings)
    a["scoring"]["0.25/block_influence"] = {"removed": [3]}
    a["cells"]["0.25/block_influence/none"] = {"acc": 0.5}
    mod.save(first, path)
    b = mod.run_entry(second, "smol/task", {**settings, "full_grid": True})  # full_grid: the same cells' identity
    b["cells"]["0.25/block_influence/ties"] = {"acc": 0.4}
    c = mod.run_entry(second, "qwen/task", settings)
    c["cells"]["0.25/angular/none"] = {"acc": 0.3}
    mod.save(second, path)
    mod.save(first, path)  # the first run writes again, after the second
    stored = mod.load_results(path)["runs"]
    assert set(stored["smol/task"]["cells"]) == {"0.25/block_influence/none", "0.25/block_influence/ties"}
    assert stored["smol/task"]["scoring"] == {"0.25/block_influence": {"removed": [3]}}
    assert stored["qwen/task"]["cells"] == {"0.25/angular/none": {"acc": 0.3}}
    with pytest.raises(SystemExit, match="stored results were measured with"):
        mod.run_entry(mod.load_results(path), "smol/task", {**settings, "dev": 48})


def test_a_cell_another_run_stored_meanwhile_is_skipped_and_joined(mod: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "model_compression.json"
    settings = {"dev": 96, "device": "cpu"}
    mine = {"runs": {}}
    entry = mod.run_entry(mine, "qwen/task", settings)  # this run lists its work before the other writes
    assert not mod.stored_meanwhile(mine, path, entry, "0.5/angular/ties")  # no file yet
    other = {"runs": {}}
    theirs = mod.run_entry(other, "qwen/task", {**settings, "full_grid": True})
    theirs["scoring"]["0.5/angular"] = {"removed": [4, 5]}
    theirs["cells"]["0.5/angular/ties"] = {"acc": 0.25}
    mod.save(other, path)
    assert mod.stored_meanwhile(mine, path, entry, "0.5/angular/ties")
    assert not mod.stored_meanwhile(mine, path, entry, "0.5/angular/dare")
    assert entry["scoring"] == {"0.5/angular": {"removed": [4, 5]}}  # its layer scores are reused
