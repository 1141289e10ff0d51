"""report.html in a real headless Chromium: every chart draws offline, no console errors, a screenshot.

The reports come from a real tiny pipeline run (``damoc run``'s own report.html) and the same run after
``validate-selection`` (with the proxy-vs-truth scatter and the learning curves). Not skipped without a
browser: a missing Chromium fails with how to install it (``make setup`` does).
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from damoc.errors import DamocError
from damoc.loading import parse_config
from damoc.pipeline import run
from damoc.report.browser import PageCheck, find_chromium, open_report
from damoc.testing import make_mc_records, tiny_run_config, write_jsonl
from damoc.validation import validate_selection

ARCHS = ("llama", "qwen2", "gemma3")
NAMES = [f"tiny-{a}" for a in ARCHS]
RUN_CHARTS = {"chart-ranking", "chart-baselines", "chart-funnel", "chart-times"} | {
    f"chart-layers-{i}" for i in range(len(ARCHS))
}
VALIDATION_CHARTS = {"chart-truth", "chart-curves"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, tiny_model_dirs: dict[str, Path]) -> dict[str, Path]:
    """{"run": the pipeline's report.html, "validated": the report after validate-selection}."""
    root = tmp_path_factory.mktemp("report_browser")
    gt = {"epochs": 1, "batch_size": 4, "curve_fractions": [0.5]}
    raw = tiny_run_config(root, {a: tiny_model_dirs[a] for a in ARCHS}, ground_truth=gt)
    raw["task"]["train"]["path"] = str(write_jsonl(root / "train8.jsonl", make_mc_records(8)))
    cfg = parse_config(raw)
    run(cfg)
    plain = shutil.copy(cfg.run_dir / "report.html", root / "run_report.html")
    validate_selection(cfg)
    return {"run": Path(plain), "validated": cfg.run_dir / "report.html"}


def browse(page: Path, screenshot: Path) -> PageCheck:
    try:
        find_chromium()
    except DamocError as exc:
        pytest.fail(f"the report's browser test needs Chromium: {exc}")
    return open_report(page, screenshot)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def assert_drawn(check: PageCheck, expected: set[str]) -> None:
    assert check.console_errors == [] and check.page_errors == [], (check.console_errors, check.page_errors)
    assert check.blocked_requests == [], f"the page asked the network for {check.blocked_requests}"
    assert {c["id"] for c in check.charts} == expected and len(check.charts) == len(expected)
    for chart in check.charts:
        assert chart["main_svg"] >= 1 and chart["traces"] >= 1, chart
    text = {c["id"]: c["text"] for c in check.charts}
    assert all(name in text["chart-ranking"] for name in NAMES)
    assert "model_size" in text["chart-baselines"] and "random" in text["chart-funnel"]
    assert all(stage in text["chart-times"] for stage in ("model", "train", "eval", "data"))
    layers = [t for k, t in text.items() if k.startswith("chart-layers-")]
    assert all("removed" in t for t in layers)  # each candidate lost layers: the legend names them
    assert sorted(n for t in layers for n in NAMES if f"{n}: " in t) == sorted(NAMES)


def test_run_report_draws_every_chart_offline(reports: dict[str, Path], tmp_path: Path) -> None:
    check = browse(reports["run"], tmp_path / "run_report.png")
    assert check.title == "damoc ranking"
    assert_drawn(check, RUN_CHARTS)
    width, height = png_size(tmp_path / "run_report.png")
    assert width == 1200 and height > 2000  # full page, every section


def test_validated_report_adds_the_truth_scatter_and_learning_curves(reports: dict[str, Path], tmp_path: Path) -> None:
    check = browse(reports["validated"], tmp_path / "validated_report.png")
    assert_drawn(check, RUN_CHARTS | VALIDATION_CHARTS)
    text = {c["id"]: c["text"] for c in check.charts}
    assert all(name in text["chart-truth"] and name in text["chart-curves"] for name in NAMES)
    assert "ground truth acc" in text["chart-truth"] and "epochs" in text["chart-curves"]
    assert png_size(tmp_path / "validated_report.png")[1] > png_size(tmp_path / "validated_report.png")[0]


def test_a_missing_chromium_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DAMOC_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DamocError, match=r"no `chromium` on PATH: install Chromium with `apt-get install -y chromium`"):
        find_chromium()
    monkeypatch.setenv("DAMOC_CHROMIUM", str(tmp_path / "nope"))
    with pytest.raises(DamocError, match=r"DAMOC_CHROMIUM=.*nope is not an executable file"):
        find_chromium()
