"""The ray executor on a real local Ray runtime (one per module, 2 CPUs) and tiny models.

Same results as the local executor, progress events forwarded from the workers, a failing candidate
(an error, a killed worker) ranked as failed while the other finishes and retried alone by a rerun,
the shared-folder and resource checks, and the config's executor section.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from damoc.artifacts import RunLayout, read_json, read_manifest
from damoc.config import CandidateResources
from damoc.errors import ConfigError, ExecutorError
from damoc.loading import parse_config
from damoc.pipeline import run
from damoc.testing import (
    busy_event_sender,
    damaged_artefacts,
    make_mc_records,
    ranking_scores,
    tiny_run_config,
    write_jsonl,
)

PAIR = ("llama", "qwen2")


@pytest.fixture(scope="module")
def ray_runtime() -> Iterator[Any]:
    """One local Ray runtime for the module: starting one costs ~4 s."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def one_thread() -> Iterator[None]:
    """torch on one thread here, as in a Ray task with num_cpus=1 (Ray sets its OMP_NUM_THREADS)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _raw(root: Path, models: dict[str, Path], kind: str, **over: Any) -> dict[str, Any]:
    raw = tiny_run_config(root, models)
    raw["run_dir"] = str(root / f"run_{kind}")
    return {**raw, "executor": {"kind": kind} if kind == "local" else {"kind": "ray", **over}}


def _stage_stamps(layout: RunLayout, name: str) -> list[Any]:
    """finished_at of a candidate's stage folders: a changed value means the stage ran again."""
    folders = [layout.proxy_dir(name), layout.adapter_dir(name), layout.eval_dir(name)]
    return [(m or {}).get("finished_at") for m in map(read_manifest, folders)]


