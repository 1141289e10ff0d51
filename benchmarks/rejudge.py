"""Re-run a fidelity cell with the current task config and judge it against the ground truth the cell holds.

``benchmarks/fidelity.py`` measures a cell with ``damoc validate-selection``, which needs each
candidate's finished ground truth in the cache (or its record in ``benchmarks/results/ground_truth/``).
The ground truths behind the first four tasks' cells were trained on a machine that is gone, before
records were kept: their per-example predictions are lost, and training them again costs one to two
hours a task on 2 cores. What the cells do hold is what judging needs: every candidate's score with
its 95% interval, the statistical tie group, and the ground truth's seconds and tokens x layers.

So when the default recipe changes (the task configs), this runs the cell's proxy and baselines with
``damoc run`` (the cell's overrides: budget, ``selection.baselines``, run folder) and judges the
proxy's pick (``selection.fallback``'s when it picked) and every baseline's pick against the stored
ground truth: strict and tie-aware top-1, RelAcc, Kendall tau and Spearman on the proxy's scores, and
the speed-ups against the stored ground truth's seconds. The new cell replaces the old one under the
task (so ``fidelity.json``'s summary is the current default's) and the old one is kept under
``<task>+previous-default``. Its ``truth_from`` says where the ground truth came from and
``truth_keys`` records the keys this config would train, so a later cell can tell whether it matches.

Run:  .venv/bin/python benchmarks/rejudge.py --tasks medical_except medical_qa financial_qa general_qa
      then  .venv/bin/python benchmarks/fidelity.py --prescreens --tasks ... --budgets 0.03125
      -> runs/fidelity/<task>/e1-b0.03125/ (the cell's folder), benchmarks/results/fidelity.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from damoc.config import section_hash
from damoc.loading import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fidelity  # the cell overrides, the stored results, the summary
import stored_truth  # running a proxy, judging it against a stored cell

TRUTH_FIELDS = ("truth_order", "truth_scores", "truth_tie_group")
CONFIGS = fidelity.ROOT / "configs"


def rejudged(
    old: dict[str, Any], ranking: dict[str, Any], data_seconds: float, facts: dict[str, Any]
) -> dict[str, Any]:
    """A new cell: ``old``'s ground truth and costs, the proxy and baselines of ``ranking`` judged against them."""
    from damoc.selection.agreement import agreement
    from damoc.validation.compare import pick_check

    truth = {n: s["point"] for n, s in old["truth_scores"].items()}
    judged = stored_truth.judge(ranking, old, data_seconds)
    baselines = {
        b["baseline"]: pick_check(b["baseline"], b["order"][0], truth, old["truth_tie_group"]).model_dump()
        for b in ranking["baselines"]
        if b["order"]
    }
    costs = {
        "proxy_seconds": judged["proxy_seconds"],
        "truth_seconds": old["costs"]["truth_seconds"],
        "proxy_token_layers": judged["proxy_token_layers"],
        "truth_token_layers": old["costs"]["truth_token_layers"],
        "speedup_train": judged["train_speedup"],
        "speedup_end_to_end": judged["end_to_end_speedup"],
        "speedup_token_layers": judged["token_layer_speedup"],
    }
    return {
        **{k: old[k] for k in TRUTH_FIELDS},
        **{k: judged[k] for k in ("proxy_order", "pick", "fallback", "top1_strict", "top1_tie_aware", "relacc")},
        **{k: judged[k] for k in ("kendall_tau", "train_speedup", "end_to_end_speedup", "token_layer_speedup")},
        "spearman": agreement(judged["proxy_scores"], truth).get("spearman"),
        "proxy_scores": judged["proxy_scores"],
        "baselines": baselines,
        "baseline_token_layers": fidelity.baseline_token_layers(ranking),
        "proxy_leader_above_chance": judged["proxy_leader_above_chance"],
        "costs": costs,
        "truth_from": f"the stored cell of config {old.get('config_hash', '?')} (its per-example predictions are not kept)",
        **facts,
    }


def rejudge(task: str, budget: float, run_root: Path, baselines: str = fidelity.BASELINES) -> dict[str, Any]:
    """Run ``task``'s cell with the current config and judge it against the stored cell's ground truth.

    ``baselines`` (a YAML list) other than all of them gives a partial cell; rejudging again with all of
    them completes it in the same run folder, reusing the proxy's finished stages.
    """
    results = fidelity.load_results()
    old = results["tasks"].get(task, {}).get("budgets", {}).get(str(budget))
    if old is None:
        raise SystemExit(f"{task}: no cell at budget {budget} in {fidelity.RESULTS}; run benchmarks/fidelity.py")
    entry = results["tasks"][task]
    extra = entry.get("overrides", [])
    cfg = load_config(
        CONFIGS / f"{task}.yaml", fidelity.overrides(task, budget, entry["epochs"], run_root, "", baselines) + extra
    )
    keys = fidelity.truth_keys(cfg)
    if "truth_keys" in old and old["truth_keys"] != keys:
        raise SystemExit(f"{task}: the stored ground truth ({old['truth_keys']}) is not this config's ({keys})")
    ranking, data_seconds, facts, _ = stored_truth.run_proxy(cfg)
    cell = rejudged(old, ranking, data_seconds, facts)
    cell |= {
        "config_hash": section_hash(cfg),
        "proxy_steps": cfg.training.max_steps,
        "proxy_keep_ratio": fidelity.keep_ratio(cfg),
        "truth_keys": keys,
        "truth_keys_checked": "truth_keys" in old,
        "overrides": extra,
        "baselines_run": baselines,
    }
    return cell


def store(task: str, budget: float, cell: dict[str, Any], default_budget: float) -> None:
    """Put ``cell`` under ``task``; the cell it replaces goes to ``<task>+previous-default`` (kept once)."""
    results = fidelity.load_results()
    entry = results["tasks"][task]
    old = entry["budgets"][str(budget)]
    previous = results["tasks"].setdefault(
        f"{task}+previous-default", {"epochs": entry["epochs"], "budgets": {}, "overrides": entry.get("overrides", [])}
    )
    previous["budgets"].setdefault(str(budget), old)
    entry["budgets"][str(budget)] = cell
    fidelity.save(results, default_budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--budget", type=float, default=0.03125)
    parser.add_argument("--default-budget", type=float, default=0.03125)
    parser.add_argument("--run-root", type=Path, default=fidelity.ROOT / "runs" / "fidelity")
    parser.add_argument(
        "--baselines", nargs="*", default=None, help="run only these baselines (default: all); a later run completes it"
    )
    args = parser.parse_args()
    for task in args.tasks:
        cell = rejudge(task, args.budget, args.run_root, fidelity.baselines_option(args.baselines))
        store(task, args.budget, cell, args.default_budget)
        hit = "hit" if cell["top1_tie_aware"] else "miss"
        print(f"{task}: pick {cell['pick']} ({hit}); proxy order {' > '.join(cell['proxy_order'])}", flush=True)


if __name__ == "__main__":
    main()
