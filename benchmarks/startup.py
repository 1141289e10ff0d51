"""Measure `import damoc` and `damoc --help` wall time (targets: < 0.3 s and < 1 s).

Run: .venv/bin/python benchmarks/startup.py   -> writes benchmarks/results/startup.json
Each measurement is the median of several fresh interpreter starts; the interpreter's own start-up
(`python -c pass`) is measured too so the damoc share can be read off.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 7
RESULTS = Path(__file__).parent / "results" / "startup.json"


def time_command(cmd: list[str]) -> float:
    """Median wall seconds of ``cmd`` over REPEATS runs (after one warm-up)."""
    subprocess.run(cmd, check=True, capture_output=True)
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    """Time the three commands and write the JSON results."""
    py = sys.executable
    damoc_bin = str(Path(py).with_name("damoc"))
    results = {
        "python_start_s": time_command([py, "-c", "pass"]),
        "import_damoc_s": time_command([py, "-c", "import damoc"]),
        "damoc_help_s": time_command([damoc_bin, "--help"]),
        "import_damoc_loads_torch": "torch"
        in subprocess.run(
            [py, "-c", "import sys, damoc, damoc.config, damoc.selection; print(' '.join(sys.modules))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split(),
        "targets": {"import_damoc_s": 0.3, "damoc_help_s": 1.0},
        "machine": {"cpu_count": __import__("os").cpu_count(), "python": platform.python_version()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
