"""Proxy variants judged against the ground truth the fidelity benchmark already measured.

A ground truth (every bundled model fine-tuned on the whole training set) costs one to three hours
per task on 2 cores; a proxy run costs three to six minutes. ``benchmarks/fidelity.py`` records each
task's ground truth in ``benchmarks/results/fidelity.json``: every candidate's score with its 95%
interval and the statistical tie group. This script runs only ``damoc run`` for a variant of the proxy
recipe (``--set``: a data step, a scorer, a removal ratio, a ranking metric), on the same task config
and budget as the stored cell, and scores its pick against that stored ground truth: strict and
tie-aware top-1, RelAcc, Kendall tau, and the speed-ups against the stored ground truth's seconds.

The stored ground truth only applies when it is the ground truth this config would train. Cells written
since this script existed carry ``truth_keys``, each candidate's ground-truth cache key (a hash of its
weights, the data, the recipe, the scoring settings and the seed); the variant's config must give the
same keys, or it is refused. Older cells are marked ``truth_keys_checked: false`` (their task configs'
``task`` and ``ground_truth`` sections are unchanged since the cells ran, by ``git log configs/``).

This measures a data method's or a scorer's effect on the pick. The ground truth is scored on the eval
split, so a recipe chosen from these results is chosen on the eval split: the task configs' default
(deita on a pool, ``selection.fallback``) was chosen here on 2026-12-02, which the README states, and
its test is a task whose pick was written down before its ground truth existed (``--predict``). A
variant measured here is named by its label, never folded into ``fidelity.json``'s summary.

A variant can also be run on a task whose ground truth is not stored yet (``--predict --tasks TASK``):
its pick is written down with the time and the commit under ``predictions`` and never overwritten, so
once the cell exists the judged run (same run folder) tests a pick made before the answer was known.

Run:  .venv/bin/python benchmarks/stored_truth.py --label LABEL --set KEY=VALUE ... [--tasks ...] [--budget 0.03125]
      .venv/bin/python benchmarks/stored_truth.py --label LABEL --set ... --predict --tasks reading_comprehension
      .venv/bin/python benchmarks/stored_truth.py --table
      -> runs/stored_truth/<label>/<task>/, merges {label: {task: cell}} into benchmarks/results/stored_truth.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from damoc.artifacts import package_versions
from damoc.atomic import write_json_atomic
from damoc.loading import load_config
from damoc.validation.compare import PROXY_STAGES

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fidelity  # the cell overrides, the stored results, truth_keys

ROOT = fidelity.ROOT
RESULTS = ROOT / "benchmarks" / "results" / "stored_truth.json"


def stored_cell(task: str, budget: float, epochs: float = 1.0) -> dict[str, Any]:
    """The fidelity benchmark's cell of the default recipe for ``task`` at ``budget`` with a ground truth of
    ``epochs`` epochs; a clear error without one."""
    key = fidelity.cell_key(task, epochs)
    cells = fidelity.load_results()["tasks"].get(key, {}).get("budgets", {})
    if str(budget) not in cells:
        raise SystemExit(
            f"{fidelity.RESULTS}: no ground truth for {key} at budget {budget:g} "
            f"(stored: {sorted(cells) or 'none'}); run benchmarks/fidelity.py --tasks {task} --epochs {epochs:g} first"
        )
    return cells[str(budget)]


def ranked(ranking: dict[str, Any], data_seconds: float) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """A ranking's candidate rows, best first, and the proxy's seconds per stage (summed over candidates) and in all."""
    rows = sorted(ranking["candidates"], key=lambda c: c["rank"])
    stage = {s: sum(c["seconds"].get(s, 0.0) for c in rows) for s in PROXY_STAGES}
    return rows, {"data": data_seconds, **stage, "total": data_seconds + sum(stage.values())}


def prediction(ranking: dict[str, Any], data_seconds: float) -> dict[str, Any]:
    """What a proxy ranking says before its ground truth exists: the order, scores, ties and seconds."""
    rows, seconds = ranked(ranking, data_seconds)
    return {
        "pick": picked(ranking),
        "fallback": ranking.get("fallback"),
        "proxy_order": [c["candidate"] for c in rows],
        "proxy_scores": {c["candidate"]: c["score"] for c in rows},
        "pick_tied_with": rows[0].get("tied_with", []),
        "top_group": ranking.get("top_group", []),
        "proxy_leader_above_chance": fidelity.leader_above_chance(ranking),
        "proxy_seconds": {k: round(v, 1) for k, v in seconds.items() if k != "total"},
    }


def picked(ranking: dict[str, Any]) -> str:
    """The run's pick: ``selection.fallback``'s when it was used (no proxy above guessing), else the proxies' leader."""
    fallback = ranking.get("fallback")
    return fallback["pick"] if fallback else min(ranking["candidates"], key=lambda c: c["rank"])["candidate"]


