"""Time multiple-choice scoring with and without the shared-prompt path on a bundled task.

Run: .venv/bin/python benchmarks/eval_prefix.py [--task reading_comprehension] [--model smollm2-135m] [--n 60]
     -> benchmarks/results/eval_prefix.json
Both paths score the same first ``n`` eval examples with the same model; the JSON holds both wall
times, the largest log-likelihood difference and whether every prediction agrees.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from damoc.candidates.resolve import load_model, resolve_model_ref
from damoc.config import TaskConfig
from damoc.evaluation.loglik import score_multiple_choice
from damoc.tasks.load import load_split, task_sources

RESULTS = Path(__file__).parent / "results" / "eval_prefix.json"


def main() -> None:
    """Score both ways and write the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="reading_comprehension")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--n", type=int, default=60)
    args = parser.parse_args()
    _, source, fields, task_type = task_sources(TaskConfig(bundled=args.task))
    examples = load_split(source, fields, task_type, "eval")[: args.n]
    model, tokenizer = load_model(resolve_model_ref(args.model), "cpu")
    timings, rows = {}, {}
    for name, min_shared in (("batched", 10**9), ("shared_prefix", 64)):
        start = time.perf_counter()
        rows[name] = score_multiple_choice(examples, model, tokenizer, 512, 16, min_shared=min_shared)
        timings[name] = round(time.perf_counter() - start, 2)
    diff = max(
        abs(a - b)
        for x, y in zip(rows["batched"], rows["shared_prefix"], strict=True)
        for a, b in zip(x["logliks"], y["logliks"], strict=True)
    )
    result = {
        "task": args.task,
        "model": args.model,
        "examples": len(examples),
        "seconds": timings,
        "speedup": round(timings["batched"] / timings["shared_prefix"], 2),
        "max_abs_loglik_diff": diff,
        "same_predictions": all(
            (x["pred"], x["pred_norm"]) == (y["pred"], y["pred_norm"])
            for x, y in zip(rows["batched"], rows["shared_prefix"], strict=True)
        ),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
