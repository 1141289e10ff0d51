"""benchmarks/stored_truth.py: a proxy ranking judged against a stored ground truth, by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("stored_truth")


def _row(name: str, rank: int, score: float, train: float) -> dict:  # type: ignore[type-arg]
    return {
        "candidate": name, "rank": rank, "score": score, "tied_with": [],
        "seconds": {"model": 5.0, "train": train, "eval": 25 / 3}, "train_tokens": 1000 * rank, "layers_after": 10,
    }  # fmt: skip


def test_judge_by_hand(mod: ModuleType) -> None:
    cell = {
        "truth_order": ["a", "b", "c"],
        "truth_tie_group": ["a", "b"],
        "truth_scores": {n: {"point": p} for n, p in {"a": 0.7, "b": 0.65, "c": 0.4}.items()},
        "costs": {"truth_seconds": {"train": 1000.0, "eval": 500.0, "total": 1500.0}, "truth_token_layers": 3_000_000},
    }
    ranking = {
        "candidates": [_row("a", 3, 0.3, 10.0), _row("b", 1, 0.5, 20.0), _row("c", 2, 0.4, 20.0)],
        "chance": 0.25,
        "above_chance": ["b", "c"],
    }
    out = mod.judge(ranking, cell, data_seconds=10.0)
    assert out["proxy_order"] == ["b", "c", "a"]
    # b is not the best (a) but in its tie group; RelAcc (0.65 - 0.4) / (0.7 - 0.4)
    assert out["top1_strict"] is False and out["top1_tie_aware"] is True
    assert out["relacc"] == pytest.approx(0.25 / 0.3)
    # pairs (a,b) and (a,c) discordant, (b,c) concordant: tau = (1 - 2) / 3
    assert out["kendall_tau"] == pytest.approx(-1 / 3)
    # proxy: data 10 + model 15 + train 50 + eval 25 = 100 s; tokens x layers (1000 + 2000 + 3000) x 10
    assert out["proxy_seconds"]["total"] == pytest.approx(100.0)
    assert out["train_speedup"] == pytest.approx(20.0) and out["end_to_end_speedup"] == pytest.approx(15.0)
    assert out["token_layer_speedup"] == pytest.approx(50.0)
    assert out["proxy_leader_above_chance"] is True


def test_a_task_without_stored_truth_is_refused_clearly(
    mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mod.fidelity, "RESULTS", tmp_path / "fidelity.json")
    with pytest.raises(SystemExit, match=r"no ground truth for general_qa at budget 0\.03125"):
        mod.stored_cell("general_qa", 0.03125)


def test_a_cell_of_other_epochs_is_found_by_its_own_key(
    mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    stored = {"tasks": {"medical_qa": {"epochs": 1, "budgets": {"0.03125": {"pick": "one"}}},
                        "medical_qa@3ep": {"epochs": 3, "budgets": {"0.03125": {"pick": "three"}}}}}  # fmt: skip
    (tmp_path / "fidelity.json").write_text(json.dumps(stored))
    monkeypatch.setattr(mod.fidelity, "RESULTS", tmp_path / "fidelity.json")
    assert mod.stored_cell("medical_qa", 0.03125)["pick"] == "one"
    assert mod.stored_cell("medical_qa", 0.03125, 3.0)["pick"] == "three"
    with pytest.raises(SystemExit, match=r"no ground truth for medical_qa@2ep at budget 0\.03125.*--epochs 2 first"):
        mod.stored_cell("medical_qa", 0.03125, 2.0)


def test_table_marks_hits_and_orders_equal_to_the_stored_default(
    mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    stored = {
        "tasks": {t: {"budgets": {"0.03125": {"proxy_order": ["a-1", "b-2"]}}} for t in ("medical_qa", "general_qa")}
    }
    (tmp_path / "fidelity.json").write_text(json.dumps(stored))
    monkeypatch.setattr(mod.fidelity, "RESULTS", tmp_path / "fidelity.json")
    cell = {"budget": 0.03125, "end_to_end_speedup": 10.0}
    results = {
        "variants": {
            "v": {
                "overrides": ["data.steps=[{method: random}]"],
                "tasks": {
                    "medical_qa": {**cell, "proxy_order": ["a-1", "b-2"], "top1_tie_aware": True},
                    "general_qa": {
                        **cell,
                        "proxy_order": ["b-2", "a-1"],
                        "top1_tie_aware": False,
                        "end_to_end_speedup": 20.0,
                    },
                },
            }
        }
    }
    row = mod.table(results).splitlines()[-1]
    assert row == "| v | `data.steps=[{method: random}]` | a yes = | b no | 1 of 2 | 10.0-20.0x |"


def test_cells_saved_by_two_variants_at_once_are_both_kept(mod: ModuleType, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "stored_truth.json")
    mod.save_cell("a", ["x=1"], "t1", {"hit": 1})
    mod.save_cell("b", [], "t1", {"hit": 0})  # another process, started before "a" saved
    mod.save_cell("a", ["x=1"], "t2", {"hit": 1})
    stored = mod.load()["variants"]
    assert stored["a"] == {"overrides": ["x=1"], "tasks": {"t1": {"hit": 1}, "t2": {"hit": 1}}}
    assert stored["b"]["tasks"] == {"t1": {"hit": 0}}
    assert not list(tmp_path.glob("*tmp*"))  # no temporary file left behind


def test_drop_proxy_weights_keeps_adapters_and_reports(mod: ModuleType, tmp_path: Path) -> None:
    proxy = tmp_path / "models" / "a" / "proxy"
    adapter = tmp_path / "models" / "a" / "adapter"
    proxy.mkdir(parents=True)
    adapter.mkdir(parents=True)
    (proxy / "model.safetensors").write_bytes(b"x" * 100)
    (proxy / "model-00002-of-00002.safetensors").write_bytes(b"y" * 20)
    (proxy / "layers.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"z" * 7)
    assert mod.drop_proxy_weights(tmp_path) == 120
    assert sorted(p.name for p in proxy.iterdir()) == ["layers.json"]
    assert (adapter / "adapter_model.safetensors").is_file()
    assert mod.drop_proxy_weights(tmp_path) == 0


def test_prediction_by_hand(mod: ModuleType) -> None:
    ranking = {
        "candidates": [_row("a", 2, 0.40, 10.0), _row("b", 1, 0.45, 20.0) | {"tied_with": ["a"]}],
        "top_group": ["b", "a"],
        "chance": 0.25,
        "above_chance": ["a", "b"],
    }
    out = mod.prediction(ranking, data_seconds=7.0)
    assert out["proxy_order"] == ["b", "a"] and out["proxy_scores"] == {"b": 0.45, "a": 0.40}
    assert out["pick_tied_with"] == ["a"] and out["top_group"] == ["b", "a"]
    assert out["proxy_leader_above_chance"] is True
    # model 5 + 5, train 20 + 10, eval 25/3 + 25/3 seconds
    assert out["proxy_seconds"] == {"data": 7.0, "model": 10.0, "train": 30.0, "eval": 16.7, "fallback": 0.0}
    assert out["pick"] == "b" and out["fallback"] is None


def test_the_fallback_pick_is_judged_and_its_seconds_counted(mod: ModuleType) -> None:
    rows = [_row("a", 2, 0.25, 10.0), _row("b", 1, 0.26, 20.0)]
    rows[0]["seconds"]["fallback"], rows[1]["seconds"]["fallback"] = 3.0, 4.0
    fallback = {"method": "perplexity", "pick": "a", "order": ["a", "b"], "proxy_leader": "b"}
    ranking = {"candidates": rows, "top_group": ["b", "a"], "chance": 0.25, "above_chance": [], "fallback": fallback}
    out = mod.prediction(ranking, data_seconds=7.0)
    assert out["pick"] == "a" and out["proxy_order"] == ["b", "a"]  # the proxies' order stays as measured
    assert out["proxy_leader_above_chance"] is False and out["proxy_seconds"]["fallback"] == 7.0
    cell = {
        "truth_scores": {"a": {"point": 0.7}, "b": {"point": 0.5}},
        "truth_tie_group": ["a"],
        "truth_order": ["a", "b"],
        "costs": {"truth_seconds": {"train": 600.0, "total": 900.0}, "truth_token_layers": 1000},
    }
    judged = mod.judge(ranking, cell, data_seconds=7.0)
    assert judged["pick"] == "a" and judged["top1_strict"] and judged["top1_tie_aware"]
    # data 7 + model 10 + train 30 + eval 50/3 + fallback 7 = 70.67 s; 900 / 70.67 = 12.7
    assert judged["proxy_seconds"]["total"] == 70.7 and judged["end_to_end_speedup"] == 12.7


def test_a_prediction_comes_before_its_ground_truth_and_is_never_overwritten(
    mod: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    stored = {"tasks": {"medical_qa": {"epochs": 1, "budgets": {"0.03125": {}}}}}
    (tmp_path / "fidelity.json").write_text(json.dumps(stored))
    monkeypatch.setattr(mod.fidelity, "RESULTS", tmp_path / "fidelity.json")
    monkeypatch.setattr(mod, "RESULTS", tmp_path / "stored_truth.json")
    with pytest.raises(SystemExit, match="medical_qa: its ground truth is already in"):
        mod.predict_variant("medical_qa", 0.03125, 1.0, "v", [], tmp_path)
    stored["tasks"]["medical_qa@3ep"] = {"epochs": 3, "budgets": {"0.03125": {}}}
    (tmp_path / "fidelity.json").write_text(json.dumps(stored))
    with pytest.raises(SystemExit, match="medical_qa@3ep: its ground truth is already in"):
        mod.predict_variant("medical_qa", 0.03125, 3.0, "v", [], tmp_path)  # the 3-epoch cell, not the 1-epoch one
    mod.save_prediction("v", "medical_qa@2ep", {"proxy_order": ["b", "a"]})
    with pytest.raises(SystemExit, match=r"medical_qa@2ep \[v\]: a prediction is already written down"):
        mod.predict_variant("medical_qa", 0.03125, 2.0, "v", [], tmp_path)
    mod.save_prediction("v", "reading_comprehension", {"proxy_order": ["a", "b"]})
    with pytest.raises(SystemExit, match=r"reading_comprehension \[v\]: a prediction is already written down"):
        mod.predict_variant("reading_comprehension", 0.03125, 1.0, "v", [], tmp_path)
    assert json.loads((tmp_path / "stored_truth.json").read_text())["predictions"] == {
        "v": {"medical_qa@2ep": {"proxy_order": ["b", "a"]}, "reading_comprehension": {"proxy_order": ["a", "b"]}}
    }


def test_variant_config_runs_no_baselines_and_loads_with_the_task_configs_ats_params(
    mod: ModuleType, tmp_path: Path
) -> None:
    # the task configs carry selection.baseline_params for ats; a variant without baselines must still load
    steps = "data.steps=[{method: rules}, {method: deita, params: {reference_model: smollm2-135m, pool: 4}}]"
    cfg = mod.variant_config("medical_except", 0.03125, 1.0, "v", [steps], tmp_path, [])
    assert cfg.selection.baselines == [] and cfg.selection.baseline_params == {}
    assert [s.method for s in cfg.data.steps] == [
        "rules",
        "deita",
    ] and cfg.run_dir == tmp_path / "v" / "medical_except" / "e1-b0.03125"
