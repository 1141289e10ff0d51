"""Zero-cost pre-screens (``selection.prescreen``): rank the full candidates before any proxy is built.

After the data stage, each candidate, untuned and uncompressed, scores a seeded sample of
``num_samples`` examples of the run's training file (``data/train.jsonl``) with the configured
pre-screen, in one forward pass (``prescreen/<name>/``, a resumable stage folder per candidate). The top
``keep`` (and any candidate with exactly the score of the last of them) go on to the proxy stages; the
others are screened out. ``prescreen/summary.json`` holds the order, and the ranking shows it beside
the final one.

``selection.fallback`` runs the same scorers after the ranking, and only when the proxies' leader is
not above guessing (:func:`apply_fallback`): then its leader is the run's pick.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from damoc.artifacts import RunLayout, is_done, stage_folder, write_json_atomic
from damoc.config import PrescreenSample, RunConfig, section_hash
from damoc.context import StageContext
from damoc.errors import ConfigError
from damoc.preflight import check_prescreen
from damoc.reports import PrescreenReport, read_stage_report, write_stage_report
from damoc.selection.base import FallbackPick, PrescreenSummary, Ranking

log = logging.getLogger(__name__)


def prescreen_hash(cfg: RunConfig, p: PrescreenSample, name: str) -> str:
    """Hash of one candidate's pre-screen: the data, the candidate, the method and sample, the scoring settings."""
    from damoc.jobs import data_hash

    spec = next(c for c in cfg.candidates if c.name == name)
    ev = cfg.evaluation
    return section_hash(
        "prescreen", data_hash(cfg), spec, p.method, p.num_samples, ev.max_seq_len, ev.batch_size, cfg.seed
    )


def run_prescreen(cfg: RunConfig, layout: RunLayout, names: Sequence[str], ctx: StageContext) -> PrescreenSummary:
    """Score every candidate in ``names`` (resuming finished ones) and write ``prescreen/summary.json``.

    Args:
        cfg: the run config, with ``selection.prescreen`` set.
        layout: the run folder, its data stage done.
        names: the candidates to screen, in config order (ties keep it).
        ctx: device, dtype, seed, prompt and progress.

    Returns:
        The summary: scores, order, the kept candidates and the screened-out ones.
    """
    from damoc.selection.prescreens.base import keep_top

    p = cfg.selection.prescreen
    if p is None:
        raise ConfigError("selection.prescreen is not set")
    check_prescreen(cfg)
    scores = score_all(cfg, p, names, layout.train_file, layout.prescreen_dir, ctx, "prescreen")
    order, kept = keep_top(scores, p.keep)
    summary = PrescreenSummary(
        method=p.method, num_samples=p.num_samples, keep=p.keep, scores=scores, order=order, kept=kept,
        screened_out=[n for n in order if n not in kept],
    )  # fmt: skip
    write_json_atomic(layout.prescreen_summary, summary.model_dump(mode="json"))
    log.info("prescreen %s: %s kept, %s screened out", p.method, kept, summary.screened_out or "none")
    return summary


def score_all(
    cfg: RunConfig, p: PrescreenSample, names: Sequence[str], train_file: Path, folder_of: Callable[[str], Path],
    ctx: StageContext, key: str,
) -> dict[str, float]:  # fmt: skip
    """Each candidate's pre-screen score (``selection.<key>``), from its stage folder ``folder_of(name)`` (finished ones resume)."""
    scores = {}
    for name in names:
        folder, h = folder_of(name), prescreen_hash(cfg, p, name)
        if is_done(folder, h):
            log.info("%s: %s done already (resume)", name, key)
        else:
            with stage_folder(folder, key, h) as out:
                score_candidate(cfg, p, name, train_file, out, ctx, key)
        scores[name] = _report(folder).score
    return scores


def apply_fallback(cfg: RunConfig, layout: RunLayout, ranking: Ranking, ctx: StageContext) -> Ranking:
    """The ranking with ``selection.fallback``'s pick when its leader is not above guessing; else unchanged.

    A proxy that scores at chance learned nothing within its budget, so its order says nothing about
    fine-tuning. The fallback then scores the ranked candidates, full and untuned, with a zero-cost
    pre-screen on the run's training sample (``fallback/<name>/``, resumable) and its leader becomes
    the run's pick (:attr:`Ranking.pick`); the proxies' order stays as measured.
    """
    p = cfg.selection.fallback
    if p is None or not ranking.leader_at_chance:
        return ranking
    names = [c.candidate for c in ranking.candidates]
    scores = score_all(cfg, p, names, layout.train_file, layout.fallback_dir, ctx, "fallback")
    order = sorted(names, key=lambda n: -scores[n])  # stable: the proxy ranking's order among equal scores
    pick = FallbackPick(
        method=p.method, num_samples=p.num_samples, scores=scores, order=order, pick=order[0], proxy_leader=ranking.best
    )
    log.info("no proxy above guessing: %s pre-screen picks %s (proxy leader %s)", p.method, pick.pick, ranking.best)
    rows = [  # its seconds count in the run's cost, as a stage of each candidate
        c.model_copy(update={"seconds": {**c.seconds, "fallback": _report(layout.fallback_dir(c.candidate)).seconds}})
        for c in ranking.candidates
    ]
    return ranking.model_copy(update={"fallback": pick, "candidates": rows})


def _report(folder: Path) -> PrescreenReport:
    return read_stage_report(folder, PrescreenReport)


def score_candidate(
    cfg: RunConfig, p: PrescreenSample, name: str, train_file: Path, out_dir: Path, ctx: StageContext,
    key: str = "prescreen",
) -> PrescreenReport:  # fmt: skip
    """Load the full candidate, score the seeded training sample with the pre-screen, write its report."""
    from damoc.candidates.resolve import load_model, resolve_candidate
    from damoc.selection.prescreens.base import PRESCREENS, ScoringSettings, sample_indices
    from damoc.tasks.load import read_examples

    start = time.perf_counter()
    examples = read_examples(train_file)
    sample = [examples[i] for i in sample_indices(len(examples), p.num_samples, cfg.seed)]
    spec = next(c for c in cfg.candidates if c.name == name)
    model, tokenizer = load_model(resolve_candidate(spec, cfg.cache_dir, ctx.progress), ctx.device, dtype=ctx.dtype)
    settings = ScoringSettings(cfg.evaluation.max_seq_len, cfg.evaluation.batch_size, ctx.prompt)
    score = PRESCREENS.build(p.method, {}, where=f"selection.{key}").score(model, tokenizer, sample, settings)
    report = PrescreenReport(
        method=p.method, score=score, num_samples=len(sample), seconds=round(time.perf_counter() - start, 3)
    )
    write_stage_report(out_dir, report)
    log.info("%s: prescreen %s = %.4f", name, p.method, score)
    return report


def screened_out(layout: RunLayout, cfg: RunConfig) -> list[str]:
    """Candidates the run's pre-screen dropped (none without ``selection.prescreen`` or its summary)."""
    from damoc.selection.screening import read_prescreen

    summary = read_prescreen(layout, cfg.selection)
    return [] if summary is None else summary.screened_out
