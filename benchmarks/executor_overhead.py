"""Ray executor overhead: the same `damoc run` with executor.kind local and ray, wall time compared.

The data stage runs once (`damoc data`) and its folder is copied into every run folder, so each timed
`damoc run` does the per-candidate stages, the ranking and the reports (plus its own start-up, and for
ray the local runtime's start). By default each Ray task reserves every CPU of the runtime, so the
candidates run one at a time with the thread count of the local run: the difference is Ray's overhead
(start, scheduling, worker start-up, the shared-folder check, event forwarding). `--parallel` gives each
candidate cpus / candidates instead (the speed-up case). Repeats alternate the order (local first,
then ray first) so neither always gets the warmer page cache; the medians are reported. Both runs
must give the same ranking scores.

Run:  .venv/bin/python benchmarks/executor_overhead.py                 # configs/demo.yaml (~20 min on 2 cores)
      .venv/bin/python benchmarks/executor_overhead.py --tiny          # two tiny models, seconds
      -> merges {label: result} into benchmarks/results/executor_overhead.json (label: demo / tiny)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from damoc.testing import build_tiny_model, build_tiny_tokenizer, ranking_scores, tiny_run_config

RESULTS = Path(__file__).parent / "results" / "executor_overhead.json"
DEMO = Path(__file__).parents[1] / "configs" / "demo.yaml"
DAMOC = [sys.executable, "-m", "damoc"]


def tiny_config(root: Path) -> Path:
    """Two tiny candidates with enough training steps that each stage takes a moment."""
    tok = build_tiny_tokenizer(root / "tok")
    models = {a: build_tiny_model(a, root / a, tok, seed=i) for i, a in enumerate(("llama", "qwen2"))}
    raw = tiny_run_config(root, models)
    raw["training"] = {**raw["training"], "max_steps": 30}
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def damoc(*args: str) -> float:
    """Run ``damoc ARGS``; return its wall seconds (an error stops the benchmark with damoc's message)."""
    start = time.perf_counter()
    proc = subprocess.run([*DAMOC, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"damoc {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def executor_overrides(kind: str, cpus: int, per_candidate: float) -> list[str]:
    if kind == "local":
        return []
    return [
        "executor.kind=ray",
        f"executor.num_cpus={cpus}",
        f"executor.resources_per_candidate.num_cpus={per_candidate}",
    ]


def stage_seconds(run_dir: Path) -> float:
    """Seconds the per-candidate stages themselves took (their manifests), summed over candidates."""
    return sum(json.loads(m.read_text())["seconds"] for m in run_dir.glob("models/*/*/manifest.json"))


def timed_run(config: Path, data: Path, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    shutil.copytree(data, run_dir / "data")
    wall = damoc("run", str(config), f"run_dir={run_dir}", *overrides)
    return {"wall_s": round(wall, 2), "stage_s": round(stage_seconds(run_dir), 2), "scores": ranking_scores(run_dir)}


def measure(config: Path, work: Path, repeats: int, parallel: bool) -> dict[str, Any]:
    """Time local and ray ``repeats`` times each, alternating which goes first."""
    cpus = os.cpu_count() or 1
    names = [c if isinstance(c, str) else c["name"] for c in yaml.safe_load(config.read_text())["candidates"]]
    per_candidate = max(1.0, cpus // len(names)) if parallel else float(cpus)
    data_s = damoc("data", str(config), f"run_dir={work / 'data_run'}")
    runs: dict[str, list[dict[str, Any]]] = {"local": [], "ray": []}
    load = [os.getloadavg()[0]]
    for i in range(repeats):
        for kind in ("local", "ray") if i % 2 == 0 else ("ray", "local"):
            overrides = executor_overrides(kind, cpus, per_candidate)
            runs[kind].append(timed_run(config, work / "data_run" / "data", work / f"{kind}_{i}", overrides))
            load.append(os.getloadavg()[0])
    local, ray = (round(statistics.median(r["wall_s"] for r in runs[k]), 2) for k in ("local", "ray"))
    return {
        "command": " ".join(["benchmarks/executor_overhead.py", *sys.argv[1:]]),
        "config": str(config.relative_to(Path.cwd())) if config.is_relative_to(Path.cwd()) else str(config),
        "candidates": names,
        "mode": "parallel" if parallel else "one candidate at a time",
        "cpus": cpus,
        "ray_num_cpus_per_candidate": per_candidate,
        "data_stage_s": round(data_s, 2),
        "local_wall_s": local,
        "ray_wall_s": ray,
        "overhead_ratio": round(ray / local - 1, 4),
        "same_scores": all(r["scores"] == runs["local"][0]["scores"] for k in runs for r in runs[k]),
        "runs": runs,
        "load_average_1min": [round(x, 2) for x in load],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEMO, help="run config (default: configs/demo.yaml)")
    parser.add_argument("--tiny", action="store_true", help="two tiny models built in code instead of --config")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per executor (order alternates)")
    parser.add_argument("--parallel", action="store_true", help="ray tasks share the CPUs instead of one at a time")
    parser.add_argument("--label", default=None, help="key in the results file (default: tiny or the config's stem)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the run folders (printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="damoc_executor_overhead_"))
    try:
        config = tiny_config(work) if args.tiny else args.config.resolve()
        result = measure(config, work, args.repeats, args.parallel)
        if args.tiny:
            result["config"] = "tiny_run_config over a 6-layer Llama and Qwen2 built in code (damoc.testing), 30 steps"
    finally:
        if args.keep:
            print(f"run folders kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    label = args.label or ("tiny" if args.tiny else config.stem) + ("_parallel" if args.parallel else "")
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    saved[label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(saved, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