def judge(ranking: dict[str, Any], cell: dict[str, Any], data_seconds: float) -> dict[str, Any]:
    """A proxy ranking (``ranking.json``) against a stored cell's ground truth."""
    from damoc.selection.agreement import agreement
    from damoc.validation.compare import pick_check

    truth = {n: s["point"] for n, s in cell["truth_scores"].items()}
    rows, proxy_seconds = ranked(ranking, data_seconds)
    scores = {c["candidate"]: c["score"] for c in rows}
    pick = picked(ranking)
    check = pick_check("proxy", pick, truth, cell["truth_tie_group"])
    truth_seconds = cell["costs"]["truth_seconds"]
    proxy_tl = sum(c["train_tokens"] * c["layers_after"] for c in rows if c.get("train_tokens") is not None)
    return {
        "truth_order": cell["truth_order"],
        "truth_tie_group": cell["truth_tie_group"],
        "pick": pick,
        "fallback": ranking.get("fallback"),
        "proxy_order": [c["candidate"] for c in rows],
        "proxy_scores": scores,
        "pick_tied_with": rows[0].get("tied_with", []),
        "top1_strict": check.strict,
        "top1_tie_aware": check.tie_aware,
        "relacc": check.relacc,
        "kendall_tau": agreement(scores, truth).get("kendall_tau"),
        "proxy_leader_above_chance": fidelity.leader_above_chance(ranking),
        "proxy_seconds": {k: round(v, 1) for k, v in proxy_seconds.items()},
        "train_speedup": round(truth_seconds["train"] / proxy_seconds["train"], 1) if proxy_seconds["train"] else None,
        "end_to_end_speedup": round(truth_seconds["total"] / proxy_seconds["total"], 1),
        "proxy_token_layers": proxy_tl,
        "token_layer_speedup": round(cell["costs"]["truth_token_layers"] / proxy_tl, 1) if proxy_tl else None,
    }


def variant_config(
    task: str, budget: float, epochs: float, label: str, extra: list[str], run_root: Path, cell_overrides: list[str]
) -> Any:
    """The config of one (task, variant): the fidelity cell's overrides, no baselines, then the variant's."""
    base = fidelity.overrides(task, budget, epochs, run_root / label, "", baselines="[]")  # no ats params either
    return load_config(ROOT / "configs" / f"{task}.yaml", [*base, *cell_overrides, *extra])


