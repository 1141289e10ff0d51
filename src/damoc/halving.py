"""Successive halving (``selection.strategy: successive_halving``): many candidates on a fixed budget.

Every proxy is built once (stage 2). Round k trains every surviving proxy for ``s_k = s_0 * 2**k``
optimizer steps (at most ``training.max_steps``), from scratch, and evaluates it; the upper half by
``selection.rank_by`` survives, and so does any candidate tied with the last one kept (its paired 95%
interval with it covers 0, :func:`damoc.selection.uncertainty.leader_tie_group`, or an exact tie).
The rounds end when one candidate remains, when a round has trained at ``training.max_steps``, or when
the next round would take the compute past ``selection.halving_budget`` times what ``all`` spends
(Jamieson & Talwalkar 2016, arXiv 1502.07943; Hyperband's inner loop with eta = 2, Li et al. 2018,
arXiv 1603.06560). ``s_0`` is ``selection.halving_min_steps``, by default
``training.max_steps // 2**ceil(log2(n))``.

Round k is a run folder of its own, ``halving/round_<k>/``, with the data stage and the proxies
hard-linked in, so the ordinary candidate jobs train and evaluate there and a killed run resumes
round by round. Afterwards each candidate's last round (adapter and evaluation) is linked into its
``models/<name>/`` folders, where the baselines run and the ranking reads it as usual. Compute is
counted as training tokens x proxy layers, as :mod:`damoc.budget` counts it.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from damoc.artifacts import RunLayout, is_done, read_manifest, replace_dir, write_json_atomic
from damoc.atomic import process_tag
from damoc.config import RunConfig
from damoc.errors import ConfigError
from damoc.executors.base import CandidateJob, EventFn, Executor
from damoc.preflight import check_halving
from damoc.reports import ProxyReport, TrainReport, read_stage_report
from damoc.selection import uncertainty
from damoc.selection.base import HalvingRound, HalvingSummary

log = logging.getLogger(__name__)


def first_steps(cfg: RunConfig, num_candidates: int) -> int:
    """Steps of round 0: ``selection.halving_min_steps``, else ``max_steps // 2**ceil(log2(n))`` (at least 1)."""
    max_steps = cfg.training.max_steps or 1
    if cfg.selection.halving_min_steps is not None:
        return min(cfg.selection.halving_min_steps, max_steps)
    return max(1, max_steps // 2 ** math.ceil(math.log2(max(num_candidates, 2))))


def keep_upper_half(values: Mapping[str, Sequence[float]], groups: Sequence[str] | None, seed: int) -> list[str]:
    """The survivors of a round: the upper half by mean, plus every candidate tied with the last one kept.

    Args:
        values: candidate -> per-example values on the same examples, in config order (it breaks exact ties).
        groups: cluster label per example (resampled together), or None.
        seed: the bootstrap seed (``selection.bootstrap_seed``).

    Returns:
        The survivors, best first.
    """
    means = {n: sum(v) / len(v) for n, v in values.items()}
    order = sorted(values, key=lambda n: -means[n])  # stable: config order on equal means
    half = math.ceil(len(order) / 2)
    last = order[half - 1]
    tied = set(uncertainty.leader_tie_group(values, [last, *order[half:]], groups, seed))
    return [n for n in order if n in order[:half] or n in tied or means[n] == means[last]]


def run_halving(
    cfg: RunConfig, layout: RunLayout, names: Sequence[str], executor: Executor, on_event: EventFn | None = None
) -> HalvingSummary:
    """Build every proxy, run the rounds, link each candidate's last round into ``models/<name>/``.

    Args:
        cfg: the run config, with ``selection.strategy: successive_halving``.
        layout: the run folder, its data stage done.
        names: the candidates (after any pre-screen), in config order.
        executor: runs the candidate jobs.
        on_event: progress callback passed to the executor.

    Returns:
        The rounds and the compute spent, also written to ``halving/summary.json``.
    """
    check_halving(cfg)
    executor.run([CandidateJob(cfg, layout.root, n, ("model",)) for n in names], on_event)
    max_steps = cfg.training.max_steps or 1
    steps0, alive, rounds = first_steps(cfg, len(names)), list(names), []
    per_step: dict[str, float] = {}
    stopped = ""
    for k in itertools.count():
        steps = min(steps0 * 2**k, max_steps)
        rounds.append(run_round(cfg, layout, alive, k, steps, executor, on_event))
        if k == 0:
            per_step = {n: rounds[0].compute[n] / steps for n in names}
        spent = sum(sum(r.compute.values()) for r in rounds)
        alive = rounds[-1].kept
        stopped = _stop_reason(cfg, alive, steps, spent, per_step)
        if stopped:
            break
    summary = _summary(cfg, rounds, per_step, stopped)
    _link_last_rounds(cfg, layout, summary, executor, on_event)
    write_json_atomic(layout.halving_summary, summary.model_dump(mode="json"))
    log.info("successive halving: %s; compute %.3g of all's %.3g", stopped, summary.compute_spent, summary.compute_all)
    return summary


def _stop_reason(cfg: RunConfig, alive: list[str], steps: int, spent: float, per_step: Mapping[str, float]) -> str:
    """Why the rounds end after this one, or '' to go on."""
    max_steps = cfg.training.max_steps or 1
    if len(alive) == 1:
        return "one candidate remains"
    if steps >= max_steps:
        return f"the last round trained at training.max_steps ({max_steps})"
    full = sum(per_step.values()) * max_steps
    next_cost = sum(per_step[n] for n in alive) * min(2 * steps, max_steps)
    if spent + next_cost > cfg.selection.halving_budget * full:
        return f"the next round would pass selection.halving_budget ({cfg.selection.halving_budget} of all)"
    return ""


def with_steps(cfg: RunConfig, steps: int) -> RunConfig:
    """The config with ``training.max_steps = steps``."""
    return cfg.model_copy(update={"training": cfg.training.model_copy(update={"max_steps": steps})})


def round_config(cfg: RunConfig, steps: int) -> RunConfig:
    """The config of a round: ``steps`` training steps; the baselines run only after the rounds."""
    return with_steps(cfg, steps).model_copy(update={"selection": cfg.selection.model_copy(update={"baselines": []})})


def run_round(
    cfg: RunConfig, layout: RunLayout, alive: Sequence[str], k: int, steps: int,
    executor: Executor, on_event: EventFn | None,
) -> HalvingRound:  # fmt: skip
    """Train and evaluate the survivors for ``steps`` steps in ``halving/round_<k>/``; score and halve them."""
    rdir = layout.halving_round_dir(k)
    link_stage(layout.data_dir, RunLayout(rdir).data_dir)
    for n in alive:
        link_stage(layout.proxy_dir(n), RunLayout(rdir).proxy_dir(n))
    log.info("successive halving: round %d, %d candidates, %d steps", k, len(alive), steps)
    executor.run([CandidateJob(round_config(cfg, steps), rdir, n, ("train", "evaluate")) for n in alive], on_event)
    rl = RunLayout(rdir)
    task_type = cfg.task.type
    scores = {n: uncertainty.per_example_scores(rl.predictions(n), cfg.selection.rank_by, task_type) for n in alive}
    values, groups = uncertainty.aligned(scores, uncertainty.example_groups(rl.eval_file, cfg.selection.cluster_by))
    kept = keep_upper_half(values, groups, cfg.selection.bootstrap_seed)
    return HalvingRound(
        round=k,
        steps=steps,
        candidates=list(alive),
        scores={n: sum(v) / len(v) for n, v in values.items()},
        compute={n: round_compute(rl, n) for n in alive},
        kept=kept,
        kept_for_ties=kept[math.ceil(len(alive) / 2) :],
    )


def round_compute(layout: RunLayout, name: str) -> float:
    """Training tokens x proxy layers of one candidate's training in ``layout``."""
    train = read_stage_report(layout.train_report(name), TrainReport)
    return float(train.tokens_seen * read_stage_report(layout.proxy_report(name), ProxyReport).layers_after)


def _summary(cfg: RunConfig, rounds: list[HalvingRound], per_step: Mapping[str, float], stopped: str) -> HalvingSummary:
    max_steps = cfg.training.max_steps or 1
    spent = sum(sum(r.compute.values()) for r in rounds)
    full = sum(per_step.values()) * max_steps
    return HalvingSummary(
        rounds=rounds,
        max_steps=max_steps,
        reached={n: max(r.round for r in rounds if n in r.candidates) for n in rounds[0].candidates},
        compute_spent=spent,
        compute_all=full,
        compute_ratio=spent / full if full else 0.0,
        stopped=stopped,
    )


def _link_last_rounds(
    cfg: RunConfig, layout: RunLayout, summary: HalvingSummary, executor: Executor, on_event: EventFn | None
) -> None:
    """Link each candidate's last round into ``models/<name>/`` and run the baselines' stages there."""
    jobs = []
    for name, k in summary.reached.items():
        rl = RunLayout(layout.halving_round_dir(k))
        link_stage(rl.adapter_dir(name), layout.adapter_dir(name))
        link_stage(rl.eval_dir(name), layout.eval_dir(name))
        jobs.append(CandidateJob(with_steps(cfg, summary.rounds[k].steps), layout.root, name, ("evaluate",)))
    executor.run(jobs, on_event)  # the proxy's stages are done: only the baselines' evaluations run


def link_stage(src: Path, dst: Path) -> None:
    """Make ``dst`` a copy of the finished stage folder ``src`` made of hard links (copies where links fail).

    Skipped when ``dst`` already holds the same stage (same manifest hash); built in a temporary sibling
    and renamed into place, so a kill leaves either the old folder or the new one.
    """
    manifest = read_manifest(src)
    if manifest is None:
        raise ConfigError(f"{src}: no finished stage to link")
    if is_done(dst, manifest["config_hash"]):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp-{process_tag()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, copy_function=_link_or_copy)
    replace_dir(tmp, dst)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
