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
from damoc.report.tables import Table, data_markdown, markdown_table, read_data_report, stage_times_markdown
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


def _fmt(x: float | int | None, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def ranking_table(ranking: Ranking) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the ranking table (shared by markdown, HTML and the CLI)."""
    metric_names = list(ranking.candidates[0].metrics) if ranking.candidates else []
    header = [
        "rank",
        "candidate",
        *metric_names,
        "95% CI",
        "layers",
        "params (M)",
        "train ex.",
        "train tokens",
        "seconds",
    ]
    rows = []
    for c in ranking.candidates:
        params = f"{(c.params_before or 0) / 1e6:.1f} -> {(c.params_after or 0) / 1e6:.1f}" if c.params_before else "-"
        layers = f"{c.layers_before} -> {c.layers_after}" if c.layers_before is not None else "-"
        rank = f"{c.rank}{' (tie)' if c.tied_with else ''}"
        metrics = [_fmt(c.metrics[m]) for m in metric_names]
        ci = f"{c.score_low:.3f}-{c.score_high:.3f}" if c.score_low is not None and c.score_high is not None else "-"
        secs = _fmt(sum(c.seconds.values()), 1)
        rows.append(
            [rank, c.candidate, *metrics, ci, layers, params, _fmt(c.train_examples), _fmt(c.train_tokens), secs]
        )
    rows += [["failed", f.candidate, *["-"] * (len(header) - 2)] for f in ranking.failed]
    return header, rows


def failure_lines(ranking: Ranking) -> list[str]:
    """One line per failed candidate: the stage, the reason, and that a rerun retries it."""
    from damoc.failures import describe

    return [f"Not ranked: {describe(f)} (`damoc run` again retries it)" for f in ranking.failed]


def render_markdown(ranking: Ranking, data: DataReport | None = None) -> str:
    """The report as Markdown (``data``: the data stage's report, else the copy in the ranking)."""
    if data is None and ranking.data:
        data = DataReport.model_validate(ranking.data)
    header, rows = ranking_table(ranking)
    lines = [
        "# damoc ranking",
        "",
        f"Best candidate by proxy fine-tuning: **{ranking.best}** (ranked by `{ranking.rank_by}`).",
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


def verdict(ranking: Ranking) -> str:
    """One sentence on how sure the pick is: a clear lead, a statistical tie, or no intervals."""
    if ranking.candidates and ranking.candidates[0].tied_with:
        return f"Exact tie for first: {', '.join([ranking.best, *ranking.candidates[0].tied_with])} (listed in config order)."
    if not ranking.num_examples:
        return "No intervals (prediction files missing): the order is not tested against noise."
    unit = f"clustered by {ranking.cluster_by}" if ranking.cluster_by != "none" else "per example"
    if len(ranking.top_group) > 1:
        return (
            f"Statistical tie for first: {', '.join(ranking.top_group)} (their paired 95% intervals of the "
            f"difference with {ranking.best} cover 0; {ranking.num_examples} eval examples, bootstrap {unit})."
        )
    return f"{ranking.best} leads every other candidate outside noise (paired 95% intervals, {ranking.num_examples} eval examples, bootstrap {unit})."


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


def baseline_table(ranking: Ranking) -> Table:
    """Each baseline's order and whether its pick matches the proxy's (Markdown and HTML)."""
    header = ["baseline", "order", "same pick as the proxy", "pick in the proxy's top group"]
    rows = []
    for b in ranking.baselines:
        tied = f" (tied with {', '.join(b.tied_for_top)})" if b.tied_for_top else ""
        same, in_top = ("yes" if b.picks_same_top else "no"), ("yes" if b.picks_in_top_group else "no")
        rows.append([b.baseline, " > ".join(b.order) + tied, same, in_top])
    return header, rows


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