def run_proxy(cfg: Any) -> tuple[dict[str, Any], float, dict[str, Any], Path]:
    """``damoc run`` of a variant's config: its ranking, data-stage seconds, run facts and run folder."""
    from damoc.artifacts import RunLayout, read_manifest
    from damoc.pipeline import run

    start, load_before = time.time(), os.getloadavg()[0]
    run(cfg)
    layout = RunLayout(cfg.run_dir)
    ranking = json.loads((layout.root / "ranking.json").read_text(encoding="utf-8"))
    data_seconds = float((read_manifest(layout.data_dir) or {}).get("seconds", 0.0))
    facts = {
        "seconds": round(time.time() - start, 1),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    return ranking, data_seconds, facts, layout.root


def run_variant(
    task: str, budget: float, epochs: float, label: str, extra: list[str], run_root: Path
) -> tuple[dict[str, Any], Path]:
    """Run the proxy of one (task, variant) and judge it against the stored ground truth; also its run folder."""
    cell = stored_cell(task, budget, epochs)
    cfg = variant_config(task, budget, epochs, label, extra, run_root, cell["overrides"])
    if "truth_keys" in cell and cell["truth_keys"] != (keys := fidelity.truth_keys(cfg)):
        raise SystemExit(
            f"{task}: the stored ground truth is not the one this config would train (its cache keys "
            f"{cell['truth_keys']}, this config's {keys}): the data, recipe or candidates changed; "
            f"re-run benchmarks/fidelity.py --tasks {task}"
        )
    ranking, data_seconds, facts, root = run_proxy(cfg)
    return {
        **judge(ranking, cell, data_seconds),
        "budget": budget,
        "overrides": extra,
        "truth_from": f"fidelity.json tasks.{fidelity.cell_key(task, epochs)}.budgets.{budget}",
        "truth_keys_checked": "truth_keys" in cell,
        **facts,
    }, root


def predict_variant(
    task: str, budget: float, epochs: float, label: str, extra: list[str], run_root: Path
) -> dict[str, Any]:
    """Run a variant on a task whose fidelity cell does not exist yet and write down its pick (never overwritten).

    The run folder is the one the judged run uses (``run_root/label/task``), so once the cell exists,
    ``--label`` without ``--predict`` reuses it and judges it; the prediction stays as written.
    """
    import subprocess

    key = fidelity.cell_key(task, epochs)
    if str(budget) in fidelity.load_results()["tasks"].get(key, {}).get("budgets", {}):
        raise SystemExit(f"{key}: its ground truth is already in {fidelity.RESULTS}; a prediction must come before it")
    written = load().get("predictions", {}).get(label, {})
    if key in written:
        raise SystemExit(f"{key} [{label}]: a prediction is already written down ({RESULTS}); it is never overwritten")
    cfg = variant_config(task, budget, epochs, label, extra, run_root, [])
    ranking, data_seconds, facts, _ = run_proxy(cfg)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "commit_before": commit,
        "budget": budget,
        "epochs": epochs,
        "overrides": extra,
        "truth_keys": fidelity.truth_keys(cfg),
        **prediction(ranking, data_seconds),
        **facts,
    }


def load() -> dict[str, Any]:
    return json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.is_file() else {"variants": {}}


def save_cell(label: str, overrides: list[str], task: str, cell: dict[str, Any]) -> None:
    """Merge one finished cell into the file as it is now, so two variants run at once never drop each other's."""
    results = load()
    results["variants"].setdefault(label, {"overrides": overrides, "tasks": {}})["tasks"][task] = cell
    results["versions"] = package_versions()
    write_json_atomic(RESULTS, results)


def save_prediction(label: str, task: str, written: dict[str, Any]) -> None:
    """Merge one written-down prediction into the file as it is now (under ``predictions``)."""
    results = load()
    results.setdefault("predictions", {}).setdefault(label, {})[task] = written
    write_json_atomic(RESULTS, results)


def drop_proxy_weights(run_dir: Path) -> int:
    """Delete the compressed proxies' weights (``models/<candidate>/proxy/*.safetensors``) of a stored cell.

    A cell is stored once its ranking exists, and a stored cell is never run again, so its proxies are
    dead weight: 1-2 GB a candidate in fp32, about 3.5 GB a task, which filled the disk after a few
    variants. The adapters, ``layers.json`` and every report stay. Returns the bytes freed.
    """
    freed = 0
    for path in sorted(run_dir.glob("models/*/proxy/*.safetensors")):
        freed += path.stat().st_size
        path.unlink()
    return freed


