"""The ground truths' learning curves side by side: is the candidates' order stable in training length?

A ground truth evaluates each candidate on the whole eval split at fixed points of its fine-tune
(``ground_truth.curve_fractions``, 1/8, 1/4 and 1/2 epoch by default, and every epoch end). This reads
those points for one task's candidates, from the finished records in ``benchmarks/results/ground_truth/``
or, for a fine-tune still running, from ``curve.json`` in its cache entry (points are saved as they
come), and prints per point each candidate's score and their order. With ``--epochs 3`` it answers the
fidelity issue's question whether the order at one epoch (what the CPU-scale benchmark judges against)
holds at the recipe's three.

Run:  .venv/bin/python benchmarks/curves.py --task medical_except --epochs 3 [--metric acc] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from damoc.validation.base import CURVE_FILE, RESULT_DIR

sys.path.insert(0, str(Path(__file__).resolve().parent))
import truth_records

ROOT = Path(__file__).resolve().parents[1]


def curve_points(key: str, entry: Path, records: Path = truth_records.RECORDS) -> list[dict[str, Any]]:
    """One ground truth's curve points, oldest first: its record's when finished, else its cache entry's so far."""
    for path in (records / key / CURVE_FILE, entry / RESULT_DIR / CURVE_FILE, entry / CURVE_FILE):
        if path.is_file():
            return sorted(json.loads(path.read_text(encoding="utf-8")), key=lambda p: p["step"])
    return []


def curve_rows(curves: dict[str, list[dict[str, Any]]], metric: str) -> list[dict[str, Any]]:
    """Per curve point (an epoch value any candidate reached): each candidate's score and the order.

    A candidate without that point (still training) is left out of the point's order, which then
    says so (``complete`` false).
    """
    epochs = sorted({p["epoch"] for points in curves.values() for p in points})
    rows = []
    for epoch in epochs:
        scores = {name: p["metrics"][metric] for name, points in curves.items() for p in points if p["epoch"] == epoch}
        order = sorted(scores, key=lambda n: (-scores[n], n))
        rows.append({"epoch": epoch, "scores": scores, "order": order, "complete": len(scores) == len(curves)})
    return rows


def markdown(rows: list[dict[str, Any]], names: list[str], metric: str) -> str:
    """The curve table: one row per point, one column per candidate, then the order at that point."""
    short = [n.split("-")[0] for n in names]
    lines = [
        f"| epochs | {' | '.join(f'{s} {metric}' for s in short)} | order |",
        "|---|" + "---|" * len(names) + "---|",
    ]
    for r in rows:
        cells = [f"{r['scores'][n]:.3f}" if n in r["scores"] else "-" for n in names]
        order = " > ".join(n.split("-")[0] for n in r["order"]) + ("" if r["complete"] else " (so far)")
        lines.append(f"| {r['epoch']:g} | {' | '.join(cells)} | {order} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="medical_except")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--metric", default="acc")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    args = parser.parse_args()
    import fidelity

    from damoc.validation.cache import cache_root

    cfg = fidelity.truth_config(args.task, args.epochs, ROOT / "runs" / "fidelity", None, [])
    states = fidelity.job_states(cfg)
    entries = {name: cache_root(cfg.cache_dir) / row["key"] for name, row in states.items()}
    curves = {name: curve_points(states[name]["key"], entries[name]) for name in states}
    rows = curve_rows(curves, args.metric)
    if args.json:
        print(json.dumps({"task": args.task, "epochs": args.epochs, "keys": {n: r["key"] for n, r in states.items()},
                          "rows": rows}, indent=2))  # fmt: skip
    else:
        print(markdown(rows, list(states), args.metric))


if __name__ == "__main__":
    main()
