"""Check that each bundled task discriminates: no leakage, no tie after fine-tuning, and whether
fine-tuning changes the candidates' zero-shot order.

For each task this runs damoc itself with no compression (all training data, `remove_ratio: 0`), so
the "fine-tuned" scores are plain LoRA fine-tunes of the full candidates, and the `zero_shot`
baseline gives the scores before fine-tuning. Runs are resumable: start it again after a kill and
finished tasks and stages are skipped.

Run:  .venv/bin/python benchmarks/task_checks.py [--tasks general_qa medical_qa ...] [--max-steps 80]
      .venv/bin/python benchmarks/task_checks.py --table    (the README table from the stored results)
      .venv/bin/python benchmarks/task_checks.py --margins  (margins and their 95% intervals from the run folders)
      -> runs/task_checks/<task>/, benchmarks/results/task_checks.json,
         src/damoc/bundled_tasks/<task>/checks.yaml (shown by `damoc tasks show`)
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from damoc.artifacts import RunLayout
from damoc.config import TaskConfig
from damoc.loading import parse_config
from damoc.pipeline import run
from damoc.tasks.load import BUNDLED_DIR, bundled_task_names, load_split, task_sources

RESULTS = Path(__file__).parent / "results" / "task_checks.json"
RESAMPLES = 4000


def leakage(task: str) -> dict[str, int]:
    """Eval questions (with their context) that appear verbatim in train."""
    train, evals, fields, task_type = task_sources(TaskConfig(bundled=task))
    splits = {s: load_split(src, fields, task_type, s) for s, src in (("train", train), ("eval", evals))}
    seen = {(e.context, e.question) for e in splits["train"]}
    leaked = sum((e.context, e.question) in seen for e in splits["eval"])
    return {"train": len(splits["train"]), "eval": len(splits["eval"]), "eval_questions_in_train": leaked}


def correct(stage_dir: Path) -> dict[str, int]:
    """1 or 0 per eval example id: whether the stored prediction is the right answer."""
    lines = (stage_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: int(r["pred"] == r["answer"]) for r in map(json.loads, lines)}


def margin_ci(a: dict[str, int], b: dict[str, int], cluster: dict[str, str], seed: str) -> list[float]:
    """Accuracy of ``a`` minus that of ``b`` and its 95% interval from a paired bootstrap that resamples
    clusters of examples (examples that share a question stem move together), as [diff, low, high]."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ex_id in a:
        sums[cluster[ex_id]][0] += a[ex_id] - b[ex_id]
        sums[cluster[ex_id]][1] += 1
    groups = [sums[k] for k in sorted(sums)]
    rng = random.Random(seed)
    stats = []
    for _ in range(RESAMPLES):
        picked = [groups[rng.randrange(len(groups))] for _ in groups]
        stats.append(sum(g[0] for g in picked) / sum(g[1] for g in picked))
    stats.sort()
    diff = sum(g[0] for g in groups) / sum(g[1] for g in groups)
    return [round(diff, 4), round(stats[int(0.025 * RESAMPLES)], 4), round(stats[int(0.975 * RESAMPLES) - 1], 4)]


def margins(task: str, run_dir: Path, tuned_order: list[str]) -> dict[str, Any]:
    """For each pair of neighbours in the fine-tuned order: their zero-shot and fine-tuned accuracy margins
    (the first minus the second) with 95% intervals, clustered by question stem."""
    _, evals, fields, task_type = task_sources(TaskConfig(bundled=task))
    cluster = {e.id: f"{e.context}|{e.question}" for e in load_split(evals, fields, task_type, "eval")}
    layout = RunLayout(run_dir)
    out: dict[str, Any] = {"clusters": len(set(cluster.values())), "resamples": RESAMPLES}
    for first, second in itertools.pairwise(tuned_order):
        pair = f"{first} - {second}"
        out[pair] = {
            stage: margin_ci(correct(where(first)), correct(where(second)), cluster, f"{task}|{pair}|{stage}")
            for stage, where in (("zero_shot", layout.zero_shot_dir), ("fine_tuned", layout.eval_dir))
        }
    return out


def task_config(task: str, candidates: list[str], max_steps: int, run_root: Path) -> dict[str, Any]:
    """damoc config: full data, full models, LoRA, zero-shot baseline."""
    return {
        "run_dir": str(run_root / task),
        "seed": 0,
        "task": {"bundled": task},
        "candidates": candidates,
        "data": {"steps": [{"method": "random", "params": {"keep_ratio": 1.0}}]},
        "model": {"remove_ratio": 0.0},
        "training": {
            "method": "lora",
            "max_steps": max_steps,
            "batch_size": 8,
            "learning_rate": 5e-4,
            "max_seq_len": 384,
        },
        "evaluation": {"batch_size": 16, "max_seq_len": 512},
        "selection": {"rank_by": "acc", "baselines": ["zero_shot"]},
    }


