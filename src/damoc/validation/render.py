"""The report's validation section (Markdown and HTML) from ``validation.json``. Torch-free.

One list of (title, text, header, rows) blocks feeds both formats: the two rankings side by side
with intervals, agreement and picks, costs and speed-ups, and the learning curves.
"""

from __future__ import annotations

import html
from pathlib import Path

from damoc.reports import read_stage_report
from damoc.validation.base import ValidationReport, validation_path

Block = tuple[str, str, list[str], list[list[str]]]


def read_validation(run_dir: Path) -> ValidationReport | None:
    """``run_dir/validation.json``, or None when validation has not run."""
    path = validation_path(run_dir)
    return read_stage_report(path, ValidationReport) if path.is_file() else None


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _tie_sentence(group: list[str]) -> str:
    """The ground truth's top group in words: the leader alone, or who is statistically tied with it."""
    if len(group) <= 1:
        return f"{group[0]} leads the others beyond noise." if group else ""
    return f"Statistically tied for first: {', '.join(group)}."


def rankings_block(v: ValidationReport) -> Block:
    """The proxy's and the ground truth's ranks and scores, with the ground truth's intervals."""
    gt = v.ground_truth
    text = (
        f"Ground truth: each full candidate fine-tuned ({gt.get('method')}, {gt.get('epochs'):g} epochs, "
        f"learning rate {gt.get('learning_rate'):g}) on all {v.train_examples} training examples and evaluated "
        f"on {v.eval_examples} eval examples; `{v.judged_by}` with {v.level:.0%} bootstrap intervals"
        + ("" if v.judged_by == v.rank_by else f" (the proxy is ranked by `{v.rank_by}`)")
        + ". "
        + _tie_sentence(v.truth_tie_group)
    )
    header = ["candidate", "proxy rank", f"proxy {v.rank_by}", "truth rank", f"truth {v.judged_by} (95% CI)", "tied"]
    rows = [
        [c.candidate, str(c.proxy_rank), _f(c.proxy_score), str(c.truth_rank),
         f"{_f(c.truth.point)} ({_f(c.truth.low)} to {_f(c.truth.high)})", _yes(c.in_truth_tie_group)]
        for c in v.candidates
    ]  # fmt: skip
    return "Proxy ranking vs ground truth", text, header, rows


def picks_block(v: ValidationReport) -> Block:
    """Agreement metrics and whether each pick (proxy, baselines) is the ground truth's best."""
    a = v.agreement
    text = (
        f"Kendall tau {_f(a['kendall_tau'])}, Spearman {_f(a['spearman'])}, Pearson {_f(a['pearson'])}, "
        f"RelAcc {_f(a['relacc'])}."
        if a
        else "One candidate: no rank agreement to measure."
    )
    header = ["pick by", "pick", "top-1 strict", "top-1 tie-aware", "RelAcc"]
    rows = [[p.source, p.pick, _yes(p.strict), _yes(p.tie_aware), _f(p.relacc)] for p in [v.top1, *v.baselines]]
    return "Agreement and picks", text, header, rows


def costs_block(v: ValidationReport) -> Block:
    """Seconds by stage and training tokens x layers on each side, and the speed-ups."""
    c = v.costs
    p, t = c.proxy_seconds, c.truth_seconds
    header = ["side", "data s", "model s", "train s", "eval s", "total s", "train tokens x layers"]
    rows = [
        ["proxy", _f(p.get("data"), 1), _f(p.get("model"), 1), _f(p.get("train"), 1), _f(p.get("eval"), 1),
         _f(p.get("total"), 1), f"{c.proxy_token_layers:,}"],
        ["ground truth", "-", "-", _f(t.get("train"), 1), _f(t.get("eval"), 1), _f(t.get("total"), 1),
         f"{c.truth_token_layers:,}"],
    ]  # fmt: skip
    text = (
        f"Speed-up (ground truth / proxy): training {_f(c.speedup_train, 1)}x, end to end "
        f"{_f(c.speedup_end_to_end, 1)}x, training tokens x layers {_f(c.speedup_token_layers, 1)}x."
    )
    return "Cost", text, header, rows


def curve_block(v: ValidationReport) -> Block:
    """Each candidate's ground-truth metric on the eval split after each curve point (columns: epochs)."""
    epochs = sorted({p.epoch for c in v.candidates for p in c.curve})
    header = ["candidate", *(f"{e:g} ep" for e in epochs)]
    rows = []
    for c in v.candidates:
        at = {p.epoch: p.metrics.get(v.judged_by) for p in c.curve}
        rows.append([c.candidate, *(_f(at.get(e)) for e in epochs)])
    return "Learning curves", f"`{v.judged_by}` on the eval split during the ground-truth fine-tune.", header, rows


def blocks(v: ValidationReport) -> list[Block]:
    """Every block of the section, in order."""
    return [rankings_block(v), picks_block(v), costs_block(v), curve_block(v)]


def render_validation_markdown(v: ValidationReport) -> str:
    """The validation section as Markdown (starts with a level-2 heading)."""
    lines = ["## Validation: proxy vs ground truth", ""]
    for title, text, header, rows in blocks(v):
        lines += [f"### {title}", "", text, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    return "\n".join(lines) + "\n"


def render_validation_html(v: ValidationReport, charts: str = "") -> str:
    """The validation section as an HTML fragment; ``charts`` (HTML) goes between the heading and the tables."""
    parts = ["<h2>Validation: proxy vs ground truth</h2>", charts]
    for title, text, header, rows in blocks(v):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>" for r in rows)
        parts.append(f"<h3>{html.escape(title)}</h3><p>{html.escape(text)}</p><table><tr>{head}</tr>{body}</table>")
    return "".join(parts)
