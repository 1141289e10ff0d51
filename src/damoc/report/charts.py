"""The report's Plotly charts: one figure builder per chart, and the HTML that embeds them offline.

Plotly is imported inside each function (``import damoc`` stays light); the page inlines plotly.js
once (:func:`plotly_script`) and every chart is a ``<div class="plotly-graph-div">`` that draws
itself from its own data, so ``report.html`` works without a network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from damoc.reports import DataReport, ProxyReport
    from damoc.selection.base import Ranking
    from damoc.validation.base import ValidationReport

TOP_COLOR, OTHER_COLOR = "#2e7d32", "#4a7fb5"
REMOVED_COLOR, MERGED_COLOR, KEPT_COLOR = "#c0392b", "#e67e22", "#4a7fb5"
STAGE_COLORS = {"data": "#7f8c8d", "model": "#8e44ad", "train": "#4a7fb5", "eval": "#e67e22"}
LAYOUT: dict[str, Any] = {"template": "plotly_white", "margin": {"l": 10, "r": 10, "t": 50, "b": 40}}


def plotly_script() -> str:
    """plotly.js as one inline ``<script>``: put it once in the page's head, before any chart."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def figure_div(fig: Figure, div_id: str) -> str:
    """The chart as an HTML fragment (a div and the script that draws it), without plotly.js itself."""
    height = fig.layout.height or 400
    return str(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
    )


def _figure(title: str, height: int) -> Figure:
    import plotly.graph_objects as go

    return go.Figure(layout={**LAYOUT, "title": {"text": title}, "height": height})