def check_task(task: str, candidates: list[str], max_steps: int, run_root: Path) -> dict[str, Any]:
    """Run one task and summarise zero-shot vs fine-tuned scores."""
    start = time.perf_counter()
    ranking = run(parse_config(task_config(task, candidates, max_steps, run_root)))
    assert ranking is not None
    zero = next(b for b in ranking.baselines if b.baseline == "zero_shot")
    tuned = {c.candidate: c.score for c in ranking.candidates}
    tuned_order = [c.candidate for c in ranking.candidates]
    return {
        "task": task,
        "candidates": candidates,
        "lora_steps": max_steps,
        "batch_size": 8,
        "zero_shot_acc": {k: round(v, 4) for k, v in zero.scores.items()},
        "zero_shot_order": zero.order,
        "fine_tuned_acc": {k: round(v, 4) for k, v in tuned.items()},
        "fine_tuned_order": tuned_order,
        "tie_after_fine_tuning": len(set(tuned.values())) < len(tuned),
        "fine_tuning_changes_order": zero.order != tuned_order,
        "margins": margins(task, run_root / task, tuned_order),
        "leakage": leakage(task),
        "seconds": round(time.perf_counter() - start, 1),
    }


SHORT = {"smollm2-135m": "smol", "gemma3-270m": "gemma", "qwen2.5-coder-0.5b": "qwen"}


def _accs(d: dict[str, Any], key: str) -> str:
    return ", ".join(f"{SHORT.get(c, c)} {d[key][c]:.3f}" for c in d["candidates"])


def _order(d: dict[str, Any], key: str) -> str:
    return " > ".join(SHORT.get(c, c) for c in d[key])


def _margin(d: dict[str, Any]) -> str:
    first, second = d["fine_tuned_order"][:2]
    diff, low, high = d["margins"][f"{first} - {second}"]["fine_tuned"]
    return f"{diff:+.3f} ({low:+.3f} to {high:+.3f})"


def markdown_table(results: dict[str, Any]) -> str:
    """The README's table of the measured checks."""
    lines = [
        "| task | zero-shot acc | fine-tuned acc | zero-shot order | fine-tuned order "
        "| fine-tuning changes the order | tie | fine-tuned margin, 1st - 2nd (95% CI) | eval questions found in train |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, d in results.items():
        changes = "**yes**" if d["fine_tuning_changes_order"] else "no"
        lines.append(
            f"| `{task}` | {_accs(d, 'zero_shot_acc')} | {_accs(d, 'fine_tuned_acc')} | {_order(d, 'zero_shot_order')} "
            f"| {_order(d, 'fine_tuned_order')} | {changes} | {'yes' if d['tie_after_fine_tuning'] else 'no'} "
            f"| {_margin(d)} "
            f"| {d['leakage']['eval_questions_in_train']} of {d['leakage']['eval']} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Check the chosen tasks, write the JSON results and each task's checks.yaml."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=None, help="default: every bundled task")
    parser.add_argument("--candidates", nargs="*", default=["smollm2-135m", "gemma3-270m"])
    parser.add_argument("--max-steps", type=int, default=80)
    parser.add_argument("--run-root", type=Path, default=Path("runs/task_checks"))
    parser.add_argument("--table", action="store_true", help="print the README table of the stored results and stop")
    parser.add_argument(
        "--margins", action="store_true", help="recompute the margins of stored results from their run folders"
    )
    args = parser.parse_args()
    if args.table:
        print(markdown_table(json.loads(RESULTS.read_text())))
        return
    stored = json.loads(RESULTS.read_text()) if args.margins else {}
    for task in args.tasks or (list(stored) if args.margins else bundled_task_names()):
        if args.margins:
            summary = stored[task]
            summary["margins"] = margins(task, args.run_root / task, summary["fine_tuned_order"])
        else:
            summary = check_task(task, args.candidates, args.max_steps, args.run_root)
            summary["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        save(task, summary)
        print(json.dumps(summary), flush=True)


def save(task: str, summary: dict[str, Any]) -> None:
    """Write one task's summary into the results file and its checks.yaml."""
    # read just before writing: another run of this script may have added other tasks meanwhile
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[task] = summary
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    (BUNDLED_DIR / task / "checks.yaml").write_text(yaml.safe_dump({"checks": summary}, sort_keys=False))


if __name__ == "__main__":
    main()