def test_ray_gives_the_local_results_and_forwards_progress(
    ray_runtime: Any, one_thread: None, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    models = {k: tiny_model_dirs[k] for k in PAIR}
    events: dict[str, list[tuple[str, int, int]]] = {"local": [], "ray": []}
    rankings = {}
    for kind in ("local", "ray"):
        cfg = parse_config(_raw(tmp_path, models, kind))
        rankings[kind] = run(cfg, progress=lambda d, n, t, kind=kind: events[kind].append((d, n, t)))
        assert damaged_artefacts(cfg.run_dir) == []
    local, ray = (tmp_path / "run_local", tmp_path / "run_ray")
    assert ranking_scores(ray) == ranking_scores(local)
    assert rankings["ray"] is not None and rankings["local"] is not None
    assert [c.score for c in rankings["ray"].candidates] == [c.score for c in rankings["local"].candidates]
    for name in (f"tiny-{a}" for a in PAIR):
        for report in ("models/{}/proxy/layers.json", "models/{}/adapter/train.json"):
            a, b = read_json(local / report.format(name)), read_json(ray / report.format(name))
            drop = {"seconds", "seconds_per_step"}  # scores, removed layers and losses must match
            assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    # every step's last event reaches this process from the workers, per candidate
    finished = {kind: {(d, t) for d, n, t in ev if n == t and d.startswith("tiny-")} for kind, ev in events.items()}
    assert finished["ray"] == finished["local"]
    assert {d.split()[1] for d, _ in finished["ray"]} >= {"train", "evaluate"}
    assert {d.split()[0] for d, _ in finished["ray"]} == {"tiny-llama", "tiny-qwen2"}


def test_sending_progress_keeps_a_candidates_cpus(ray_runtime: Any) -> None:
    # 2 CPUs in the runtime, 2 per task: one task at a time, even while it sends events. Ray releases a
    # task's CPUs while it blocks in ray.get, so a waited-for put let the second task start beside the first
    from ray.util.queue import Queue

    events = Queue(actor_options={"num_cpus": 0})
    task = ray_runtime.remote(busy_event_sender)
    try:
        (_, a1), (b0, _) = sorted(ray_runtime.get([task.options(num_cpus=2).remote(events, n) for n in "ab"]))
        assert events.qsize() > 10  # the events did arrive
    finally:
        ray_runtime.kill(events.actor)
    assert b0 >= a1 - 0.05, f"the second task started {a1 - b0:.2f} s before the first ended"


@pytest.mark.parametrize(
    "sections",
    [
        {"evaluation": {"batch_size": 16, "sequential_chunk": 4}, "selection": {"baselines": ["zero_shot"]}},
        {
            "training": {"max_steps": 8, "batch_size": 4, "max_seq_len": 48},
            "selection": {"strategy": "successive_halving"},
        },
    ],
    ids=["sequential_evaluation", "successive_halving"],
)
def test_round_based_strategies_give_the_local_results(
    sections: dict[str, Any], ray_runtime: Any, one_thread: None, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    rankings = []
    for kind in ("local", "ray"):
        raw = _raw(tmp_path, {k: tiny_model_dirs[k] for k in PAIR}, kind)
        raw.update({key: {**raw[key], **value} for key, value in sections.items()})
        rankings.append(run(parse_config(raw)))
    local, ray = rankings
    assert local is not None and ray is not None
    # everything but the seconds (of the rows and of the data stage): baselines, intervals, rounds, halving
    timed = {"candidates", "data"}
    assert ray.model_dump(exclude=timed) == local.model_dump(exclude=timed)
    assert (local.eval_rounds is not None) or (local.halving is not None)
    assert ranking_scores(tmp_path / "run_ray") == ranking_scores(tmp_path / "run_local")


def test_ground_truths_run_as_ray_tasks_with_the_local_results(
    ray_runtime: Any, one_thread: None, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    from damoc.validation import validate_selection

    reports = {}
    for kind in ("local", "ray"):
        root = tmp_path / kind
        root.mkdir()
        raw = _raw(root, {k: tiny_model_dirs[k] for k in PAIR}, kind)  # its own cache: both really fine-tune
        raw["task"]["train"]["path"] = str(write_jsonl(root / "train8.jsonl", make_mc_records(8)))
        raw["ground_truth"] = {"epochs": 1, "batch_size": 4, "curve_fractions": [0.5]}
        reports[kind] = validate_selection(parse_config(raw))
    local, ray = reports["local"], reports["ray"]
    assert [(c.candidate, c.truth, c.truth_metrics) for c in ray.candidates] == [
        (c.candidate, c.truth, c.truth_metrics) for c in local.candidates
    ]
    assert ray.truth_order == local.truth_order and ray.agreement == local.agreement


@pytest.mark.parametrize("kind", ["local", "ray"])
def test_a_failing_candidate_is_ranked_failed_and_a_rerun_retries_only_it(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    if kind == "ray":
        request.getfixturevalue("ray_runtime")
    broken = shutil.copytree(tiny_model_dirs["qwen2"], tmp_path / "qwen2_copy")
    cfg = parse_config(_raw(tmp_path, {"llama": tiny_model_dirs["llama"], "broken": broken}, kind))
    layout = RunLayout(cfg.run_dir)
    run(cfg, stages=["data"])
    weights = broken / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:200])  # broken after the data stage: the model stage fails
    ranking = run(cfg)
    assert ranking is not None and [c.candidate for c in ranking.candidates] == ["tiny-llama"]
    [failed] = ranking.failed
    assert (failed.candidate, failed.stage, failed.kind) == ("tiny-broken", "model", "error")
    assert "corrupted safetensors" in failed.reason and str(weights) in failed.reason
    saved = read_json(layout.ranking_path)["failed"]
    assert [(f["candidate"], f["status"]) for f in saved] == [("tiny-broken", "failed")]
    assert "Not ranked: candidate 'tiny-broken' failed in the model stage" in layout.report_md.read_text()
    assert "Only tiny-llama was ranked: the others failed (tiny-broken)" in layout.report_md.read_text()
    assert "leads every other candidate" not in layout.report_md.read_text()
    assert ranking.best == "tiny-llama" and ranking.top_group in ([], ["tiny-llama"])
    assert layout.failure_report("tiny-broken").is_file()
    assert damaged_artefacts(cfg.run_dir) == []
    done = _stage_stamps(layout, "tiny-llama")

    weights.write_bytes(good)  # fixed: the rerun runs the broken candidate's stages only
    again = run(cfg)
    assert again is not None and again.failed == []
    assert sorted(c.candidate for c in again.candidates) == ["tiny-broken", "tiny-llama"]
    assert _stage_stamps(layout, "tiny-llama") == done
    assert not layout.failure_report("tiny-broken").exists()
    assert "Not ranked" not in layout.report_md.read_text()


def test_failure_kind_and_reason_are_read_off_the_exception(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    from damoc.errors import ModelError
    from damoc.executors.base import CandidateJob
    from damoc.jobs import job_failure

    cfg = parse_config(_raw(tmp_path, {"llama": tiny_model_dirs["llama"]}, "local"))
    job = CandidateJob(cfg, cfg.run_dir, "tiny-llama")
    cuda = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\n\nSee the allocator docs")
    cases = [
        (cuda, "out_of_memory", "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
        (MemoryError(), "out_of_memory", "MemoryError"),
        (KeyError("lm_head"), "error", "KeyError: 'lm_head'"),
        (ModelError("/m: not a causal LM\n\nuse a decoder"), "error", "/m: not a causal LM\n\nuse a decoder"),
    ]
    for exc, kind, reason in cases:
        failure = job_failure(job, exc, "local")
        assert (failure.stage, failure.kind, failure.reason) == ("model", kind, reason)


def _kill_when_running(title: str, stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the Ray worker whose process title is ``title`` (Ray names it after the running task)."""
    while not stop.is_set() and not killed:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                continue
            if cmdline == title:
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.005)


def test_a_killed_worker_fails_its_candidate_only(
    ray_runtime: Any, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    raw = _raw(tmp_path, {k: tiny_model_dirs[k] for k in PAIR}, "ray")
    raw["training"] = {**raw["training"], "max_steps": 60}  # the worker lives long enough to be caught
    cfg = parse_config(raw)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_when_running, args=("ray::damoc tiny-qwen2", stop, killed))
    killer.start()
    try:
        ranking = run(cfg)
    finally:
        stop.set()
        killer.join()
    assert killed, "never saw the worker of tiny-qwen2"
    assert ranking is not None and [c.candidate for c in ranking.candidates] == ["tiny-llama"]
    [failed] = ranking.failed
    assert (failed.candidate, failed.kind) == ("tiny-qwen2", "worker_died")
    assert "WorkerCrashedError" in failed.reason
    again = run(cfg)
    assert again is not None and again.failed == [] and len(again.candidates) == 2
    assert damaged_artefacts(cfg.run_dir) == []


def test_the_run_folder_must_be_shared_with_the_nodes(ray_runtime: Any, tmp_path: Path) -> None:
    from damoc.executors.ray_cluster import candidate_nodes, check_shared_folder, verify_probe

    nodes = candidate_nodes(ray_runtime, CandidateResources())
    check_shared_folder(ray_runtime, tmp_path / "run", nodes)  # one machine: shared
    assert list((tmp_path / "run").iterdir()) == []
    # a node with its own disk at that path reads another file there than the one written here
    probe = tmp_path / ".ray-probe-own-disk"
    probe.write_text("the node's own file")
    with pytest.raises(ExecutorError, match=r"run_dir .* is not shared with the Ray node\(s\) .*NFS"):
        verify_probe(ray_runtime, nodes, probe, "the token written by this process")


def test_resources_no_node_has_are_refused_before_any_job(
    ray_runtime: Any, tmp_path: Path, tiny_model_dirs: dict[str, Path]
) -> None:
    raw = _raw(tmp_path, {"llama": tiny_model_dirs["llama"]}, "ray", resources_per_candidate={"num_gpus": 1})
    cfg = parse_config(raw)
    with pytest.raises(
        ExecutorError, match=r"asks for 1 CPU and 1 GPU per candidate, and no Ray node has that \(.*2 CPU, 0 GPU"
    ):
        run(cfg)
    assert not RunLayout(cfg.run_dir).candidate_dir("tiny-llama").exists()


@pytest.mark.parametrize(
    ("section", "needles"),
    [
        ({"kind": "local", "address": "auto"}, ["executor", "address: apply to kind 'ray' only"]),
        ({"kind": "ray", "address": "http://head:8265"}, ["executor.address", "'ray://host:port'"]),
        (
            {"kind": "ray", "resources_per_candidate": {"num_cpus": 0}},
            ["resources_per_candidate.num_cpus", "greater than 0"],
        ),
        ({"kind": "ray", "resources_per_candidate": {"gpus": 1}}, ["resources_per_candidate.gpus", "num_gpus"]),
        ({"kind": "ray", "address": "auto", "num_cpus": 2}, ["num_cpus sizes the local Ray runtime"]),
        ({"kind": "dask"}, ["executor.kind", "'local' or 'ray'"]),
    ],
)
def test_executor_section_errors_name_the_key(section: dict[str, Any], needles: list[str], tmp_path: Path) -> None:
    raw = tiny_run_config(tmp_path, {"llama": tmp_path})
    with pytest.raises(ConfigError) as err:
        parse_config({**raw, "executor": section})
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_ray_kind_without_the_ray_package_fails_at_validation(
    tmp_path: Path, tiny_model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from damoc.preflight import validate_methods

    cfg = parse_config(_raw(tmp_path, {"llama": tiny_model_dirs["llama"]}, "ray"))
    validate_methods(cfg)  # installed here
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"executor.kind: ray needs the ray package: pip install 'damoc\[ray\]'"):
        validate_methods(cfg)


def test_ray_addresses_and_resources_are_accepted(tmp_path: Path) -> None:
    raw = tiny_run_config(tmp_path, {"llama": tmp_path})
    for address in (None, "auto", "ray://head.example:10001", "10.0.0.5:6379"):
        section = {"kind": "ray", "address": address, "resources_per_candidate": {"num_cpus": 4, "num_gpus": 0.5}}
        cfg = parse_config({**raw, "executor": section})
        assert cfg.executor.address == address and cfg.executor.resources_per_candidate.num_gpus == 0.5