def table(results: dict[str, Any]) -> str:
    """One row per variant: its pick on each task (tie-aware hit; "=" where its whole order equals the stored
    default recipe's; the candidates with exactly the pick's score, where the pick broke a tie; a leader not
    above guessing), its hits, and the range of its end-to-end speed-ups."""
    present = {k for v in results["variants"].values() for k in v["tasks"]}  # "task", or "task@3ep"
    tasks = sorted(present, key=lambda k: (fidelity.TASKS.index(k.split("@")[0]), k))
    stored = fidelity.load_results()["tasks"]
    lines = [
        "| variant | overrides | " + " | ".join(tasks) + " | tie-aware hits | end-to-end speed-up (range) |",
        "|---|---|" + "---|" * (len(tasks) + 2),
    ]
    for label, v in results["variants"].items():
        cells, marks = v["tasks"], []
        for t in tasks:
            c = cells.get(t)
            if c is None:
                marks.append("-")
                continue
            same = c["proxy_order"] == stored[t]["budgets"][str(c["budget"])]["proxy_order"]
            tied = "" if c.get("fallback") else ", ".join(n.split("-")[0] for n in c.get("pick_tied_with", []))
            marks.append(
                f"{fidelity.pick_of(c)} {'yes' if c['top1_tie_aware'] else 'no'}{' =' if same else ''}"
                + (f" (same score as {tied})" if tied else "")
                + (" (leader at chance)" if c.get("proxy_leader_above_chance") is False else "")
            )
        hits = sum(bool(c["top1_tie_aware"]) for c in cells.values())
        speed = [c["end_to_end_speedup"] for c in cells.values()]
        over = "; ".join(f"`{o}`" for o in v["overrides"]) or "(the default recipe)"
        lines.append(
            f"| {label} | {over} | "
            + " | ".join(marks)
            + f" | {hits} of {len(cells)} | {min(speed):.1f}-{max(speed):.1f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", help="the variant's name (results and run folders under it)")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides that make the variant")
    parser.add_argument("--tasks", nargs="+", default=None, help="default: every task with a stored ground truth")
    parser.add_argument("--budget", type=float, default=0.03125)
    parser.add_argument("--run-root", type=Path, default=ROOT / "runs" / "stored_truth")
    parser.add_argument("--table", action="store_true", help="print the README table from the stored results")
    parser.add_argument(
        "--keep-weights", action="store_true", help="keep each stored cell's proxy weights (default: deleted)"
    )
    parser.add_argument(
        "--predict", action="store_true", help="--tasks without a ground truth yet: write down the variant's pick"
    )
    parser.add_argument(
        "--epochs",
        type=float,
        default=1.0,
        help="the ground truth's epochs (a cell other than 1 is stored as 'task@3ep')",
    )
    args = parser.parse_args()
    results = load()
    if args.table:
        print(table(results))
        return
    if not args.label:
        parser.error("--label is required (or --table)")
    if args.predict:
        if not args.tasks:
            parser.error("--predict needs --tasks (tasks whose ground truth is not stored yet)")
        for task in args.tasks:
            written = predict_variant(task, args.budget, args.epochs, args.label, args.set, args.run_root)
            save_prediction(args.label, fidelity.cell_key(task, args.epochs), written)
            print(f"{task} [{args.label}] written down: {' > '.join(written['proxy_order'])}", flush=True)
        return
    stored = fidelity.load_results()["tasks"]
    tasks = args.tasks or [t for t in fidelity.TASKS if fidelity.cell_key(t, args.epochs) in stored]
    variant = results["variants"].setdefault(args.label, {"overrides": args.set, "tasks": {}})
    if variant["overrides"] != args.set:
        raise SystemExit(f"variant {args.label!r} was stored with --set {variant['overrides']}; use another label")
    for task in tasks:
        key = fidelity.cell_key(task, args.epochs)
        if key in variant["tasks"]:
            print(f"{key}: stored, skipped")
            continue
        c, run_dir = run_variant(task, args.budget, args.epochs, args.label, args.set, args.run_root)
        save_cell(args.label, args.set, key, c)
        if not args.keep_weights:
            freed = drop_proxy_weights(run_dir)
            print(f"{task}: dropped {freed / 1e9:.1f} GB of proxy weights (--keep-weights keeps them)")
        hit = "hit" if c["top1_tie_aware"] else "miss"
        print(
            f"{task} [{args.label}]: {' > '.join(c['proxy_order'])} (truth {' > '.join(c['truth_order'])}) {hit}",
            flush=True,
        )


if __name__ == "__main__":
    main()
