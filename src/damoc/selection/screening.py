"""The pre-screen and successive halving in the ranking: who was ranked, in which order, with what summary.

The runs themselves are :mod:`damoc.prescreen` and :mod:`damoc.halving`; they leave
``prescreen/summary.json`` and ``halving/summary.json``, which the ranking reads here. Torch-free.
"""

from __future__ import annotations

from damoc.artifacts import RunLayout, read_json
from damoc.config import SelectionConfig
from damoc.errors import DamocError
from damoc.selection.base import CandidateResult, HalvingSummary, PrescreenSummary, Ranking


def read_prescreen(layout: RunLayout, cfg: SelectionConfig) -> PrescreenSummary | None:
    """The pre-screen's summary when ``selection.prescreen`` is set (it must then have run)."""
    if cfg.prescreen is None:
        return None
    if not layout.prescreen_summary.is_file():
        raise DamocError(f"{layout.prescreen_summary} is missing; run the pipeline (damoc run CONFIG) first")
    return PrescreenSummary.model_validate(read_json(layout.prescreen_summary))


def read_halving(layout: RunLayout, cfg: SelectionConfig) -> HalvingSummary | None:
    """Successive halving's summary when ``selection.strategy`` is ``successive_halving``."""
    if cfg.strategy != "successive_halving":
        return None
    if not layout.halving_summary.is_file():
        raise DamocError(f"{layout.halving_summary} is missing; run the pipeline (damoc run CONFIG) first")
    return HalvingSummary.model_validate(read_json(layout.halving_summary))


def ranked_names(layout: RunLayout, names: list[str], cfg: SelectionConfig) -> list[str]:
    """``names`` less the candidates the pre-screen screened out."""
    summary = read_prescreen(layout, cfg)
    return names if summary is None else [n for n in names if n in summary.kept]


def order_by_round(rows: list[CandidateResult], halving: HalvingSummary | None) -> list[CandidateResult]:
    """Under successive halving: a later last round first, then the score; ranks renumbered.

    Candidates dropped in the same round keep their order by score (config order on equal scores);
    only candidates of the same round with equal scores share a rank and list each other as tied.
    """
    if halving is None:
        return rows
    reached = halving.reached
    rows = sorted(rows, key=lambda r: (-reached[r.candidate], -r.score))
    out = []
    for i, row in enumerate(rows):
        same = [r for r in rows if reached[r.candidate] == reached[row.candidate] and r.score == row.score]
        rank = next(j for j, r in enumerate(rows) if r is same[0]) + 1
        tied = [r.candidate for r in same if r is not row]
        out.append(row.model_copy(update={"rank": rank if tied else i + 1, "tied_with": tied}))
    return out


def add_screening(ranking: Ranking, layout: RunLayout, cfg: SelectionConfig) -> Ranking:
    """The ranking with the pre-screen and halving summaries; under halving the leader's tie group
    holds only candidates of the last round (the others trained for fewer steps)."""
    halving = read_halving(layout, cfg)
    update: dict[str, object] = {"prescreen": read_prescreen(layout, cfg), "halving": halving}
    if halving is not None and ranking.top_group:
        last = max(halving.reached.values())
        update["top_group"] = [n for n in ranking.top_group if halving.reached[n] == last]
    return ranking.model_copy(update=update)
