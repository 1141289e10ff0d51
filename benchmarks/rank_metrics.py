"""Would another score of the same proxies pick better? Re-rank finished fidelity cells by other metrics.

Every fidelity cell (``benchmarks/fidelity.py``) keeps each candidate's per-example predictions: the
log-likelihood of every choice, for damoc's proxy (``eval``) and for each baseline that fine-tunes
or evaluates (``subset_tuning``, ``data_only``, ``model_only``, ``zero_shot``). Accuracy on 144 eval
examples is a coarse, noisy signal; this script ranks the same predictions by smoother scores and
checks each pick against the cell's ground truth (its tie group, as the fidelity table does). No
model runs: it reads the run folders and ``benchmarks/results/fidelity.json``.

Scores, per example with choice log-likelihoods ``l_1..l_k`` and right choice ``a`` (``p = softmax(l)``):
- ``acc``: ``argmax l == a`` (lm-evaluation-harness ``acc``);
- ``acc_norm``: ``argmax l_i / len_i == a``, lengths in characters (lm-eval ``acc_norm``);
- ``prob``: ``p_a``, the probability of the right choice among the choices (damoc's ``choice_prob``);
- ``logp``: ``log p_a`` (the log score, a proper scoring rule; damoc's ``choice_logprob``);
- ``brier``: ``-sum_i (p_i - [i == a])^2`` (lm-eval's ``brier_score``, negated so higher is better).

The metric is chosen after looking at the measured tasks, so any task measured later is the held-out
test of a choice made here. The choice (``subset_tuning`` ranked by ``prob``, ``logp`` or ``brier``:
4 of 4 hits on the medical_except, medical_qa and financial_qa cells) was written before general_qa's
cell was looked at, but its commit (dd5b389) landed together with that cell's results, so general_qa
is not a verifiable held-out test; reading_comprehension, not run yet, is.

A prediction can be written down before its ground truth exists (``--predict TASK``): every source's
order under every score, read from a cell that ran without its ground truth (``damoc run`` with the
cell's overrides), stored with the time and the commit under ``predictions``; once the ground truth
exists, the cell is graded like the others and ``graded`` judges what was said before against it.

Run:  .venv/bin/python benchmarks/rank_metrics.py            -> benchmarks/results/rank_metrics.json
      .venv/bin/python benchmarks/rank_metrics.py --table    (the README table)
      .venv/bin/python benchmarks/rank_metrics.py --predict reading_comprehension [--budget 0.03125 --epochs 1]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIDELITY = ROOT / "benchmarks" / "results" / "fidelity.json"
RESULTS = ROOT / "benchmarks" / "results" / "rank_metrics.json"
SOURCES = ("eval", "subset_tuning", "data_only", "model_only", "zero_shot")
METRICS = ("acc", "acc_norm", "prob", "logp", "brier")
DAMOC_METRICS = {"acc": "acc", "acc_norm": "acc_norm", "prob": "choice_prob", "logp": "choice_logprob"}
"""Scores that are registered damoc metrics (``rank_by`` values), by this script's name for them."""


def example_scores(row: dict[str, Any]) -> dict[str, float]:
    """Every metric of one multiple-choice prediction row (all but brier are damoc's own metrics)."""
    from damoc.registry import registry

    one = {m: registry("metric").build(name).compute([row]) for m, name in DAMOC_METRICS.items()}
    lls, a = row["logliks"], row["answer"]
    top = max(lls)
    log_z = top + math.log(sum(math.exp(x - top) for x in lls))
    probs = [math.exp(x - log_z) for x in lls]
    return one | {"brier": -sum((p - (i == a)) ** 2 for i, p in enumerate(probs))}


def source_means(cell: Path, names: list[str], source: str) -> dict[str, dict[str, float]] | None:
    """Each candidate's mean of every metric over the examples all candidates have; None if one is missing."""
    rows = {}
    for name in names:
        path = cell / "models" / name / source / "predictions.jsonl"
        if not path.is_file():
            return None
        rows[name] = {r["id"]: r for r in map(json.loads, path.read_text().splitlines()) if "logliks" in r}
    common = sorted(set.intersection(*(set(r) for r in rows.values())))
    if not common:
        return None
    out = {}
    for name in names:
        per = [example_scores(rows[name][i]) for i in common]
        out[name] = {m: sum(s[m] for s in per) / len(per) for m in METRICS} | {"examples": len(common)}
    return out


