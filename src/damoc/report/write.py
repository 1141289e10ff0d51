"""Write ``report.md`` and a self-contained ``report.html`` (Plotly charts, tables) from a run folder.

``report.md`` carries the same numbers as the page's charts, as text and tables, for terminals and
pull requests; the page itself is assembled by :mod:`damoc.report.page`.
"""

from __future__ import annotations

from pathlib import Path

from damoc.artifacts import RunLayout, read_json, write_text_atomic
from damoc.errors import DamocError
from damoc.report.layers import read_layer_reports, render_layers_markdown
from damoc.report.page import render_page
from damoc.report.ranking import baseline_table, failure_lines, pick_sentence, ranking_table, verdict
from damoc.report.tables import data_markdown, markdown_table, read_data_report, stage_times_markdown
from damoc.reports import DataReport
from damoc.selection.stage import Ranking


def load_ranking(run_dir: Path) -> Ranking:
    """Read ``run_dir/ranking.json``."""
    path = RunLayout(run_dir).ranking_path
    if not path.is_file():
        raise DamocError(f"{path} not found: finish a run (damoc run CONFIG) before writing its report")
    return Ranking.model_validate(read_json(path))


def write_report(run_dir: Path) -> list[Path]:
    """(Re)write ``report.md`` and ``report.html`` for the run in ``run_dir``; return their paths.

    Reads ``ranking.json``, ``data/data.json``, each candidate's ``layers.json`` and, when validation
    has run, ``validation.json``.
    """
    from damoc.validation.render import read_validation, render_validation_markdown

    ranking = load_ranking(run_dir)
    layout = RunLayout(run_dir)
    data = read_data_report(run_dir, ranking)
    layers = read_layer_reports(run_dir, [c.candidate for c in ranking.candidates])
    validation = read_validation(run_dir)
    layers_md = render_layers_markdown(layers)
    extra_md = "\n" + render_validation_markdown(validation) if validation else ""
    write_text_atomic(
        layout.report_md, render_markdown(ranking, data) + ("\n" + layers_md if layers_md else "") + extra_md
    )
    write_text_atomic(layout.report_html, render_page(ranking, data, layers, validation))
    return [layout.report_md, layout.report_html]


def render_markdown(ranking: Ranking, data: DataReport | None = None) -> str:
    """The report as Markdown (``data``: the data stage's report, else the copy in the ranking)."""
    if data is None and ranking.data:
        data = DataReport.model_validate(ranking.data)
    header, rows = ranking_table(ranking)
    lines = [
        "# damoc ranking",
        "",
        pick_sentence(ranking, markdown=True),
        "",
        verdict(ranking),
        "",
        *_sequential_lines(ranking),
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        *(f"{line}\n" for line in failure_lines(ranking)),
    ]
    lines += _neighbour_lines(ranking) + data_markdown(data) + stage_times_markdown(ranking, data)
    lines += _baseline_lines(ranking)
    lines += _prescreen_lines(ranking) + _halving_lines(ranking)
    return "\n".join(lines) + "\n"


def _sequential_lines(ranking: Ranking) -> list[str]:
    """One line on a sequential evaluation: examples used of the split, rounds, and why it stopped."""
    if ranking.eval_rounds is None:
        return []
    total = ranking.data.get("eval_examples")
    early = total is not None and ranking.eval_examples_used is not None and ranking.eval_examples_used < total
    why = "stopped early: the leader separated from every other candidate" if early else "the whole split"
    used = f"{ranking.eval_examples_used}" + (f" of {total}" if total is not None else "")
    return [f"Sequential evaluation: {used} eval examples in {ranking.eval_rounds} rounds ({why}).", ""]


def _neighbour_lines(ranking: Ranking) -> list[str]:
    if not ranking.neighbours:
        return []
    lines = ["## Margins", "", "| pair | difference | 95% interval | tie |", "|---|---|---|---|"]
    for d in ranking.neighbours:
        lines.append(
            f"| {d.upper} - {d.lower} | {d.difference:+.3f} | {d.low:+.3f} to {d.high:+.3f} | {'yes' if d.is_tie else 'no'} |"
        )
    return [*lines, ""]


def _baseline_lines(ranking: Ranking) -> list[str]:
    if not ranking.baselines:
        return []
    return ["## Baselines", "", *markdown_table(baseline_table(ranking)), ""]


def _prescreen_lines(ranking: Ranking) -> list[str]:
    """The pre-screen's order beside the final ranking."""
    p = ranking.prescreen
    if p is None:
        return []
    final = {c.candidate: str(c.rank) for c in ranking.candidates}
    lines = [
        "## Pre-screen",
        "",
        f"`{p.method}` on {p.num_samples} training examples, keep {p.keep}: {len(p.kept)} kept, "
        f"{len(p.screened_out)} screened out (no proxy built).",
        "",
        "| pre-screen rank | candidate | pre-screen score | final rank |",
        "|---|---|---|---|",
    ]
    for i, name in enumerate(p.order, start=1):
        lines.append(f"| {i} | {name} | {p.scores[name]:.4f} | {final.get(name, 'screened out')} |")
    return [*lines, ""]


def _halving_lines(ranking: Ranking) -> list[str]:
    """Successive halving's rounds and its compute against 'all'."""
    h = ranking.halving
    if h is None:
        return []
    lines = [
        "## Successive halving",
        "",
        f"Training compute (tokens x proxy layers): {h.compute_spent:,.0f}, {100 * h.compute_ratio:.1f}% of the "
        f"{h.compute_all:,.0f} that `all` would spend at {h.max_steps} steps per proxy. Stopped: {h.stopped}.",
        "",
        "| round | steps | scores (best first) | kept |",
        "|---|---|---|---|",
    ]
    for r in h.rounds:
        scores = ", ".join(f"{n} {r.scores[n]:.3f}" for n in sorted(r.scores, key=lambda n: -r.scores[n]))
        ties = f" ({', '.join(r.kept_for_ties)} tied with the upper half)" if r.kept_for_ties else ""
        lines.append(f"| {r.round} | {r.steps} | {scores} | {', '.join(r.kept)}{ties} |")
    return [*lines, ""]
