"""The report's layer section: rank curve, removed/merged marks, and both renderings."""

from __future__ import annotations

from damoc.config import MethodSpec
from damoc.report.layers import curve, marks, render_layers_html, render_layers_markdown
from damoc.reports import ProxyReport


def report(removed: list[int], merged: dict[int, list[int]] | None = None) -> ProxyReport:
    return ProxyReport(
        candidate="tiny",
        model_type="llama",
        layers_before=5,
        layers_after=5 - len(removed),
        removed=removed,
        scores=[0.9, 0.1, 0.3, 0.1, 0.5],
        merged_into=merged or {},
        params_before=100,
        params_after=80,
        scorer=MethodSpec(method="block_influence"),
        merger=MethodSpec(method="average" if merged else "none"),
        remove_ratio=0.4,
        calibration_examples=4,
        calibration_tokens=40,
        seed=0,
        device="cpu",
        seconds=0.1,
    )


def test_curve_is_by_rank_with_ties_equal() -> None:
    # distinct scores 0.1 < 0.3 < 0.5 < 0.9 -> levels 0, 2.33->2, 4.67->5, 7 of the 8 blocks
    assert curve([0.9, 0.1, 0.3, 0.1, 0.5]) == "█▁▃▁▆"
    assert curve([2.0, 2.0]) == "▁▁"
    assert curve([]) == ""


def test_marks_removed_and_merge_targets() -> None:
    assert marks(report([1, 3])) == ".x.x."
    assert marks(report([1, 3], {2: [1, 3]})) == ".x^x."


def test_renderings_name_the_removed_layers() -> None:
    r = report([1, 3], {2: [1, 3]})
    md = render_layers_markdown([r])
    assert "| tiny | block_influence | average | 5 -> 3 | 1, 3 | - |" in md
    assert "█▁▃▁▆" in md and ".x^x." in md
    page = render_layers_html([r])
    assert page.count('class="plotly-graph-div"') == 1 and 'id="chart-layers-0"' in page
    assert "<td>tiny</td><td>block_influence</td><td>average</td><td>5 -&gt; 3</td><td>1, 3</td>" in page
    assert render_layers_markdown([]) == "" and render_layers_html([]) == ""


def test_layer_chart_marks_removed_and_merged_layers() -> None:
    from damoc.report.charts import layers_figure

    bars = {t.name: t for t in layers_figure(report([1, 3], {2: [1, 3]})).data if t.type == "bar"}
    assert list(bars["kept"].x) == [0, 4] and list(bars["removed"].x) == [1, 3]
    assert list(bars["kept, removed layers merged into it"].x) == [2]
    assert (
        list(bars["removed"].y) == [0.1, 0.1]
        and "merged: 1, 3" in bars["kept, removed layers merged into it"].customdata
    )
    no_merge = [t.name for t in layers_figure(report([1])).data if t.type == "bar"]
    assert no_merge == ["kept", "removed"]
