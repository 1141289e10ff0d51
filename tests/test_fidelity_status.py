"""benchmarks/fidelity.py --status: a ground truth's state read from hand-made cache entries."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("fidelity")


def _checkpoint(entry: Path, key: str, step: int, folder: str = "checkpoint") -> None:
    cp = entry / folder
    cp.mkdir(parents=True)
    (cp / "state.json").write_text(json.dumps({"key": key, "step": step, "train_seconds": 12.5 * step}))
    (cp / "trainable.safetensors").write_bytes(b"w")
    (cp / "optimizer.pt").write_bytes(b"o")


def test_not_started_training_and_trained(mod: ModuleType, tmp_path: Path) -> None:
    entry = tmp_path / "k1"
    entry.mkdir()
    assert mod.entry_status(entry, "k1", 300) == {"state": "not started", "step": 0, "steps": 300}
    _checkpoint(entry, "other-key", 250)  # another run's checkpoint is not this one's progress
    assert mod.entry_status(entry, "k1", 300)["state"] == "not started"
    _checkpoint(entry, "k1", 57, folder=".checkpoint.old-1")
    row = mod.entry_status(entry, "k1", 300)
    assert (row["state"], row["step"], row["train_seconds"]) == ("training", 57, 712.5)
    line = mod.status_line({"task": "t", "epochs": 1.0, "candidate": "c", "key": "k1"} | row)
    # 712 s / 57 steps = 12.5 s a step; 243 steps left x 12.49 s = 3,035 s, about 51 min
    assert (
        line == "t (1 ep) c [k1]: training: step 57 of 300 (712 s of training so far; 12.5 s a step, about 51 min left)"
    )
    entry2 = tmp_path / "k2"
    _checkpoint(entry2, "k2", 300)
    assert mod.entry_status(entry2, "k2", 300)["state"] == "trained, evaluation left"


def test_done_reads_the_result(mod: ModuleType, tmp_path: Path) -> None:
    result = tmp_path / "k" / "result"
    result.mkdir(parents=True)
    (result / "eval.json").write_text(json.dumps({"metrics": {"acc": 0.71, "acc_norm": 0.72}, "seconds": 491.0}))
    (result / "train.json").write_text(json.dumps({"seconds": 3693.8}))
    _checkpoint(tmp_path / "k", "k", 100)
    assert mod.entry_status(tmp_path / "k", "k", 300)["state"] == "training"  # no manifest: not finished
    (result / "manifest.json").write_text(json.dumps({"config_hash": "k"}))
    row = mod.entry_status(tmp_path / "k", "k", 300)
    assert row["state"] == "done" and row["metrics"] == {"acc": 0.71, "acc_norm": 0.72}
    line = mod.status_line({"task": "t", "epochs": 3.0, "candidate": "c", "key": "k"} | row)
    assert line == "t (3 ep) c [k]: done: acc 0.710, acc_norm 0.720 (3694 s training, 491 s evaluation)"


def test_cell_overrides_choose_the_baselines(mod: ModuleType, tmp_path: Path) -> None:
    """`--baselines` gives a partial cell's config: the same run folder and budget, only those baselines."""
    from damoc.loading import load_config

    config = mod.ROOT / "configs" / "reading_comprehension.yaml"
    full = load_config(config, mod.overrides("reading_comprehension", 0.03125, 1.0, tmp_path))
    part = load_config(
        config, mod.overrides("reading_comprehension", 0.03125, 1.0, tmp_path, "", mod.baselines_option(["model_size"]))
    )
    assert mod.baselines_option(None) == mod.BASELINES
    assert full.selection.baselines == ["model_size", "zero_shot", "subset_tuning", "data_only", "model_only", "ats"]
    assert part.selection.baselines == ["model_size"]
    assert part.run_dir == full.run_dir == tmp_path / "reading_comprehension" / "e1-b0.03125"
    assert part.budget == full.budget == 0.03125
    assert full.selection.baseline_params == {"ats": {"test_examples": 144}}
    assert part.selection.baseline_params == {}  # a baseline's params only when it runs (else refused)


def test_ats_test_set_is_the_proxies_evaluation_cap(mod: ModuleType) -> None:
    """ats's test loss uses as many eval examples as the proxies may: every task config's sequential cap."""
    from damoc.loading import load_config

    for task in mod.TASKS:
        cfg = load_config(mod.ROOT / "configs" / f"{task}.yaml", [])
        assert cfg.evaluation.sequential_max_examples == mod.ATS_TEST_EXAMPLES, task
