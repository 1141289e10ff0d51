"""The report's layer section: each candidate's layer-importance curve with removed and merged layers marked.

Read from every candidate's ``layers.json`` (:class:`damoc.reports.ProxyReport`): one importance score
per decoder layer (higher = keep, as the scorer defines it), the removed layers and, with a merger,
the kept layer each removed one was merged into. Markdown gets a one-line block-character curve per
candidate (for terminals and pull requests); HTML gets a Plotly bar chart per candidate. Both
end with the same table.
"""

from __future__ import annotations

from pathlib import Path

from damoc.artifacts import RunLayout, read_json
from damoc.report.charts import figure_div, layers_figure
from damoc.report.tables import Table, html_table, markdown_table
from damoc.reports import ProxyReport

BLOCKS = "▁▂▃▄▅▆▇█"


def read_layer_reports(run_dir: Path, names: list[str]) -> list[ProxyReport]:
    """The candidates' layer reports that exist (a candidate without a model stage is left out)."""
    layout = RunLayout(run_dir)
    out = []
    for name in names:
        path = layout.proxy_report(name)
        if path.is_file():
            out.append(ProxyReport.model_validate(read_json(path)))
    return out


def curve(scores: list[float]) -> str:
    """Block characters, one per layer, by the layer's rank: ``▁`` the least important, ``█`` the most.

    Ranks, not raw scores: the first layer's similarity score often dwarfs the rest (0.95 against
    0.04-0.2 for block influence), which would flatten every other layer to the lowest block.
    Equal scores get the same block.
    """
    if not scores:
        return ""
    distinct = sorted(set(scores))
    if len(distinct) == 1:
        return BLOCKS[0] * len(scores)
    level = {s: round(i * (len(BLOCKS) - 1) / (len(distinct) - 1)) for i, s in enumerate(distinct)}
    return "".join(BLOCKS[level[s]] for s in scores)


def marks(report: ProxyReport) -> str:
    """One character per layer under the curve: ``x`` removed, ``^`` kept and merged into, ``.`` kept."""
    targets = {int(t) for t in report.merged_into}
    return "".join("x" if i in report.removed else "^" if i in targets else "." for i in range(report.layers_before))


def render_layers_markdown(reports: list[ProxyReport]) -> str:
    """The Markdown section (empty string when no candidate has a layer report)."""
    if not reports:
        return ""
    lines = [
        "## Layers",
        "",
        "Importance rank per decoder layer (`▁` least important, `█` most; from the scorer's scores); under it "
        "`x` = removed, `^` = kept layer that removed layers were merged into.",
        "",
        "```",
    ]
    width = max(len(r.candidate) for r in reports)
    for r in reports:
        lines.append(f"{r.candidate:<{width}}  {curve(r.scores)}")
        lines.append(f"{'':<{width}}  {marks(r)}")
    lines += ["```", "", *markdown_table(layers_table(reports))]
    return "\n".join(lines) + "\n"


def layers_table(reports: list[ProxyReport]) -> Table:
    """Scorer, merger, layer counts, removed layers and calibration losses per candidate."""
    header = ["candidate", "scorer", "merger", "layers", "removed", "calibration loss by layers removed"]
    rows = []
    for r in reports:
        losses = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(r.calibration_losses.items())) or "-"
        removed = ", ".join(map(str, r.removed)) or "-"
        rows.append(
            [r.candidate, r.scorer.method, r.merger.method, f"{r.layers_before} -> {r.layers_after}", removed, losses]
        )
    return header, rows


def render_layers_html(reports: list[ProxyReport]) -> str:
    """The HTML section: a Plotly bar chart per candidate (removed layers red, merge targets orange), then the table."""
    if not reports:
        return ""
    parts = [
        "<h2>Layers</h2><p>Importance per decoder layer (higher = keep). Red: removed; orange: kept layer "
        "that removed layers were merged into.</p>"
    ]
    parts += [figure_div(layers_figure(r), f"chart-layers-{i}") for i, r in enumerate(reports)]
    return "".join(parts) + html_table(layers_table(reports))
