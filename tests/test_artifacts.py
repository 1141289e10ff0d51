"""Run-folder guarantees: atomic stage folders, manifests, resume checks and the run lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from damoc.artifacts import clean_stale_temps, is_done, read_manifest, run_lock, stage_folder, write_json_atomic
from damoc.errors import RunLockedError


def test_stage_folder_commits_with_manifest(tmp_path: Path) -> None:
    final = tmp_path / "stage"
    with stage_folder(final, "data", "abc") as out:
        (out / "x.txt").write_text("hi")
        assert not final.exists()
    assert (final / "x.txt").read_text() == "hi"
    manifest = read_manifest(final)
    assert manifest is not None and manifest["config_hash"] == "abc" and "x.txt" in manifest["outputs"]
    assert is_done(final, "abc") and not is_done(final, "other")


def test_failed_stage_leaves_previous_result(tmp_path: Path) -> None:
    final = tmp_path / "stage"
    with stage_folder(final, "data", "v1") as out:
        (out / "x.txt").write_text("v1")
    with pytest.raises(RuntimeError), stage_folder(final, "data", "v2") as out:
        (out / "x.txt").write_text("half")
        raise RuntimeError("killed")
    assert (final / "x.txt").read_text() == "v1" and is_done(final, "v1")
    assert [p.name for p in tmp_path.iterdir()] == ["stage"]


def test_clean_stale_temps(tmp_path: Path) -> None:
    (tmp_path / ".stage.tmp-123").mkdir()
    write_json_atomic(tmp_path / "keep.json", {"a": 1})
    clean_stale_temps(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_lock_refuses_live_holder_and_takes_over_stale(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".lock").write_text(str(holder.pid))
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"), run_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with run_lock(tmp_path):  # the holder is dead now: stale lock taken over
        assert json.loads((tmp_path / ".lock").read_text()) == {"host": socket.gethostname(), "pid": os.getpid()}
    assert not (tmp_path / ".lock").exists()


def test_lock_held_from_another_host_is_refused_with_its_host(tmp_path: Path) -> None:
    # pid 1 of another machine: this host cannot tell whether it still runs, so it must not take over
    (tmp_path / ".lock").write_text(json.dumps({"host": "gpu-node-7", "pid": 1}))
    with pytest.raises(RunLockedError, match=r"host 'gpu-node-7' \(pid 1\)"), run_lock(tmp_path):
        pass
    assert json.loads((tmp_path / ".lock").read_text())["host"] == "gpu-node-7"


def test_out_of_disk_space_is_clear_and_keeps_previous_state(tmp_path: Path) -> None:
    import errno

    from damoc.errors import DamocError

    final = tmp_path / "stage"
    with stage_folder(final, "train", "v1") as out:
        (out / "adapter.safetensors").write_text("v1")
    with (
        pytest.raises(DamocError, match="out of disk space while writing the train stage"),
        stage_folder(final, "train", "v2") as out,
    ):
        (out / "adapter.safetensors").write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert (final / "adapter.safetensors").read_text() == "v1" and is_done(final, "v1")
    assert [p.name for p in tmp_path.iterdir()] == ["stage"]
