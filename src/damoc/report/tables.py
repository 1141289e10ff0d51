"""The report's run tables: the data-compression funnel and the time per stage and candidate.

Each table is one (header, rows) pair that both report.md and report.html render, so the two carry
the same numbers. The data stage's summary comes from ``data/data.json`` (a copy sits in
``ranking.json``'s ``data``, used when the file is gone).
"""

from __future__ import annotations

import html
from pathlib import Path

from pydantic import ValidationError

from damoc.artifacts import RunLayout
from damoc.errors import DamocError
from damoc.reports import DataReport, read_stage_report
from damoc.selection.base import Ranking

Table = tuple[list[str], list[list[str]]]


def read_data_report(run_dir: Path, ranking: Ranking) -> DataReport | None:
    """The data stage's report: ``data/data.json``, else the copy in the ranking, else None."""
    path = RunLayout(run_dir).data_report
    if path.is_file():
        try:
            return read_stage_report(path, DataReport)
        except DamocError:
            pass
    try:
        return DataReport.model_validate(ranking.data) if ranking.data else None
    except ValidationError:
        return None


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def funnel_table(data: DataReport) -> Table:
    """One row for the full training set, then one per data step: what was left after it.

    Tokens (counted with ``data.tokenizer``) get two columns when the data stage counted them.
    """
    with_tokens = data.tokens_before is not None
    tok_head = [f"tokens ({data.tokenizer})", "% of all"] if with_tokens else []
    header = [
        "step",
        "kind",
        "training examples",
        "% of all",
        "characters",
        "% of all",
        *tok_head,
        "clusters",
        "seconds",
    ]
    ex0, ch0, tk0 = data.train_examples_before, data.characters_before, data.tokens_before or 0

    def tok(n: int | None) -> list[str]:
        return [_count(n), _pct(n, tk0) if n is not None else "-"] if with_tokens else []

    rows = [["all training data", "-", f"{ex0:,}", _pct(ex0, ex0), f"{ch0:,}", _pct(ch0, ch0), *tok(data.tokens_before),
             _count(data.clusters_before), "-"]]  # fmt: skip
    for i, s in enumerate(data.steps, start=1):
        rows.append(
            [f"{i}. {s.method}", s.kind, f"{s.kept:,}", _pct(s.kept, ex0), f"{s.characters_after:,}",
             _pct(s.characters_after, ch0), *tok(s.tokens_after), _count(s.clusters_after), f"{s.seconds:.1f}"]
        )  # fmt: skip
    return header, rows


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def samples_table(data: DataReport) -> Table:
    """What each step dropped (and why) or rewrote (before and after), a few examples per step."""
    header = ["step", "example", "what happened"]
    rows = []
    for i, s in enumerate(data.steps, start=1):
        for x in s.samples:
            if "why" in x:
                what = f"dropped: {x['why']}. Question: {x['question']}"
            elif x["before"] == x["after"]:
                what = f"left as it was: {x.get('note', 'unchanged')}. Prompt: {x['before']}"
            else:
                what = f"rewritten to {x['length_ratio']:.0%} of its length: {x['before']} -> {x['after']}"
                what += f" ({x['note']})" if "note" in x else ""
            rows.append([f"{i}. {s.method}", x["id"], what])
    return header, rows


def stage_times_table(ranking: Ranking, data: DataReport | None) -> Table:
    """Seconds per stage for each candidate, the shared data stage, and the sum of all of them."""
    stages = list(dict.fromkeys(s for c in ranking.candidates for s in c.seconds))
    header = ["", "data", *stages, "total"]
    rows = []
    total = data.seconds if data else 0.0
    if data:
        rows.append(["data stage (shared)", f"{data.seconds:.1f}", *["-"] * len(stages), f"{data.seconds:.1f}"])
    for c in ranking.candidates:
        secs = [c.seconds.get(s) for s in stages]
        own = sum(x for x in secs if x is not None)
        total += own
        rows.append([c.candidate, "-", *("-" if x is None else f"{x:.1f}" for x in secs), f"{own:.1f}"])
    rows.append(["all (one after another)", "", *[""] * len(stages), f"{total:.1f}"])
    return header, rows


def markdown_table(table: Table) -> list[str]:
    """A Markdown table's lines; a ``|`` inside a cell (example text) is escaped so the columns hold."""
    header, rows = table
    cells = [[x.replace("|", "\\|") for x in r] for r in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in cells)]


def html_table(table: Table) -> str:
    """An HTML table, every cell escaped."""
    header, rows = table
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def data_summary(data: DataReport) -> str:
    """Training examples before and after, the overall compression (tokens when counted), the other splits."""
    steps = ", ".join(f"{s.method} ({s.kept})" for s in data.steps)
    if data.tokens_before is not None and data.tokens_after:
        size = (f"tokens (prompt + target, {data.tokenizer}'s tokenizer): {data.tokens_before:,} -> "
                f"{data.tokens_after:,}, {data.tokens_before / data.tokens_after:.1f}x fewer")  # fmt: skip
    else:
        size = (f"characters (prompt + target): {data.characters_before:,} -> {data.characters_after:,}, "
                f"{data.characters_before / max(data.characters_after, 1):.1f}x fewer")  # fmt: skip
    return (
        f"Training examples: {data.train_examples_before} -> {data.train_examples_after} after "
        f"{steps or 'no steps'}; {size}; eval examples: {data.eval_examples}; calibration examples: "
        f"{data.calibration_examples}."
    )


def data_markdown(data: DataReport | None) -> list[str]:
    """The Markdown data section: the summary and the funnel table."""
    if data is None:
        return []
    out = ["## Data", "", data_summary(data), "", *markdown_table(funnel_table(data)), ""]
    samples = samples_table(data)
    if samples[1]:
        out += ["What the steps dropped or rewrote (a seeded sample):", "", *markdown_table(samples), ""]
    return out


def stage_times_markdown(ranking: Ranking, data: DataReport | None) -> list[str]:
    """The Markdown section of seconds per stage and candidate."""
    if not ranking.candidates:
        return []
    return ["## Time per stage", "", *markdown_table(stage_times_table(ranking, data)), ""]