def metric_order(means: dict[str, dict[str, float]], names: list[str], metric: str) -> list[str]:
    """The candidates by one metric's mean, best first; exact ties by name (not by the ground truth)."""
    return sorted(names, key=lambda n: (-means[n][metric], n))


def measure(fidelity: dict[str, Any], run_root: Path) -> dict[str, Any]:
    """Per task and budget cell, per source and metric: the order and whether its pick is a (tie-aware) hit."""
    out: dict[str, Any] = {}
    for task, entry in fidelity["tasks"].items():
        if "+" in task:  # a diagnosis variant, not the default recipe
            continue
        for budget, res in entry["budgets"].items():
            cell = run_root / task / f"e{entry['epochs']:g}-b{float(budget):g}"
            names, tie = res["truth_order"], set(res["truth_tie_group"])
            cell_out: dict[str, Any] = {"truth_order": names, "truth_tie_group": sorted(tie), "sources": {}}
            for source in SOURCES:
                means = source_means(cell, names, source)
                if means is None:
                    continue
                rows = {}
                for m in METRICS:
                    order = metric_order(means, names, m)
                    tied_top = means[order[0]][m] == means[order[1]][m]
                    rows[m] = {
                        "order": order,
                        "hit": order[0] in tie,
                        "strict": order[0] == names[0],
                        "tied_top": tied_top,
                    }
                examples = next(iter(means.values()))["examples"]
                cell_out["sources"][source] = {"examples": examples, "means": means, "metrics": rows}
            if cell_out["sources"]:
                out[f"{task}@{budget}"] = cell_out
    return out


RULE = ("subset_tuning", "logp")
"""The choice under test: the full model tuned on a random subset at the proxy's compute, ranked by log p."""


def predict(task: str, budget: float, epochs: float, run_root: Path) -> dict[str, Any]:
    """Every source's order under every score in a cell whose ground truth is not known yet."""
    import datetime
    import subprocess

    cell = run_root / task / f"e{epochs:g}-b{budget:g}"
    ranking = json.loads((cell / "ranking.json").read_text(encoding="utf-8"))
    names = [c["candidate"] for c in ranking["candidates"]]
    sources: dict[str, Any] = {}
    for source in SOURCES:
        means = source_means(cell, names, source)
        if means is not None:
            orders = {m: metric_order(means, names, m) for m in METRICS}
            sources[source] = {"examples": next(iter(means.values()))["examples"], "means": means, "orders": orders}
    if RULE[0] not in sources:
        raise SystemExit(f"{cell}: no {RULE[0]} predictions; run the cell with selection.baselines including it")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {
        "written_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit_before": commit,
        "rule": f"{RULE[0]} ranked by {RULE[1]}",
        "rule_pick": sources[RULE[0]]["orders"][RULE[1]][0],
        "proxy_pick": ranking["candidates"][0]["candidate"],
        "proxy_exact_tie": ranking["candidates"][0].get("tied_with", []),
        "proxy_top_group": ranking.get("top_group", []),
        "sources": sources,
    }


def grade(predictions: dict[str, Any], cells: dict[str, Any]) -> dict[str, Any]:
    """Each written-down prediction whose cell now has a ground truth, judged as the cells are (tie group).

    Per prediction: the ground truth's order and tie group, the pre-stated rule's and damoc's proxy's
    picks with their tie-aware and strict hits, and every stored source's order under every score.
    The prediction itself is never rewritten; this is computed from it and the graded cell.
    """
    out: dict[str, Any] = {}
    for key, p in predictions.items():
        cell = cells.get(key)
        if cell is None:
            continue
        tie, best = set(cell["truth_tie_group"]), cell["truth_order"][0]

        def judged(pick: str, tie: set[str] = tie, best: str = best) -> dict[str, Any]:
            return {"pick": pick, "hit": pick in tie, "strict": pick == best}

        out[key] = {
            "truth_order": cell["truth_order"],
            "truth_tie_group": cell["truth_tie_group"],
            "rule": p["rule"],
            "rule_pick": judged(p["rule_pick"]),
            "proxy_pick": judged(p["proxy_pick"]) | {"exact_tie": p["proxy_exact_tie"]},
            "sources": {
                source: {m: judged(order[0]) for m, order in s["orders"].items()} for source, s in p["sources"].items()
            },
        }
    return out


