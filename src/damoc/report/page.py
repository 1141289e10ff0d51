"""``report.html``: one self-contained page (plotly.js inlined once, no network) with charts and tables.

Sections, in order: the ranking (scores with intervals, ranks by each baseline), the data-compression
funnel, time per stage and candidate, a layer-importance chart per candidate, and the validation
comparison when ``validation.json`` exists. Every chart has a table with the same numbers beside it.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from damoc.report import charts
from damoc.report.layers import render_layers_html
from damoc.report.ranking import baseline_table, failure_lines, pick_sentence, ranking_table, verdict
from damoc.report.tables import data_summary, funnel_table, html_table, samples_table, stage_times_table

if TYPE_CHECKING:
    from damoc.reports import DataReport, ProxyReport
    from damoc.selection.base import Ranking
    from damoc.validation.base import ValidationReport

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}h2{margin-top:1.5em}"
)


def render_page(
    ranking: Ranking,
    data: DataReport | None,
    layers: list[ProxyReport],
    validation: ValidationReport | None,
) -> str:
    """The whole page as one HTML string."""
    body = [
        ranking_section(ranking),
        data_section(data),
        times_section(ranking, data),
        render_layers_html(layers),
        validation_section(validation, ranking),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>damoc ranking</title>"
        f"<style>{STYLE}</style>{charts.plotly_script()}</head><body>{''.join(body)}</body></html>\n"
    )


def ranking_section(ranking: Ranking) -> str:
    """Heading, pick, verdict, the ranking chart, the baselines' ranks, the ranking and baseline tables."""
    parts = [
        "<h1>damoc ranking</h1>",
        f"<p><b>{html.escape(pick_sentence(ranking))}</b></p>",
        f"<p>{html.escape(verdict(ranking))}</p>",
    ]
    if ranking.candidates:
        parts.append(charts.figure_div(charts.ranking_figure(ranking), "chart-ranking"))
    parts.append(html_table(ranking_table(ranking)))
    parts += [f"<p>{html.escape(line)}</p>" for line in failure_lines(ranking)]
    if ranking.baselines and ranking.candidates:
        parts += [
            "<h2>Baselines</h2>",
            charts.figure_div(charts.baselines_figure(ranking), "chart-baselines"),
            html_table(baseline_table(ranking)),
        ]
    return "".join(parts)


def data_section(data: DataReport | None) -> str:
    """The data-compression funnel (chart and table)."""
    if data is None:
        return ""
    samples = samples_table(data)
    sample_html = (
        f"<h3>What the steps dropped or rewrote (a seeded sample)</h3>{html_table(samples)}" if samples[1] else ""
    )
    return (
        f"<h2>Data</h2><p>{html.escape(data_summary(data))}</p>"
        f"{charts.figure_div(charts.funnel_figure(data), 'chart-funnel')}{html_table(funnel_table(data))}{sample_html}"
    )


def times_section(ranking: Ranking, data: DataReport | None) -> str:
    """Seconds per stage and candidate (chart and table)."""
    if not ranking.candidates:
        return ""
    chart = charts.figure_div(charts.stage_times_figure(ranking, data), "chart-times")
    return f"<h2>Time per stage</h2>{chart}{html_table(stage_times_table(ranking, data))}"


def validation_section(validation: ValidationReport | None, ranking: Ranking) -> str:
    """Proxy vs ground truth (scatter with intervals), the learning curves, then the validation tables."""
    if validation is None:
        return ""
    from damoc.validation.render import render_validation_html

    figures = charts.figure_div(charts.truth_scatter_figure(validation, ranking), "chart-truth")
    if any(c.curve for c in validation.candidates):
        figures += charts.figure_div(charts.learning_curves_figure(validation), "chart-curves")
    return render_validation_html(validation, charts=figures)
