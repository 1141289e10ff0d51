"""Sequential evaluation (evaluation.sequential_chunk): chunk order, stopping rule, rounds, resume."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json, read_manifest
from damoc.config import RunConfig
from damoc.errors import DamocError
from damoc.executors.base import CandidateJob, EventFn
from damoc.jobs import chunk_hash, run_candidate, stage_hashes
from damoc.loading import parse_config
from damoc.reports import EvalReport, read_stage_report
from damoc.sequential import (
    _evaluate_in_rounds,
    chunk_plan,
    chunk_values,
    interleave,
    leader_separated,
    split_chunks,
    stratified_clusters,
)
from damoc.testing import damaged_artefacts, tiny_run_config

# ---------------------------------------------------------------- (b) the stopping rule


def test_stopping_rule_on_hand_made_values() -> None:
    right, wrong = [1.0] * 20, [0.0] * 20
    assert leader_separated({"a": right, "b": wrong}, None, seed=0)
    assert leader_separated({"b": wrong, "a": right}, None, seed=0)  # the leader need not come first
    assert not leader_separated({"a": right, "b": list(right)}, None, seed=0)  # identical: keep going
    noisy = [1.0, 0.0] * 10
    # clearly above one candidate but not the other: every pair must be separated
    assert not leader_separated({"a": right, "b": wrong, "c": [1.0] * 19 + [0.0]}, None, seed=0)
    assert not leader_separated({"a": noisy, "b": [0.0, 1.0] * 10}, None, seed=0)
    assert leader_separated({"a": right}, None, seed=0)  # nothing to separate from


def test_stopping_rule_resamples_clusters_together() -> None:
    a, b = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0], [0.0] * 6
    assert not leader_separated({"a": [1.0, 0, 0, 0, 0, 0], "b": b}, None, seed=0)  # one win in six: noise
    assert leader_separated({"a": a, "b": b}, None, seed=0)  # six draws: an all-loss resample is rare (1/64)
    # the same values as two clusters of three are two draws: half the resamples could be all losses
    assert not leader_separated({"a": a, "b": b}, ["x", "x", "x", "y", "y", "y"], seed=0)


# ---------------------------------------------------------------- (c) the stratified order


def test_chunks_take_one_example_of_every_cluster_in_turn_and_are_seeded() -> None:
    ids = [f"e{i}" for i in range(40)]
    groups = {i: f"q{n % 13}" for n, i in enumerate(ids)}  # 13 clusters of 3 or 4 spread over the file
    clusters = stratified_clusters(ids, groups, seed=3)
    assert clusters == stratified_clusters(ids, groups, seed=3)
    assert clusters != stratified_clusters(ids, groups, seed=4)
    assert sorted(i for c in clusters for i in c) == sorted(ids)
    for cluster in clusters:
        assert len({groups[i] for i in cluster}) == 1
    order = interleave(clusters, seed=3)
    assert sorted(order) == sorted(ids) and order == interleave(clusters, seed=3)
    assert len({groups[i] for i in order[:13]}) == 13  # the first 13 cover all 13 clusters
    assert len({groups[i] for i in order[13:26]}) == 13 and len({groups[i] for i in order[26:39]}) == 13
    chunks = split_chunks(order, 5)
    assert [i for c in chunks for i in c] == order and [len(c) for c in chunks] == [5] * 8
    assert all(len(c) == 1 for c in stratified_clusters(ids, None, 3))  # no clustering: single examples
    assert interleave([["a", "b", "c"], ["d"]], seed=0)[:2] in (["a", "d"], ["b", "d"], ["c", "d"])


# ---------------------------------------------------------------- rounds with a fake executor (no models)


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"q{i}", "question": f"Q{i // 2}?", "choices": ["x", "y"], "answer": 0, "target": "x"} for i in range(n)
    ]


def _fake_cfg(tmp_path: Path, chunk: int, cap: int | None = None) -> RunConfig:
    cfg = parse_config(
        {
            "run_dir": str(tmp_path / "run"),
            "task": {"bundled": "world_facts"},
            "candidates": ["smollm2-135m", "gemma3-270m"],
            "evaluation": {"sequential_chunk": chunk, "sequential_max_examples": cap},
        }
    )
    layout = RunLayout(cfg.run_dir)
    layout.data_dir.mkdir(parents=True)
    layout.eval_file.write_text("".join(json.dumps(r) + "\n" for r in _records(40)), encoding="utf-8")
    return cfg


class FakeExecutor:
    """Writes chunk predictions in place of evaluating: ``right[name]``, that candidate always answers right."""

    def __init__(self, cfg: RunConfig, right: dict[str, bool]) -> None:
        self.plan = chunk_plan(cfg, RunLayout(cfg.run_dir))
        self.right = right
        self.chunks_run: list[int] = []

    def run(self, jobs: Sequence[CandidateJob], on_event: EventFn | None = None) -> None:
        for job in jobs:
            assert job.eval_chunk is not None
            self.chunks_run.append(job.eval_chunk)
            out = RunLayout(job.run_dir).eval_chunk_dir(job.name, job.eval_chunk)
            out.mkdir(parents=True)
            rows = []
            for i in self.plan[job.eval_chunk]:
                right = self.right[job.name]
                rows.append({"id": i, "answer": 0, "logliks": [0.0, -1.0] if right else [-1.0, 0.0]})
            (out / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_rounds_stop_once_the_leader_is_separated(tmp_path: Path) -> None:
    cfg = _fake_cfg(tmp_path, chunk=6)
    names = [c.name for c in cfg.candidates]
    executor = FakeExecutor(cfg, {"smollm2-135m": True, "gemma3-270m": False})
    rounds = _evaluate_in_rounds(cfg, RunLayout(cfg.run_dir), names, executor, None)
    assert rounds == 1 < len(executor.plan)
    assert executor.chunks_run == [0, 0]
    values, groups = chunk_values(cfg, RunLayout(cfg.run_dir), names, rounds)
    assert len(values["gemma3-270m"]) == len(executor.plan[0]) and groups is not None


def test_rounds_use_up_the_split_when_nothing_separates(tmp_path: Path) -> None:
    cfg = _fake_cfg(tmp_path, chunk=6)
    names = [c.name for c in cfg.candidates]
    executor = FakeExecutor(cfg, {"smollm2-135m": True, "gemma3-270m": True})  # identical rows
    rounds = _evaluate_in_rounds(cfg, RunLayout(cfg.run_dir), names, executor, None)
    assert rounds == len(executor.plan) and sorted(set(executor.chunks_run)) == list(range(rounds))
    assert sum(len(c) for c in executor.plan) == 40
    assert len({r["question"] for r in _records(40) if r["id"] in executor.plan[0]}) == 6  # 6 of 20 questions


def test_rounds_stop_at_the_cap_without_a_clear_leader(tmp_path: Path) -> None:
    cfg = _fake_cfg(tmp_path, chunk=6, cap=13)
    names = [c.name for c in cfg.candidates]
    executor = FakeExecutor(cfg, {"smollm2-135m": True, "gemma3-270m": True})  # never separated
    rounds = _evaluate_in_rounds(cfg, RunLayout(cfg.run_dir), names, executor, None)
    used = [sum(len(c) for c in executor.plan[: k + 1]) for k in range(len(executor.plan))]
    assert rounds == next(k + 1 for k, u in enumerate(used) if u >= 13) < len(executor.plan)
    assert sorted(set(executor.chunks_run)) == list(range(rounds))


# ---------------------------------------------------------------- config, hashes and job checks


def test_sequential_chunk_enters_the_eval_hashes(tmp_path: Path) -> None:
    base = {"run_dir": str(tmp_path / "run"), "task": {"bundled": "world_facts"}, "candidates": ["smollm2-135m"]}
    plain = parse_config(base)
    seq = parse_config({**base, "evaluation": {"sequential_chunk": 8}})
    h0, h1 = stage_hashes(plain, "smollm2-135m"), stage_hashes(seq, "smollm2-135m")
    assert h0.train == h1.train and h0.eval != h1.eval
    assert stage_hashes(parse_config({**base, "evaluation": {"sequential_chunk": 9}}), "smollm2-135m").eval != h1.eval
    assert chunk_hash(seq, h1, 0) != chunk_hash(seq, h1, 1)
    other = parse_config({**base, "evaluation": {"sequential_chunk": 8}, "selection": {"cluster_by": "none"}})
    assert chunk_hash(other, stage_hashes(other, "smollm2-135m"), 0) != chunk_hash(seq, h1, 0)
    with pytest.raises(Exception, match="sequential_chunk"):
        parse_config({**base, "evaluation": {"sequential_chunk": 0}})
    with pytest.raises(DamocError, match="eval_chunk"):
        run_candidate(CandidateJob(seq, seq.run_dir, "smollm2-135m", ("evaluate",)))
    job = CandidateJob(seq, seq.run_dir, "smollm2-135m", ("evaluate",), eval_chunk=2)
    assert pickle.loads(pickle.dumps(job)) == job


# ---------------------------------------------------------------- (a, d) the pipeline on tiny models


def stage_stamps(layout: RunLayout, names: list[str], rounds: int) -> dict[str, Any]:
    folders: dict[str, Path] = {}
    for n in names:
        folders |= {f"{n}/eval": layout.eval_dir(n), f"{n}/zero_shot": layout.zero_shot_dir(n)}
        folders |= {f"{n}/chunk{k}": layout.eval_chunk_dir(n, k) for k in range(rounds)}
    out = {}
    for key, folder in folders.items():
        manifest = read_manifest(folder)
        assert manifest is not None, key
        out[key] = (manifest["finished_at"], manifest["config_hash"], folder.stat().st_ino)
    return out


def test_pipeline_stops_early_and_resumes(
    tmp_path: Path, tiny_model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from damoc import sequential
    from damoc.pipeline import run

    models = {k: tiny_model_dirs[k] for k in ("llama", "qwen2")}
    raw = tiny_run_config(tmp_path, models, evaluation={"batch_size": 16, "sequential_chunk": 4})
    raw["selection"] = {"rank_by": "acc", "baselines": ["zero_shot", "model_size"]}
    cfg = parse_config(raw)
    names = [c.name for c in cfg.candidates]
    with pytest.raises(DamocError, match="compares every candidate"):
        run(cfg, stages=["evaluate"], candidates=names[:1])
    calls: list[int] = []

    def stop_at_round_two(values: Any, groups: Any, seed: int) -> bool:
        calls.append(len(next(iter(values.values()))))
        return len(calls) == 2

    monkeypatch.setattr(sequential, "leader_separated", stop_at_round_two)
    ranking = run(cfg)
    assert ranking is not None
    layout = RunLayout(cfg.run_dir)
    plan = chunk_plan(cfg, layout)
    used = plan[0] + plan[1]
    assert len(plan) > 2 and len(used) < 16 and calls == [len(plan[0]), len(used)]
    assert ranking.eval_rounds == 2 and ranking.eval_examples_used == len(used) == ranking.num_examples
    saved = read_json(layout.ranking_path)
    assert saved["eval_rounds"] == 2 and saved["eval_examples_used"] == len(used)
    for n in names:
        report = read_stage_report(layout.eval_report(n), EvalReport)
        assert report.num_examples == len(used) and report.rounds == 2
        rows = [json.loads(x) for x in layout.predictions(n).read_text().splitlines()]
        assert [r["id"] for r in rows] == used
        right = [float(max(range(len(r["logliks"])), key=lambda i: r["logliks"][i]) == r["answer"]) for r in rows]
        assert report.metrics["acc"] == pytest.approx(sum(right) / len(right))
        zero = read_stage_report(layout.zero_shot_report(n), EvalReport)
        assert zero.num_examples == len(used)
        zero_ids = [json.loads(x)["id"] for x in layout.zero_shot_predictions(n).read_text().splitlines()]
        assert sorted(zero_ids) == sorted(used)
        assert not layout.eval_chunk_dir(n, 2).exists()
    assert f"Sequential evaluation: {len(used)} of 16 eval examples in 2 rounds" in layout.report_md.read_text()
    assert damaged_artefacts(layout.root) == []

    before = stage_stamps(layout, names, 2)
    calls.clear()
    again = run(cfg)
    assert again is not None and again.model_dump() == ranking.model_dump()
    assert stage_stamps(layout, names, 2) == before, "a resumed run must not redo finished chunks"
