"""SIGKILL a real `damoc validate-selection` inside the ground-truth fine-tune, rerun it, and get the
uninterrupted run's adapter: the rerun continues from the last checkpoint, with the same batches,
optimizer state and RNG (LoRA dropout is on), not from step 0."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from damoc.reports import read_stage_report
from damoc.testing import tiny_run_config
from damoc.validation.base import GroundTruthTrainReport

# 48 examples, 12 steps an epoch, 36 steps; a checkpoint every 0.03 s of wall time (about every step)
GROUND_TRUTH = {
    "epochs": 3,
    "batch_size": 4,
    "checkpoint_minutes": 0.0005,
    "lora_dropout": 0.1,
    "curve_fractions": [0.5],
}


def start(config: Path, run_dir: Path, cache_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "damoc", "validate-selection", str(config), f"run_dir={run_dir}",
         f"cache_dir={cache_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()


def kill_after_checkpoint(proc: subprocess.Popen[bytes], cache_dir: Path, timeout_s: float = 300) -> int:
    """SIGKILL ``proc`` once a checkpoint past step 0 exists; returns that checkpoint's step (0: none seen)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        for state in cache_dir.glob("ground_truth/*/checkpoint/state.json"):
            try:
                step = int(json.loads(state.read_text())["step"])
            except (OSError, ValueError, KeyError):
                continue
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return step
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    return 0


def adapter_tensors(cache_dir: Path) -> tuple[str, dict[str, Any]]:
    from safetensors.torch import load_file

    (entry,) = list((cache_dir / "ground_truth").iterdir())
    return entry.name, load_file(str(entry / "result" / "adapter" / "adapter_model.safetensors"))


@pytest.mark.slow
def test_sigkill_in_the_ground_truth_then_resume(tmp_path: Path, tiny_model_dirs: dict[str, Path]) -> None:
    import torch

    raw = tiny_run_config(tmp_path, {"llama": tiny_model_dirs["llama"]}, ground_truth=GROUND_TRUTH)
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(raw))

    finish(start(config, tmp_path / "reference", tmp_path / "cache_reference"))
    # the same proxy for the killed run (only the ground truth is under test), without the validation outputs
    shutil.copytree(tmp_path / "reference", tmp_path / "killed", ignore=shutil.ignore_patterns("validation*"))

    cache = tmp_path / "cache_killed"
    seen = kill_after_checkpoint(start(config, tmp_path / "killed", cache), cache)
    assert seen > 0, "never saw a checkpoint"
    assert not list(cache.glob("ground_truth/*/result")), "the kill came after the fine-tune had finished"
    finish(start(config, tmp_path / "killed", cache))

    report = read_stage_report(tmp_path / "killed" / "validation" / "tiny-llama", GroundTruthTrainReport)
    reference = read_stage_report(tmp_path / "reference" / "validation" / "tiny-llama", GroundTruthTrainReport)
    assert reference.resumed_from_step == 0
    assert 0 < report.resumed_from_step < report.steps == reference.steps == 36
    assert torch.allclose(torch.tensor(report.losses), torch.tensor(reference.losses), atol=1e-5)
    key, weights = adapter_tensors(cache)
    reference_key, reference_weights = adapter_tensors(tmp_path / "cache_reference")
    assert key == reference_key and weights.keys() == reference_weights.keys()
    assert all(torch.allclose(weights[k], reference_weights[k], atol=1e-6) for k in weights)
    curves = [json.loads((tmp_path / run / "validation" / "tiny-llama" / "curve.json").read_text())
              for run in ("killed", "reference")]  # fmt: skip
    assert [[(p["step"], p["metrics"]) for p in c] for c in curves[:1]] == [
        [(p["step"], p["metrics"]) for p in curves[1]]
    ]
    assert not list(cache.glob("ground_truth/*/checkpoint")) and not list(cache.glob("ground_truth/*/.checkpoint*"))
