"""Write ``report.md`` and a self-contained ``report.html`` (inline SVG bars) from ``ranking.json``."""

from __future__ import annotations

import html
from pathlib import Path

from damoc.artifacts import RunLayout, read_json, write_text_atomic
from damoc.errors import DamocError
from damoc.selection.stage import Ranking


def load_ranking(run_dir: Path) -> Ranking:
    """Read ``run_dir/ranking.json``."""
    path = RunLayout(run_dir).ranking_path
    if not path.is_file():
        raise DamocError(f"{path} not found: finish a run (damoc run CONFIG) before writing its report")
    return Ranking.model_validate(read_json(path))


def write_report(run_dir: Path) -> list[Path]:
    """(Re)write ``report.md`` and ``report.html`` for the run in ``run_dir``; return their paths."""
    ranking = load_ranking(run_dir)
    layout = RunLayout(run_dir)
    md, page = layout.report_md, layout.report_html
    write_text_atomic(md, render_markdown(ranking))
    write_text_atomic(page, render_html(ranking))
    return [md, page]


def _fmt(x: float | int | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def ranking_table(ranking: Ranking) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ranking table (shared by markdown, HTML and the CLI)."""
    metric_names = list(ranking.candidates[0].metrics) if ranking.candidates else []
    header = ["rank", "candidate", *metric_names, "layers", "params (M)", "train ex.", "train tokens", "seconds"]
    rows = []
    for c in ranking.candidates:
        params = f"{(c.params_before or 0) / 1e6:.1f} -> {(c.params_after or 0) / 1e6:.1f}" if c.params_before else "-"
        layers = f"{c.layers_before} -> {c.layers_after}" if c.layers_before is not None else "-"
        rank = f"{c.rank}{' (tie)' if c.tied_with else ''}"
        metrics = [_fmt(c.metrics[m]) for m in metric_names]
        secs = _fmt(sum(c.seconds.values()), 1)
        rows.append([rank, c.candidate, *metrics, layers, params, _fmt(c.train_examples), _fmt(c.train_tokens), secs])
    return header, rows


def render_markdown(ranking: Ranking) -> str:
    """The report as Markdown."""
    header, rows = ranking_table(ranking)
    lines = [
        "# damoc ranking",
        "",
        f"Best candidate by proxy fine-tuning: **{ranking.best}** (ranked by `{ranking.rank_by}`).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
    ]
    lines += _data_lines(ranking) + _baseline_lines(ranking)
    return "\n".join(lines) + "\n"


def _data_lines(ranking: Ranking) -> list[str]:
    d = ranking.data
    if not d:
        return []
    steps = ", ".join(f"{s.get('method')} ({s.get('kept')})" for s in d.get("steps", []))
    return [
        "## Data",
        "",
        f"Training examples: {d.get('train_examples_before')} -> {d.get('train_examples_after')} "
        f"after {steps or 'no steps'}; "
        f"eval examples: {d.get('eval_examples')}.",
        "",
    ]


def _baseline_lines(ranking: Ranking) -> list[str]:
    if not ranking.baselines:
        return []
    lines = ["## Baselines", "", "| baseline | order | picks the same top candidate |", "|---|---|---|"]
    for b in ranking.baselines:
        lines.append(f"| {b.baseline} | {' > '.join(b.order)} | {'yes' if b.picks_same_top else 'no'} |")
    return [*lines, ""]


def render_html(ranking: Ranking) -> str:
    """The report as one self-contained HTML page with an inline SVG bar chart of the scores."""
    header, rows = ranking_table(ranking)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in rows)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>damoc ranking</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>damoc ranking</h1><p>Best: <b>{html.escape(ranking.best)}</b> by {html.escape(ranking.rank_by)}</p>"
        f"{_svg_bars(ranking)}<table><tr>{head}</tr>{body}</table></body></html>\n"
    )


def _svg_bars(ranking: Ranking) -> str:
    bar_h, width = 22, 400
    parts = []
    for i, c in enumerate(ranking.candidates):
        w = max(1.0, width * max(0.0, min(1.0, c.score)))
        y = i * (bar_h + 6)
        parts.append(
            f"<rect x='160' y='{y}' width='{w:.1f}' height='{bar_h}' fill='#4a7fb5'/>"
            f"<text x='0' y='{y + 16}'>{html.escape(c.candidate)}</text>"
            f"<text x='{165 + w:.1f}' y='{y + 16}'>{c.score:.3f}</text>"
        )
    height = len(ranking.candidates) * (bar_h + 6)
    return f"<svg width='640' height='{height}' font-size='13'>{''.join(parts)}</svg>"
