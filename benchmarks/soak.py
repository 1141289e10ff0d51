"""Soak test: run the tiny pipeline N times, SIGKILL it at random moments, resume, and check the result.

Each round starts a fresh run folder, kills `damoc run` at 1-3 random moments (uniform over the
time an uninterrupted run takes), then lets it finish. A round passes when the final ranking equals
the uninterrupted reference and no stage folder is damaged (missing manifest or listed file).

Run:  .venv/bin/python benchmarks/soak.py [--rounds 20] [--seed 0]
      -> writes benchmarks/results/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from damoc.testing import (
    build_tiny_model,
    build_tiny_tokenizer,
    damaged_artefacts,
    ranking_scores,
    start_run,
    tiny_run_config,
)

RESULTS = Path(__file__).parent / "results" / "soak.json"


def make_config(root: Path) -> Path:
    """Two tiny candidates, a k_center data step and enough steps that every stage takes a moment."""
    tok = build_tiny_tokenizer(root / "tok")
    models = {a: build_tiny_model(a, root / a, tok, seed=i) for i, a in enumerate(("llama", "gemma3"))}
    raw = tiny_run_config(root, models)
    raw["data"] = {"steps": [{"method": "k_center", "params": {"keep_ratio": 0.5}}], "calibration_samples": 8}
    raw["training"] = {"max_steps": 30, "batch_size": 4, "learning_rate": 0.01, "max_seq_len": 48}
    path = root / "soak.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_to_end(config: Path, run_dir: Path) -> float:
    """Run without interruption; return wall seconds."""
    start = time.perf_counter()
    proc = start_run(config, run_dir)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(err.decode())
    return time.perf_counter() - start


def one_round(config: Path, run_dir: Path, duration: float, rng: random.Random) -> dict[str, Any]:
    """Kill 1-3 times at random moments, then finish; report what was found."""
    kills = 0
    for attempt in range(rng.randint(1, 3)):
        proc = start_run(config, run_dir)
        # later attempts resume part-way, so they have less left to run before the kill
        time.sleep(rng.uniform(0.3, 0.9 * duration / (attempt + 1)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    damaged_after_kill = damaged_artefacts(run_dir)
    run_to_end(config, run_dir)
    return {"kills": kills, "damaged_after_kill": damaged_after_kill, "damaged_at_end": damaged_artefacts(run_dir)}


def main() -> None:
    """Run the soak rounds and write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="damoc-soak-") as tmp:
        root = Path(tmp)
        config = make_config(root)
        duration = run_to_end(config, root / "reference")
        expected = ranking_scores(root / "reference")
        rounds = []
        for i in range(args.rounds):
            result = one_round(config, root / f"round{i}", duration, rng)
            result["same_ranking"] = ranking_scores(root / f"round{i}") == expected
            rounds.append(result)
            print(f"round {i + 1}/{args.rounds}: {result}", flush=True)
    summary = {
        "rounds": args.rounds,
        "kills": sum(r["kills"] for r in rounds),
        "resumes_survived": sum(r["same_ranking"] and not r["damaged_at_end"] for r in rounds),
        "lost_or_corrupted_artefacts": sum(len(r["damaged_after_kill"]) + len(r["damaged_at_end"]) for r in rounds),
        "rankings_differing_from_reference": sum(not r["same_ranking"] for r in rounds),
        "uninterrupted_run_s": round(duration, 2),
        "seed": args.seed,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "per_round": rounds,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_round"}, indent=2))


if __name__ == "__main__":
    main()