def graded_lines(graded: dict[str, Any]) -> list[str]:
    """One line per graded prediction: what the rule and the proxy said, against the ground truth."""

    def mark(j: dict[str, Any]) -> str:
        return f"{j['pick']} ({'a tie-aware hit' if j['hit'] else 'a miss'}{', strict' if j['strict'] else ''})"

    return [
        f"{key}, graded: ground truth {' > '.join(g['truth_order'])} (tie group {', '.join(g['truth_tie_group'])}); "
        f"{g['rule']} picked {mark(g['rule_pick'])}; damoc's proxy picked {mark(g['proxy_pick'])}"
        for key, g in graded.items()
    ]


def markdown_table(results: dict[str, Any]) -> str:
    """Rows: source x metric; columns: cells (pick, tie-aware hit); last column: hits of cells."""
    cells = list(results)
    lines = [
        "| proxy | metric | " + " | ".join(c.replace("@", " @ ") for c in cells) + " | tie-aware hits |",
        "|---|---|" + "---|" * (len(cells) + 1),
    ]
    for source in SOURCES:
        for m in METRICS:
            marks, hits, seen = [], 0, 0
            for c in cells:
                row = results[c]["sources"].get(source, {}).get("metrics", {}).get(m)
                if row is None:
                    marks.append("-")
                    continue
                seen += 1
                hits += row["hit"]
                tied = " (exact tie, first by name)" if row["tied_top"] else ""
                marks.append(f"{row['order'][0].split('-')[0][:5]} {'yes' if row['hit'] else 'no'}{tied}")
            if seen:
                lines.append(f"| {source} | {m} | " + " | ".join(marks) + f" | {hits} of {seen} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", type=Path, default=ROOT / "runs" / "fidelity")
    parser.add_argument("--table", action="store_true", help="print the README table from the stored results")
    parser.add_argument("--predict", metavar="TASK", help="write down the picks of a cell with no ground truth yet")
    parser.add_argument("--budget", type=float, default=0.03125, help="--predict: the cell's budget")
    parser.add_argument("--epochs", type=float, default=1.0, help="--predict: the ground truth's epochs")
    args = parser.parse_args()
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"cells": {}}
    if args.table:
        print(markdown_table(stored["cells"]))
        for key, p in stored.get("predictions", {}).items():
            print(f"\n{key}, written {p['written_at']} (after commit {p['commit_before'][:7]}): {p['rule']} picks "
                  f"{p['rule_pick']}; damoc's proxy picks {p['proxy_pick']}")  # fmt: skip
        for line in graded_lines(stored.get("graded", {})):
            print(f"\n{line}")
        return
    if args.predict:
        key = f"{args.predict}@{args.budget:g}"
        if key in stored.get("predictions", {}):
            raise SystemExit(f"{key}: a prediction is already written down ({RESULTS}); it is never overwritten")
        stored.setdefault("predictions", {})[key] = predict(args.predict, args.budget, args.epochs, args.run_root)
        RESULTS.write_text(json.dumps(stored, indent=1) + "\n")
        print(json.dumps({k: v for k, v in stored["predictions"][key].items() if k != "sources"}, indent=1))
        return
    # a deleted run folder keeps its cell
    stored["cells"] = stored["cells"] | measure(json.loads(FIDELITY.read_text()), args.run_root)
    stored["graded"] = grade(stored.get("predictions", {}), stored["cells"])
    RESULTS.write_text(json.dumps(stored, indent=1) + "\n")
    print(markdown_table(stored["cells"]))
    for line in graded_lines(stored["graded"]):
        print(f"\n{line}")


if __name__ == "__main__":
    main()