def error_bars(points: list[float], lows: list[float | None], highs: list[float | None]) -> dict[str, Any]:
    """Plotly's asymmetric error bars from interval bounds; a missing bound draws no bar on its side."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [(h if h is not None else p) - p for p, h in zip(points, highs, strict=True)],
        "arrayminus": [p - (lo if lo is not None else p) for p, lo in zip(points, lows, strict=True)],
    }


def ranking_figure(ranking: Ranking) -> Figure:
    """Each candidate's proxy score with its 95% interval, best at the top; the top group in green."""
    import plotly.graph_objects as go

    rows = ranking.candidates
    fig = _figure(f"Proxy ranking: {ranking.rank_by} with 95% intervals", 120 + 40 * len(rows))
    error = error_bars([c.score for c in rows], [c.score_low for c in rows], [c.score_high for c in rows])
    top = set(ranking.top_group) or {ranking.best}
    fig.add_trace(
        go.Scatter(
            x=[c.score for c in rows],
            y=[c.candidate for c in rows],
            mode="markers",
            marker={"size": 12, "color": [TOP_COLOR if c.candidate in top else OTHER_COLOR for c in rows]},
            error_x=error,
            name=ranking.rank_by,
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=ranking.rank_by)
    return fig


def baselines_figure(ranking: Ranking) -> Figure:
    """Each candidate's rank by the proxy and by every baseline (1 = its pick): where they disagree."""
    import plotly.graph_objects as go

    methods = ["proxy", *(b.baseline for b in ranking.baselines)]
    orders = [[c.candidate for c in ranking.candidates], *(b.order for b in ranking.baselines)]
    fig = _figure("Rank by the proxy and by each baseline (1 = pick)", 200 + 30 * len(ranking.candidates))
    for c in ranking.candidates:
        ranks = [order.index(c.candidate) + 1 if c.candidate in order else None for order in orders]
        fig.add_trace(go.Scatter(x=methods, y=ranks, mode="lines+markers", name=c.candidate))
    fig.update_yaxes(autorange="reversed", dtick=1, title_text="rank")
    return fig


def layers_figure(report: ProxyReport) -> Figure:
    """One bar per decoder layer (its importance score): kept, removed, and kept layers merged into."""
    import plotly.graph_objects as go

    targets = {int(t): sources for t, sources in report.merged_into.items()}
    groups = {
        "kept": [i for i in range(len(report.scores)) if i not in report.removed and i not in targets],
        "removed": [i for i in report.removed if i < len(report.scores)],
        "kept, removed layers merged into it": sorted(t for t in targets if t < len(report.scores)),
    }
    colors = {"kept": KEPT_COLOR, "removed": REMOVED_COLOR, "kept, removed layers merged into it": MERGED_COLOR}
    title = (
        f"{report.candidate}: {report.scorer.method} importance per layer, "
        f"{report.layers_before} -> {report.layers_after} layers (merger: {report.merger.method})"
    )
    fig = _figure(title, 300)
    for name, layers in groups.items():
        if not layers:
            continue
        notes = [f"merged: {', '.join(map(str, targets[i]))}" if i in targets else "" for i in layers]
        fig.add_trace(
            go.Bar(
                x=layers,
                y=[report.scores[i] for i in layers],
                name=name,
                marker_color=colors[name],
                customdata=notes,
                hovertemplate="layer %{x}: %{y:.4g} %{customdata}<extra>" + name + "</extra>",
            )
        )
    if groups["removed"]:  # an x under each removed layer: its bar is often too short to see
        fig.add_trace(
            go.Scatter(
                x=groups["removed"],
                y=[0.0] * len(groups["removed"]),
                mode="markers",
                marker={"symbol": "x", "size": 9, "color": REMOVED_COLOR},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(title_text="decoder layer", dtick=1 if len(report.scores) <= 32 else None)
    fig.update_yaxes(title_text="importance (higher = keep)")
    fig.update_layout(barmode="overlay", legend={"orientation": "h", "y": -0.3})
    return fig


def funnel_figure(data: DataReport) -> Figure:
    """Training examples and tokens (characters when not counted) left after each data step, side by side."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = ["all training data", *(f"{i}. {s.method}" for i, s in enumerate(data.steps, start=1))]
    examples = [data.train_examples_before, *(s.kept for s in data.steps)]
    tokens = [data.tokens_before, *(s.tokens_after for s in data.steps)]
    if all(t is not None for t in tokens):
        second, title = tokens, f"tokens (prompt + target, {data.tokenizer}'s tokenizer)"
    else:
        second, title = (
            [data.characters_before, *(s.characters_after for s in data.steps)],
            "characters (prompt + target)",
        )
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training examples", title))
    for col, values in ((1, examples), (2, second)):
        fig.add_trace(
            go.Funnel(y=labels, x=values, textinfo="value+percent initial", marker={"color": OTHER_COLOR}),
            row=1,
            col=col,
        )
    fig.update_layout(**LAYOUT, title={"text": "Data compression"}, height=180 + 50 * len(labels), showlegend=False)
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    return fig


def stage_times_figure(ranking: Ranking, data: DataReport | None) -> Figure:
    """Seconds per stage, stacked per candidate; the data stage (run once, shared) on its own row."""
    import plotly.graph_objects as go

    names = [c.candidate for c in ranking.candidates]
    stages = list(dict.fromkeys(s for c in ranking.candidates for s in c.seconds))
    rows = [*(["data stage (shared)"] if data else []), *names]
    fig = _figure("Time per stage and candidate (seconds)", 160 + 36 * len(rows))
    if data:
        fig.add_trace(
            go.Bar(y=[rows[0]], x=[data.seconds], orientation="h", name="data", marker_color=STAGE_COLORS["data"])
        )
    for stage in stages:
        fig.add_trace(
            go.Bar(
                y=names,
                x=[c.seconds.get(stage, 0.0) for c in ranking.candidates],
                orientation="h",
                name=stage,
                marker_color=STAGE_COLORS.get(stage),
            )
        )
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.25, "traceorder": "normal"})
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=rows)
    fig.update_xaxes(title_text="seconds")
    return fig


def truth_scatter_figure(validation: ValidationReport, ranking: Ranking) -> Figure:
    """Proxy score (x) against the ground truth's (y), each with its interval, and the y = x line."""
    import plotly.graph_objects as go

    proxy = {c.candidate: c for c in ranking.candidates}
    rows = validation.candidates
    x = [c.proxy_score for c in rows]
    lows = [proxy[c.candidate].score_low if c.candidate in proxy else None for c in rows]
    highs = [proxy[c.candidate].score_high if c.candidate in proxy else None for c in rows]
    title = f"Proxy {validation.rank_by} vs ground truth {validation.judged_by}, {validation.level:.0%} intervals"
    fig = _figure(title, 460)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[c.truth.point for c in rows],
            mode="markers+text",
            text=[c.candidate for c in rows],
            textposition="top center",
            marker={"size": 11, "color": OTHER_COLOR},
            error_y=error_bars(
                [c.truth.point for c in rows], [c.truth.low for c in rows], [c.truth.high for c in rows]
            ),
            error_x=error_bars(x, lows, highs),
            name="candidates",
            hovertemplate="%{text}: proxy %{x:.3f}, truth %{y:.3f}<extra></extra>",
        )
    )
    if validation.judged_by == validation.rank_by:  # the same scale on both axes
        values = [*x, *(c.truth.low for c in rows), *(c.truth.high for c in rows)]
        lo, hi = min(values), max(values)
        fig.add_trace(
            go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dot", "color": "#999"}, name="y = x")
        )
    fig.update_xaxes(title_text=f"proxy {validation.rank_by}")
    fig.update_yaxes(title_text=f"ground truth {validation.judged_by}")
    return fig


def learning_curves_figure(validation: ValidationReport) -> Figure:
    """Each candidate's ground-truth metric on the eval split at each learning-curve point of its fine-tune."""
    import plotly.graph_objects as go

    fig = _figure(f"Ground-truth learning curves: {validation.judged_by} on the eval split", 400)
    for c in validation.candidates:
        points = [p for p in c.curve if validation.judged_by in p.metrics]
        fig.add_trace(
            go.Scatter(
                x=[p.epoch for p in points],
                y=[p.metrics[validation.judged_by] for p in points],
                mode="lines+markers",
                name=c.candidate,
            )
        )
    fig.update_xaxes(title_text="epochs")
    fig.update_yaxes(title_text=validation.judged_by)
    return fig
