"""benchmarks/speed_probe.py and fidelity.py's use of it: wall-time speed-ups that mix machine speeds are flagged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture()
def probe(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("speed_probe")


@pytest.fixture()
def fidelity(benchmark_script: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_script("fidelity")


def _segment(key: str, probes: list[float]) -> dict[str, Any]:
    return {"key": key, "candidate": "c", "probes_s": probes}


def test_probe_times_a_real_training_step(probe: ModuleType) -> None:
    seconds = probe.probe(repeats=1)
    assert 0 < seconds < 60
    assert probe.machine(seconds)["probe_s"] == seconds


def test_same_speed_is_relative_to_the_faster(probe: ModuleType) -> None:
    assert probe.same_speed(1.0, 1.25) and probe.same_speed(1.25, 1.0)  # 1.25 / 1.0 = 1 + 25%
    assert not probe.same_speed(1.0, 1.26)
    assert not probe.same_speed(0.5, 1.0)  # the 2x slower machine of 2026-12-02


def test_verdict_from_logged_segments(probe: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "segments.jsonl"
    for row in (_segment("a", [1.0, 1.1]), _segment("b", [0.95]), _segment("slow", [2.0, 2.1])):
        probe.log_segment(row, log)
    same = probe.verdict([1.02, 1.0], {"x": "a", "y": "b"}, log)
    assert same["comparable"] is True
    assert same["truth_speeds_s"] == {"x": [1.0], "y": [0.95]}  # each process's fastest probe
    # the cell's fastest probe is 1.0; the slow ground truth's fastest 2.0: 2.0 / 1.0 = 2.0
    mixed = probe.verdict([1.02, 1.0], {"x": "a", "y": "slow"}, log)
    assert mixed["comparable"] is False and mixed["max_ratio"] == 2.0
    # a ground truth without a logged segment is unknown, not assumed comparable ...
    assert probe.verdict([1.0], {"x": "a", "y": "never-logged"}, log)["comparable"] is None
    # ... unless another one already differs
    assert probe.verdict([1.0], {"x": "slow", "y": "never-logged"}, log)["comparable"] is False


def test_a_start_row_and_its_end_row_are_one_process(probe: ModuleType) -> None:
    cold = {"key": "k", "event": "start", "step_before": 0, "probes_s": [1.4]}
    done = {"key": "k", "event": "end", "step_before": 0, "probes_s": [1.4, 1.0]}
    killed = {"key": "k", "event": "start", "step_before": 0, "probes_s": [1.3]}  # another process, never ended
    resumed = {"key": "k", "event": "start", "step_before": 400, "probes_s": [2.2]}
    assert probe.process_speeds([cold, done]) == [1.0]  # the pair's fastest probe, the cold start dropped
    assert probe.process_speeds([killed, cold, done, resumed]) == [1.3, 1.0, 2.2]


def test_log_segments_start_and_end_rows(
    fidelity: ModuleType, probe: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "segments.jsonl"
    monkeypatch.setattr(fidelity.speed_probe, "SEGMENTS", log)
    before = {
        "done": {"candidate": "done", "key": "k0", "state": "done", "steps": 10, "train_seconds": 5.0},
        "fresh": {"candidate": "fresh", "key": "k1", "state": "not started", "step": 0, "steps": 10},
        "half": {"candidate": "half", "key": "k2", "state": "training", "step": 4, "steps": 10, "train_seconds": 8.0},
    }
    fidelity.log_segments("t", 3.0, before, None, [1.5])
    done = {"candidate": "half", "key": "k2", "state": "done", "steps": 10, "train_seconds": 20.0}  # as entry_status
    after = before | {"half": done}
    fidelity.log_segments("t", 3.0, before, after, [1.5, 1.6])
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    # start: the two not done; end: only the one this process moved (k1 did not move)
    assert [(r["event"], r["key"]) for r in rows] == [("start", "k1"), ("start", "k2"), ("end", "k2")]
    assert all("state_after" not in r and "step_after" not in r for r in rows[:2])  # a start has no after yet
    end = rows[-1]
    assert (end["step_before"], end["step_after"], end["train_seconds_after"]) == (4, 10, 20.0)
    assert end["probes_s"] == [1.5, 1.6] and end["epochs"] == 3.0


def test_tables_mark_cross_machine_speedups(fidelity: ModuleType) -> None:
    def cell(comparable: bool | None) -> dict[str, Any]:
        return {
            "truth_tie_group": ["qwen2.5-coder-0.5b"], "proxy_order": ["qwen2.5-coder-0.5b"], "top1_tie_aware": True,
            "baselines": {}, "speed": {"comparable": comparable},
        }  # fmt: skip

    cells = {"medical_qa": cell(True), "general_qa": cell(False), "financial_qa": cell(None)}
    summary = {
        t: {"top1_tie_aware": True, "proxy_leader_above_chance": True, "token_layer_speedup": 30.0,
            "train_speedup": 50.0, "end_to_end_speedup": 12.0}
        for t in cells
    }  # fmt: skip
    results = {
        "default_budget": 0.03125,
        "tasks": {t: {"budgets": {"0.03125": c}} for t, c in cells.items()},
        "summary": summary,
    }
    lines = fidelity.summary_table(results).splitlines()
    assert lines[2].endswith("| 50.0x | 12.0x |")
    assert lines[3].endswith("| 50.0x† | 12.0x† |")
    assert lines[4].endswith("| 50.0x | 12.0x |")  # unknown is not marked as mixed
    assert lines[-1] == fidelity.CROSS_MACHINE
    del cells["general_qa"], summary["general_qa"]
    assert fidelity.CROSS_MACHINE not in fidelity.summary_table(results)
