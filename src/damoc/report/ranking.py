"""The ranking's own tables and sentences, shared by report.md, report.html and the terminal."""

from __future__ import annotations

from damoc.report.tables import Table
from damoc.selection.base import Ranking


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


def pick_sentence(ranking: Ranking, markdown: bool = False) -> str:
    """Which candidate the run picks and by what: the proxies' leader, or ``selection.fallback``'s pre-screen."""
    b, c = ("**", "`") if markdown else ("", "")
    f = ranking.fallback
    if f is None:
        return f"Best candidate by proxy fine-tuning: {b}{ranking.best}{b} (ranked by {c}{ranking.rank_by}{c})."
    scores = ", ".join(f"{n} {f.scores[n]:.4f}" for n in f.order)
    return (
        f"Pick: {b}{f.pick}{b}, by the {f.method} pre-screen of the full, untuned candidates on {f.num_samples} training "
        f"examples ({scores}; selection.fallback), because no proxy scored above guessing: the proxies' "
        f"leader, {f.proxy_leader}, learned nothing the ranking can use."
    )


def verdict(ranking: Ranking) -> str:
    """One sentence on how sure the pick is: a clear lead, a statistical tie, or no intervals."""
    if ranking.candidates and ranking.candidates[0].tied_with:
        return f"Exact tie for first: {', '.join([ranking.best, *ranking.candidates[0].tied_with])} (listed in config order)."
    if len(ranking.candidates) == 1:
        failed = ", ".join(f.candidate for f in ranking.failed)
        why = f"the others failed ({failed}); rerun to retry them" if failed else "it is the only candidate"
        return f"Only {ranking.best} was ranked: {why}. Nothing was compared."
    if not ranking.num_examples:
        return "No intervals (prediction files missing): the order is not tested against noise."
    if ranking.leader_at_chance:
        learned = [c.candidate for c in ranking.candidates if c.candidate in ranking.above_chance]
        others = f"; above it: {', '.join(learned)}" if learned else ""
        return (
            f"{ranking.best} leads, but not above guessing beyond noise ({ranking.rank_by} {ranking.chance:.3f} by "
            f"chance on these {ranking.num_examples} eval examples){others}: the proxies did not learn the task "
            "within their budget, so this pick says little. Raise `budget` (or the training steps)."
        )
    unit = f"clustered by {ranking.cluster_by}" if ranking.cluster_by != "none" else "per example"
    if len(ranking.top_group) > 1:
        return (
            f"Statistical tie for first: {', '.join(ranking.top_group)} (their paired 95% intervals of the "
            f"difference with {ranking.best} cover 0; {ranking.num_examples} eval examples, bootstrap {unit})."
        )
    return f"{ranking.best} leads every other candidate outside noise (paired 95% intervals, {ranking.num_examples} eval examples, bootstrap {unit})."


def baseline_table(ranking: Ranking) -> Table:
    """Each baseline's order and whether its pick matches the proxy's (Markdown and HTML)."""
    header = ["baseline", "order", "same pick as the proxy", "pick in the proxy's top group"]
    rows = []
    for b in ranking.baselines:
        tied = f" (tied with {', '.join(b.tied_for_top)})" if b.tied_for_top else ""
        same, in_top = ("yes" if b.picks_same_top else "no"), ("yes" if b.picks_in_top_group else "no")
        rows.append([b.baseline, " > ".join(b.order) + tied, same, in_top])
    return header, rows
