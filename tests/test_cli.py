"""The CLI through a real subprocess: clear one-line errors (exit 2, no traceback) and listings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def damoc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "damoc", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def cfg_file(tmp_path: Path, **over: object) -> Path:
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"question": "q?", "choices": ["a", "b"], "answer": 0}) + "\n")
    raw: dict[str, object] = {
        "run_dir": str(tmp_path / "run"),
        "task": {"train": {"path": str(train)}, "eval": {"path": str(train)}},
        "candidates": ["smollm2-135m"],
    }
    raw.update(over)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_validate_ok_and_print(tmp_path: Path) -> None:
    res = damoc("validate", str(cfg_file(tmp_path)), "seed=3", "--print")
    assert res.returncode == 0, res.stderr
    assert "seed: 3" in res.stdout and "ok (1 candidates" in res.stderr


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"trainning": {}}, "trainning: unknown key; allowed here:"),
        ({"model": {"scorer": {"method": "shortgpt"}}}, "unknown scorer 'shortgpt'; available: "),
        (
            {"task": {"train": {"path": "nope.jsonl"}, "eval": {"path": "nope.jsonl"}}},
            "data file not found: nope.jsonl",
        ),
    ],
)
def test_errors_are_one_clear_message(tmp_path: Path, over: dict[str, object], needle: str) -> None:
    res = damoc("validate", str(cfg_file(tmp_path, **over)))
    assert res.returncode == 2
    assert needle in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "Usage:"),
        (("tasks",), "Usage:"),
        (("run",), "Missing argument 'config'"),
        (("run", "--bogus", "x"), "No such option: --bogus"),
    ],
)
def test_usage_errors_print_usage_not_a_traceback(args: tuple[str, ...], needle: str) -> None:
    res = damoc(*args)
    assert res.returncode == 2
    assert needle in res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "Error" not in res.stderr.replace("Error:", "")


def test_malformed_jsonl_named_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q?", "choices": ["a", "b"], "answer": 0}\n{"question": oops}\n')
    cfg = cfg_file(tmp_path, task={"train": {"path": str(bad)}, "eval": {"path": str(bad)}})
    res = damoc("data", str(cfg))
    assert res.returncode == 2, res.stderr
    assert "bad.jsonl:2: malformed JSON" in " ".join(res.stderr.split())
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "run" / "data").exists()


def test_ls_and_tasks(tmp_path: Path) -> None:
    res = damoc("ls")
    assert res.returncode == 0, res.stderr
    for needle in ("filter:", "random", "scorer:", "block_influence", "metric:", "acc_norm", "smollm2-135m"):
        assert needle in res.stdout
    shown = damoc("tasks", "show", "world_facts")
    assert shown.returncode == 0 and "licence: Apache-2.0" in shown.stdout
    exported = damoc("tasks", "export", "world_facts", str(tmp_path / "wf"))
    assert exported.returncode == 0, exported.stderr
    assert (
        len((tmp_path / "wf" / "eval.jsonl").read_text().splitlines()) == yaml.safe_load(shown.stdout)["sizes"]["eval"]
    )
    unknown = damoc("tasks", "show", "nope")
    assert unknown.returncode == 2 and "unknown bundled task 'nope'; available: " in unknown.stderr


def test_help_lists_commands() -> None:
    res = damoc("--help")
    assert res.returncode == 0
    for cmd in ("run", "validate", "ls", "data", "model", "train", "evaluate", "rank", "report", "models", "tasks"):
        assert cmd in res.stdout


def test_second_run_on_same_folder_refuses(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / ".lock").write_text(str(holder.pid))
        res = damoc("data", str(cfg_file(tmp_path)))
        assert res.returncode == 2
        assert f"is in use by another damoc process (pid {holder.pid})" in " ".join(res.stderr.split())
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"], "the refused run must not write anything"
    finally:
        holder.kill()
        holder.wait()
