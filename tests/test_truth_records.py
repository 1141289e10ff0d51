"""benchmarks/truth_records.py: a real (tiny) ground truth kept as a record, and found finished from it on an empty cache."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from damoc.context import StageContext
from damoc.loading import parse_config
from damoc.testing import tiny_run_config
from damoc.validation.cache import cache_root
from damoc.validation.stage import ground_truth, load_task


@pytest.fixture()
def mod(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("truth_records")


def test_a_recorded_ground_truth_is_found_finished_on_an_empty_cache(
    mod: ModuleType, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    gt = {"epochs": 1, "batch_size": 8, "curve_fractions": []}
    cfg = parse_config(tiny_run_config(tmp_path, {"llama": tiny_model_dirs["llama"]}, ground_truth=gt))
    spec, ctx = cfg.candidates[0], StageContext.from_config(cfg, None)
    train, evals = load_task(cfg)
    first = ground_truth(cfg, spec, train, evals, ctx)
    key = first.train.cache_key
    entry, records = cache_root(cfg.cache_dir) / key, tmp_path / "records"
    assert mod.save_record(entry / "missing", key, records) is None  # nothing finished there
    record = mod.save_record(entry, key, records)
    assert record == records / key
    assert sorted(p.name for p in record.iterdir()) == sorted(mod.FILES)  # the small files, no adapter weights
    shutil.rmtree(entry)  # a new machine: the cache is empty
    assert mod.restore(entry, "another-key", records) is False  # a record is found only by its own key
    assert mod.restore(entry, key, records) is True
    assert json.loads((entry / "result" / "manifest.json").read_text())["restored_from"] == str(record)
    again = ground_truth(cfg, spec, train, evals, ctx)  # found finished: not trained a second time
    assert again.rows == first.rows and again.evaluation.metrics == first.evaluation.metrics
    assert again.train.seconds == first.train.seconds and again.train.losses == first.train.losses
    assert not (entry / "result" / "adapter").exists()


def test_an_incomplete_record_is_refused_by_name(mod: ModuleType, tmp_path: Path) -> None:
    record = tmp_path / "records" / "k"
    record.mkdir(parents=True)
    (record / "manifest.json").write_text(json.dumps({"config_hash": "k"}))
    with pytest.raises(SystemExit, match=r"lacks \['train.json'"):
        mod.restore(tmp_path / "cache" / "k", "k", tmp_path / "records")
    assert not (tmp_path / "cache" / "k" / "result").exists()
