"""SIGKILL a real `damoc run` during each stage in turn, start it again, and get the same ranking.

The kill lands while the stage's temporary folder exists (the test checks it saw that folder), so
each case really interrupts that stage mid-write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.testing import damaged_artefacts, ranking_scores, start_run, tiny_run_config

# stage -> glob (relative to run_dir) of its temporary folder while it is being written
STAGE_TMP = {
    "data": ".data.tmp-*",
    "model": "models/*/.proxy.tmp-*",
    "train": "models/*/.adapter.tmp-*",
    "evaluate": "models/*/.eval.tmp-*",
}


def write_config(root: Path, model_dirs: dict[str, Path]) -> Path:
    raw = tiny_run_config(root, {"llama": model_dirs["llama"]})
    raw["data"] = {"steps": [{"method": "k_center", "params": {"keep_ratio": 0.5}}], "calibration_samples": 8}
    raw["training"] = {"max_steps": 40, "batch_size": 4, "learning_rate": 0.01, "max_seq_len": 48}
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def kill_during(proc: subprocess.Popen[bytes], run_dir: Path, pattern: str, timeout_s: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as ``pattern`` exists under ``run_dir``; True if it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if run_dir.is_dir() and any(run_dir.glob(pattern)):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> tuple[Path, Any]:
    root = tmp_path_factory.mktemp("resume")
    cfg = write_config(root, tiny_model_dirs)
    proc = start_run(cfg, root / "reference")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return cfg, ranking_scores(root / "reference")


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGE_TMP))
def test_sigkill_during_stage_then_resume(reference: tuple[Path, Any], tmp_path: Path, stage: str) -> None:
    cfg, expected = reference
    run_dir = tmp_path / "run"
    assert kill_during(start_run(cfg, run_dir), run_dir, STAGE_TMP[stage]), f"never saw the {stage} stage start"
    assert damaged_artefacts(run_dir) == []
    assert (run_dir / ".lock").exists(), "the killed process leaves its lock behind (taken over below)"
    proc = start_run(cfg, run_dir)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert ranking_scores(run_dir) == expected
    assert not list(run_dir.rglob(".*.tmp-*"))
