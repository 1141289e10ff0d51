"""Tune the proxy recipe on a dev split carved from train, never on the eval split.

The fidelity benchmark (``benchmarks/fidelity.py``) measures damoc's pick against ground truths
evaluated on each task's eval split; choosing the recipe by those numbers would fit the recipe to
the test. This script instead:

1. carves a dev split from the task's *training* split: whole clusters of examples sharing their
   ``selection.cluster_by`` text (``medical_except``'s question stems, reading passages), seeded,
   until at least ``--dev-size`` examples are held out; the rest is the tuning train split;
2. trains a *dev reference* on the tuning train split: the uncompressed candidates, LoRA with the
   ground-truth recipe for ``--reference-epochs`` of an epoch, evaluated on the whole dev split (a
   cheaper stand-in for the ground truth, cached by content hash like it);
3. runs every recipe variant at the same training compute as the default recipe (the budget is
   scaled by ``1 / reference_epochs`` so that the proxy trains the same number of tokens x layers as
   at ``--budget`` of a one-epoch ground truth), evaluates every proxy on the whole dev split, and
   records the agreement with the dev reference and how far each proxy learned the task (its dev
   accuracy against chance).

Run:  .venv/bin/python benchmarks/proxy_tuning.py --task medical_except [--variants default tolerance ...]
      -> runs/tuning/<task>/, benchmarks/results/proxy_tuning.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from damoc.config import section_hash
from damoc.loading import load_config
from damoc.tasks.dev import ClusterKey, carve_dev
from damoc.validation import validate_selection

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "proxy_tuning.json"
TASK_DIR = ROOT / "src" / "damoc" / "bundled_tasks"

VARIANTS: dict[str, list[str]] = {
    "default": [],
    "tolerance": ["model.max_loss_increase=0.1"],
    "tolerance-b2-lr1e-3": ["model.max_loss_increase=0.1", "training.batch_size=2", "training.learning_rate=1.0e-3"],
    "tolerance-b4-lr2e-3": ["model.max_loss_increase=0.1", "training.batch_size=4", "training.learning_rate=2.0e-3"],
    "tolerance-b8-lr2e-3": ["model.max_loss_increase=0.1", "training.learning_rate=2.0e-3"],
    "b2-lr1e-3": ["training.batch_size=2", "training.learning_rate=1.0e-3"],
    # how the budget is split between data and layers: fewer layers removed, so fewer steps at the same compute
    "remove-eighth": ["model.remove_ratio=0.125"],
    "no-removal": ["model.remove_ratio=0"],
    # which layers: similarity measured where the answers are predicted
    "answer-scorer": ["model.scorer={method: block_influence_answer}"],
}
"""Recipe variants, as config overrides on top of ``configs/<task>.yaml``; all at the same budget."""


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def split_files(task: str, cluster_by: ClusterKey, dev_size: int, seed: int, out: Path) -> tuple[Path, Path, int, int]:
    """Write the tuning train and dev JSONL files of a bundled task; (train path, dev path, sizes)."""
    lines = (TASK_DIR / task / "train.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    train, dev = carve_dev(rows, cluster_by, dev_size, seed)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(dev, out / "dev.jsonl")
    return out / "train.jsonl", out / "dev.jsonl", len(train), len(dev)


def variant_cell(task: str, name: str, args: argparse.Namespace, files: tuple[Path, Path]) -> dict[str, Any]:
    """Validate one recipe variant against the dev reference; its summary."""
    base = [
        "task.bundled=null",
        f"task.train={{path: {files[0]}}}",
        f"task.eval={{path: {files[1]}}}",
        f"run_dir={args.run_root / task / name}",
        f"budget={args.budget / args.reference_epochs}",
        f"ground_truth.epochs={args.reference_epochs}",
        "ground_truth.curve_fractions=[]",
        f"selection.baselines=[{','.join(args.baselines)}]",
        "evaluation.sequential_chunk=null",
    ]
    cfg = load_config(ROOT / "configs" / f"{task}.yaml", base + VARIANTS[name])
    start = time.time()
    report = validate_selection(cfg)
    ranking = json.loads((cfg.run_dir / "ranking.json").read_text(encoding="utf-8"))
    agreement = report.agreement or {}
    return {
        "overrides": VARIANTS[name],
        "config_hash": section_hash(cfg),
        "proxy_steps": cfg.training.max_steps,
        "reference_order": report.truth_order,
        "reference_tie_group": report.truth_tie_group,
        "reference_scores": {c.candidate: c.truth.model_dump() for c in report.candidates},
        "proxy_order": report.proxy_order,
        "proxy_scores": {e["candidate"]: e["score"] for e in ranking["candidates"]},
        "proxy_layers": {e["candidate"]: f"{e['layers_after']}/{e['layers_before']}" for e in ranking["candidates"]},
        "proxy_train_examples": {e["candidate"]: e["train_examples"] for e in ranking["candidates"]},
        "top1_strict": report.top1.strict,
        "top1_tie_aware": report.top1.tie_aware,
        "kendall_tau": agreement.get("kendall_tau"),
        "relacc": report.top1.relacc,
        "baselines": {b.source: b.model_dump() for b in report.baselines},
        "seconds": round(time.time() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="medical_except")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--budget", type=float, default=0.03125, help="of a one-epoch ground truth")
    parser.add_argument("--reference-epochs", type=float, default=0.25)
    parser.add_argument("--dev-size", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baselines", nargs="*", default=["model_size"], help="baselines run beside each variant")
    parser.add_argument("--run-root", type=Path, default=ROOT / "runs" / "tuning")
    args = parser.parse_args()

    probe = load_config(ROOT / "configs" / f"{args.task}.yaml")
    cluster_by = probe.selection.cluster_by
    train, dev, n_train, n_dev = split_files(
        args.task, cluster_by, args.dev_size, args.seed, args.run_root / args.task / "data"
    )
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {"tasks": {}}
    entry = results["tasks"].setdefault(args.task, {})
    entry["split"] = {"cluster_by": cluster_by, "train": n_train, "dev": n_dev, "seed": args.seed}
    entry["reference"] = {"epochs": args.reference_epochs, "budget_of_one_epoch": args.budget}
    variants = entry.setdefault("variants", {})
    for name in args.variants:
        variants[name] = variant_cell(args.task, name, args, (train, dev))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        tmp.replace(RESULTS)
        v = variants[name]
        print(f"{args.task} {name}: {v['proxy_order']} vs {v['reference_order']} tau {v['kendall_tau']}", flush=True)


if __name__ == "__main__":
    main()
