"""damoc's multiple-choice scorer against lm-evaluation-harness 0.4.13 on the same work: agreement and wall time.

Run: .venv/bin/python benchmarks/eval_parity.py [--model smollm2-135m] [--repeats 2] [--threads 1]
     -> benchmarks/results/eval_parity.json
Both tools score the first 200 ``world_facts`` and the first 100 ``reading_comprehension`` eval
examples (prompts rendered by damoc; lm-eval reads them from the exported task) with the same
loaded model, on CPU in float32 with ``--threads`` torch threads, batch 16, max_seq_len 512. Each
tool's time per task is the best of ``--repeats`` runs (the tools alternate task by task and their
order between runs, as other jobs share this machine), after a two-example warm-up of each.
lm-eval's time includes exporting the task and loading it with ``datasets``, part of using it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from damoc.candidates.resolve import load_model, resolve_model_ref
from damoc.config import EvaluationConfig
from damoc.evaluation.harness import run_lm_eval
from damoc.evaluation.loglik import score_multiple_choice
from damoc.loading import parse_task
from damoc.tasks.example import Example
from damoc.tasks.load import load_split, task_sources
from damoc.tasks.prompts import PromptSpec

RESULTS = Path(__file__).parent / "results" / "eval_parity.json"
WORK = {"world_facts": 200, "reading_comprehension": 100}
CFG = EvaluationConfig(batch_size=16, max_seq_len=512)


def bundled_eval(name: str, n: int) -> tuple[list[Example], PromptSpec]:
    """The first ``n`` eval examples of a bundled task and its prompt settings."""
    task = parse_task({"bundled": name})
    _, source, fields, task_type = task_sources(task)
    return load_split(source, fields, task_type, "eval")[:n], PromptSpec.from_task(task)


def run_damoc(model: Any, tok: Any, examples: list[Example], spec: PromptSpec) -> list[list[float]]:
    """damoc's log-likelihoods per example and choice."""
    rows = score_multiple_choice(examples, model, tok, CFG.max_seq_len, CFG.batch_size, spec=spec)
    return [r["logliks"] for r in rows]


def run_harness(model: Any, tok: Any, examples: list[Example], spec: PromptSpec) -> list[list[float]]:
    """lm-eval's log-likelihoods per example and choice (its ``filtered_resps``)."""
    with tempfile.TemporaryDirectory(prefix="damoc-eval-parity-") as tmp:
        samples = run_lm_eval(examples, "multiple_choice", model, tok, CFG, Path(tmp), spec)["samples"]
    return [[float(r[0]) for r in s["filtered_resps"]] for s in sorted(samples, key=lambda s: s["doc_id"])]


def agreement(examples: list[Example], ours: list[list[float]], theirs: list[list[float]]) -> dict[str, Any]:
    """Largest loglik difference, and how many pred / pred_norm and acc / acc_norm agree (lm-eval's rules)."""
    preds: dict[str, list[list[int]]] = {"pred": [[], []], "pred_norm": [[], []]}
    for ex, a, b in zip(examples, ours, theirs, strict=True):
        lengths = np.array([float(len(c)) for c in ex.choices or ()])
        for k, lls in enumerate((np.array(a), np.array(b))):
            preds["pred"][k].append(int(np.argmax(lls)))
            preds["pred_norm"][k].append(int(np.argmax(lls / lengths)))
    answers = [ex.answer for ex in examples]
    accuracy = {
        name: [float(np.mean([p == y for p, y in zip(side, answers, strict=True)])) for side in preds[key]]
        for name, key in (("acc", "pred"), ("acc_norm", "pred_norm"))
    }
    return {
        "examples": len(examples),
        "max_abs_loglik_diff": max(
            abs(x - y) for a, b in zip(ours, theirs, strict=True) for x, y in zip(a, b, strict=True)
        ),
        "same_pred": sum(p == q for p, q in zip(*preds["pred"], strict=True)),
        "same_pred_norm": sum(p == q for p, q in zip(*preds["pred_norm"], strict=True)),
        "acc": {"damoc": accuracy["acc"][0], "lm_eval": accuracy["acc"][1]},
        "acc_norm": {"damoc": accuracy["acc_norm"][0], "lm_eval": accuracy["acc_norm"][1]},
    }


def time_tools(model: Any, tok: Any, repeats: int) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Best-of-``repeats`` seconds per task and tool, and the agreement per task.

    The tools alternate task by task (and their order alternates between repeats), so a load spike
    from another job on this shared machine hits both rather than one.
    """
    tasks = {name: bundled_eval(name, n) for name, n in WORK.items()}
    tools = {"damoc": run_damoc, "lm_eval": run_harness}
    for fn in tools.values():  # warm-up: first-call costs (threads, imports) are not the tool's
        fn(model, tok, *_head(tasks["world_facts"]))
    best = {name: dict.fromkeys(tools, float("inf")) for name in tasks}
    logliks: dict[str, dict[str, list[list[float]]]] = {name: {} for name in tasks}
    for r in range(repeats):
        for name, (exs, spec) in tasks.items():
            for tool in list(tools) if r % 2 == 0 else list(tools)[::-1]:
                start = time.perf_counter()
                logliks[name][tool] = tools[tool](model, tok, exs, spec)
                best[name][tool] = min(best[name][tool], time.perf_counter() - start)
                print(f"run {r + 1}: {name} {tool} {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    agree = {name: agreement(exs, logliks[name]["damoc"], logliks[name]["lm_eval"]) for name, (exs, _) in tasks.items()}
    seconds = {name: {k: round(v, 2) for k, v in b.items()} for name, b in best.items()}
    seconds["total"] = {tool: round(sum(best[name][tool] for name in tasks), 2) for tool in tools}
    return seconds, agree


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown"


def _head(task: tuple[list[Example], PromptSpec]) -> tuple[list[Example], PromptSpec]:
    return task[0][:2], task[1]


def main() -> None:
    """Score both ways and write the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tok = load_model(resolve_model_ref(args.model), "cpu", dtype="float32")
    seconds, agree = time_tools(model, tok, args.repeats)
    result = {
        "model": args.model,
        "work": WORK,
        "settings": {"device": "cpu", "dtype": "float32", "batch_size": CFG.batch_size, "max_seq_len": CFG.max_seq_len},
        "seconds": seconds,
        "speed_ratio_lm_eval_over_damoc": {name: round(t["lm_eval"] / t["damoc"], 2) for name, t in seconds.items()},
        "agreement": agree,
        "versions": {p: version(p) for p in ("damoc", "lm_eval", "torch", "transformers", "datasets")},
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {cpu_model()}",
        "python": platform.python_version(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
