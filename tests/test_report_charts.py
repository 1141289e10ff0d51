"""The report's charts and run tables: figure data, report.md's numbers, and a self-contained page."""

from __future__ import annotations

from pathlib import Path

import pytest

from damoc.artifacts import write_json_atomic
from damoc.report import charts, write_report
from damoc.report.tables import funnel_table, read_data_report, stage_times_table
from damoc.reports import DataReport, StepReport
from damoc.selection.base import BaselineResult, CandidateResult, Ranking


def data_report() -> DataReport:
    step = StepReport(method="random", kind="filter", params={}, examples_before=40, kept=10,
                      characters_after=900, seconds=1.25, clusters_after=7,
                      samples=[{"id": "q3", "question": "What is <b>3</b> | 4?", "why": "keep_ratio"}])  # fmt: skip
    return DataReport(
        task_type="multiple_choice", seed=0, train_examples_before=40, train_examples_after=10, eval_examples=8,
        calibration_examples=4, characters_before=4000, characters_after=900, steps=[step], seconds=2.0,
        clusters_before=20, clusters_after=7,
    )  # fmt: skip


def ranking(with_data: bool = True) -> Ranking:
    rows = [
        CandidateResult(candidate="a", rank=1, score=0.7, score_low=0.6, score_high=0.75, metrics={"acc": 0.7},
                        seconds={"model": 1.0, "train": 2.0, "eval": 3.0}),
        CandidateResult(candidate="b", rank=2, score=0.5, score_low=0.45, score_high=0.62, metrics={"acc": 0.5},
                        seconds={"model": 0.5, "train": 1.5, "eval": 1.0}),
    ]  # fmt: skip
    size = BaselineResult(baseline="model_size", scores={"a": 1, "b": 2}, order=["b", "a"], picks_same_top=False)
    return Ranking(
        rank_by="acc", candidates=rows, top_group=["a"], baselines=[size],
        data=data_report().model_dump(mode="json") if with_data else {},
    )  # fmt: skip


def test_ranking_chart_has_the_intervals_and_marks_the_top_group() -> None:
    (trace,) = charts.ranking_figure(ranking()).data
    assert list(trace.y) == ["a", "b"] and list(trace.x) == [0.7, 0.5]
    assert list(trace.error_x.array) == pytest.approx([0.05, 0.12])
    assert list(trace.error_x.arrayminus) == pytest.approx([0.1, 0.05])
    assert list(trace.marker.color) == [charts.TOP_COLOR, charts.OTHER_COLOR]


def test_baseline_chart_ranks_each_candidate_by_each_method() -> None:
    traces = {t.name: t for t in charts.baselines_figure(ranking()).data}
    assert list(traces["a"].x) == ["proxy", "model_size"]
    assert list(traces["a"].y) == [1, 2] and list(traces["b"].y) == [2, 1]


def test_funnel_counts_examples_and_characters_after_each_step() -> None:
    left, right = charts.funnel_figure(data_report()).data
    assert list(left.x) == [40, 10] and list(right.x) == [4000, 900]
    assert list(left.y) == ["all training data", "1. random"]
    _, rows = funnel_table(data_report())
    assert rows[0][-2:] == ["20", "-"] and rows[1] == ["1. random", "filter", "10", "25.0%", "900", "22.5%", "7", "1.2"]


def test_funnel_and_summary_use_tokens_when_the_data_stage_counted_them() -> None:
    from damoc.report.tables import data_summary

    plain = data_report()
    data = plain.model_copy(update={
        "tokenizer": "qwen", "tokens_before": 1000, "tokens_after": 250,
        "steps": [plain.steps[0].model_copy(update={"tokens_after": 250})],
    })  # fmt: skip
    left, right = charts.funnel_figure(data).data
    assert list(left.x) == [40, 10] and list(right.x) == [1000, 250]
    header, rows = funnel_table(data)
    assert header[6:8] == ["tokens (qwen)", "% of all"] and rows[1][6:8] == ["250", "25.0%"] and rows[0][6] == "1,000"
    assert "tokens (prompt + target, qwen's tokenizer): 1,000 -> 250, 4.0x fewer" in data_summary(data)
    assert "characters (prompt + target): 4,000 -> 900, 4.4x fewer" in data_summary(plain)


def test_stage_times_add_up() -> None:
    header, rows = stage_times_table(ranking(), data_report())
    assert header == ["", "data", "model", "train", "eval", "total"]
    assert rows[0] == ["data stage (shared)", "2.0", "-", "-", "-", "2.0"]
    assert rows[1] == ["a", "-", "1.0", "2.0", "3.0", "6.0"] and rows[-1][-1] == "11.0"
    traces = {t.name: t for t in charts.stage_times_figure(ranking(), data_report()).data}
    assert list(traces["train"].x) == [2.0, 1.5] and list(traces["data"].x) == [2.0]


def test_data_report_falls_back_to_the_copy_in_the_ranking(tmp_path: Path) -> None:
    assert read_data_report(tmp_path, ranking()) == data_report()
    assert read_data_report(tmp_path, ranking(with_data=False)) is None
    (tmp_path / "data").mkdir()
    write_json_atomic(tmp_path / "data" / "data.json", data_report().model_copy(update={"seconds": 9.0}).model_dump())
    report = read_data_report(tmp_path, ranking())
    assert report is not None and report.seconds == 9.0


def test_report_pages_are_self_contained_and_markdown_has_the_same_tables(tmp_path: Path) -> None:
    from plotly.offline import get_plotlyjs

    write_json_atomic(tmp_path / "ranking.json", ranking().model_dump(mode="json"))
    md, page = write_report(tmp_path)
    html = page.read_text()
    assert html.count(get_plotlyjs()) == 1 and "<script src" not in html and "<link" not in html
    ids = ["chart-ranking", "chart-baselines", "chart-funnel", "chart-times"]
    assert html.count('class="plotly-graph-div"') == len(ids) and all(f'id="{i}"' in html for i in ids)
    assert html.index(get_plotlyjs()) < html.index('id="chart-ranking"')  # plotly.js loads before any chart
    text = md.read_text()
    assert "## Data" in text and "| 1. random | filter | 10 | 25.0% | 900 | 22.5% | 7 | 1.2 |" in text
    assert "| 1. random | q3 | dropped: keep_ratio. Question: What is <b>3</b> \\| 4? |" in text
    assert "## Time per stage" in text and "| a | - | 1.0 | 2.0 | 3.0 | 6.0 |" in text
    assert "| all (one after another) |  |  |  |  | 11.0 |" in text
    for table_row in ("<td>a</td><td>-</td><td>1.0</td><td>2.0</td><td>3.0</td><td>6.0</td>", "<td>model_size</td>"):
        assert table_row in html
    assert "Question: What is &lt;b&gt;3&lt;/b&gt; | 4?" in html  # example text is escaped in the page
