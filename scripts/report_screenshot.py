"""Screenshot a finished run's report.html in headless Chromium, without touching the run folder.

Copies the files the report is built from (``ranking.json``, ``data/data.json``, each candidate's
``models/<name>/proxy/layers.json``, ``validation.json``) into ``--copy-to`` (a new temporary folder
by default), re-renders report.md and report.html there with ``damoc.report.write_report``, opens the
page offline in Chromium, checks that every chart drew without console errors, and saves a PNG.

    python scripts/report_screenshot.py runs/fidelity/medical_except/e1-b0.03125 docs/report.png --height 2600

Needs the dev dependencies (playwright) and Chromium (``make setup`` installs both).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # leave no __pycache__ in scripts/

REPORT_INPUTS = ("ranking.json", "data/data.json", "models/*/proxy/layers.json", "validation.json")


def copy_report_inputs(run_dir: Path, out_dir: Path) -> list[Path]:
    """Copy the report's input files from ``run_dir`` to the same places under ``out_dir``."""
    copied = []
    for pattern in REPORT_INPUTS:
        for src in sorted(run_dir.glob(pattern)):
            dst = out_dir / src.relative_to(run_dir)
            dst.parent.mkdir(parents=True, exist_ok=True)
            copied.append(Path(shutil.copy2(src, dst)))
    return copied


def screenshot_run(run_dir: Path, png: Path, copy_to: Path, width: int, height: int | None) -> int:
    """Re-render the report in ``copy_to`` and screenshot it; 0 when every chart drew cleanly, else 1."""
    from damoc.report import write_report
    from damoc.report.browser import open_report

    if not (run_dir / "ranking.json").is_file():
        print(f"{run_dir}/ranking.json not found: not a finished run folder", file=sys.stderr)
        return 2
    copy_report_inputs(run_dir, copy_to)
    _, page = write_report(copy_to)
    check = open_report(page, png, width=width, height=height)
    problems = check.console_errors + check.page_errors + [f"network: {u}" for u in check.blocked_requests]
    problems += [f"chart {c['id']} did not draw" for c in check.charts if not c["traces"]]
    print(f"{page}: {len(check.charts)} charts; {png}: {png.stat().st_size / 1024:.0f} KB")
    for line in problems:
        print(f"problem: {line}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a finished run folder (with ranking.json)")
    parser.add_argument("png", type=Path, help="where to save the screenshot")
    parser.add_argument("--copy-to", type=Path, help="folder for the copy and its report (default: a temp folder)")
    parser.add_argument("--width", type=int, default=1200, help="page width in pixels")
    parser.add_argument("--height", type=int, help="keep the top HEIGHT pixels (default: the whole page)")
    args = parser.parse_args()
    if args.copy_to is not None:
        args.copy_to.mkdir(parents=True, exist_ok=True)
        return screenshot_run(args.run_dir, args.png, args.copy_to, args.width, args.height)
    with tempfile.TemporaryDirectory(prefix="damoc-report-") as tmp:
        return screenshot_run(args.run_dir, args.png, Path(tmp), args.width, args.height)


if __name__ == "__main__":
    sys.exit(main())
