"""The README's Python API example runs as written, on tiny models: run, stage by stage, validate_selection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from damoc.testing import readme_python_block, tiny_run_config

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- python-api-example -->"


def readme_example() -> str:
    """The Python code block right after the marker line in README.md."""
    return readme_python_block(ROOT / "README.md", MARKER)


def test_readme_python_api_example_runs(
    tiny_model_dirs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("tensorboard")  # the example reports to TensorBoard (installed by the lock)
    pair = {"llama": tiny_model_dirs["llama"], "qwen2": tiny_model_dirs["qwen2"]}
    raw = tiny_run_config(tmp_path, pair, ground_truth={"epochs": 1, "batch_size": 8, "curve_fractions": [0.5]})
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md (python-api-example)", "exec"), {"__name__": "readme_api_example"})

    out = capsys.readouterr().out
    run_dir = tmp_path / "run"
    assert (run_dir / "ranking.json").is_file() and (run_dir / "validation.json").is_file()
    assert re.search(r"^pick: tiny-(llama|qwen2) \| statistically tied with it: \[", out, re.MULTILINE)
    assert re.search(r"^1\. tiny-\w+: acc [01]\.\d{3} \(95% [01]\.\d{3}-[01]\.\d{3}\)$", out, re.MULTILINE)
    assert re.search(r"^tiny-llama: 6 -> 4 layers, 6 steps$", out, re.MULTILINE)  # remove_ratio 0.34 of 6
    assert (tmp_path / "by_hand" / "eval" / "eval.json").is_file()
    assert re.search(
        r"^ground truth: \['tiny-\w+', 'tiny-\w+'\] \| proxy's pick among the best: (True|False)$", out, re.M
    )
    for name in ("tiny-llama", "tiny-qwen2"):  # report_to=[tensorboard] from the example's override
        for phase in ("proxy", "ground_truth"):
            assert any((run_dir / "tb" / name / phase).glob("events.out.tfevents.*")), (name, phase)
