"""Sequential evaluation (``evaluation.sequential_chunk``): score the proxies on more eval examples only
while the data cannot yet tell the leader from the rest.

The eval split is put in a seeded order that takes one example from every cluster of examples sharing
``selection.cluster_by`` text in turn (so each chunk spreads over all the clusters it can: few
clusters asked many times, as ``medical_except``'s 25 stems, would otherwise make a chunk a handful
of stems), and cut into chunks of N examples. The bootstrap still resamples whole clusters of the
examples used. Round
k evaluates every candidate's proxy on chunk k (``models/<name>/eval_chunks/<k>/``, one job per candidate
through the executor); after each round the rows so far are combined and the run stops as soon as the
leader's paired 95% bootstrap interval against every other candidate excludes 0, or when the split is
used up, or once ``evaluation.sequential_max_examples`` are used (a cost cap: the ranking then reports
the leader's tie group). Each candidate's ordinary ``eval/`` folder is then written from the chunks used, and the
zero_shot and subset_tuning baselines are evaluated on the same examples, so the ranking, the baselines
and the reports stay paired and work unchanged. A single candidate stops after the first round: there is
nothing to separate it from.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from damoc.artifacts import RunLayout, write_text_atomic
from damoc.config import RunConfig
from damoc.errors import DamocError
from damoc.executors.base import CandidateJob, EventFn, Executor
from damoc.reports import EVAL_EXAMPLES_FILE, PREDICTIONS_FILE, EvalReport, read_stage_report, write_stage_report
from damoc.selection import uncertainty

log = logging.getLogger(__name__)


def stratified_clusters(ids: Sequence[str], groups: Mapping[str, str] | None, seed: int) -> list[list[str]]:
    """Example ids grouped by cluster (ids in file order), the clusters shuffled with ``seed``.

    Args:
        ids: example ids in file order.
        groups: example id -> cluster key (e.g. its question text); None: every example is its own cluster.
        seed: seed of the shuffle (the run's ``seed``).
    """
    clusters: dict[str, list[str]] = {}
    for i in ids:
        clusters.setdefault(groups.get(i, i) if groups is not None else i, []).append(i)
    order = list(clusters.values())
    random.Random(seed).shuffle(order)
    return order


def interleave(clusters: Sequence[Sequence[str]], seed: int) -> list[str]:
    """One id from every cluster in turn (each cluster's ids shuffled with ``seed``), until all are used.

    Every prefix of the result spreads over as many clusters as it can: a task whose eval split asks
    few question stems many times each (``medical_except``) gets all its stems in the first round,
    not two or three of them.
    """
    rng = random.Random(seed)
    shuffled = [rng.sample(list(c), len(c)) for c in clusters]
    depth = max((len(c) for c in shuffled), default=0)
    return [c[r] for r in range(depth) for c in shuffled if r < len(c)]


def split_chunks(order: Sequence[str], size: int) -> list[list[str]]:
    """Consecutive chunks of ``size`` ids (the last may be smaller)."""
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


def _eval_lines(eval_file: Path) -> dict[str, str]:
    """Example id -> its JSON line in ``eval_file``, in file order."""
    out: dict[str, str] = {}
    for line in eval_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out[str(json.loads(line)["id"])] = line
    return out


def evaluation_order(cfg: RunConfig, eval_file: Path) -> list[str]:
    """The ids of ``eval_file`` in sequential evaluation's seeded order (every cluster once before any twice)."""
    ids = list(_eval_lines(eval_file))
    if not ids:
        raise DamocError(f"{eval_file}: no evaluation examples")
    groups = uncertainty.example_groups(eval_file, cfg.selection.cluster_by)
    return interleave(stratified_clusters(ids, groups, cfg.seed), cfg.seed)


def chunk_plan(cfg: RunConfig, layout: RunLayout) -> list[list[str]]:
    """The example ids of each chunk of the run's eval split, in evaluation order."""
    size = cfg.evaluation.sequential_chunk
    if size is None:
        raise DamocError("evaluation.sequential_chunk is not set: the eval split is evaluated in one pass")
    return split_chunks(evaluation_order(cfg, layout.eval_file), size)


def write_chunk_examples(cfg: RunConfig, layout: RunLayout, chunks: Iterable[int], out_dir: Path) -> Path:
    """Write the eval examples of ``chunks`` (in evaluation order) to ``out_dir``; return the file."""
    plan, lines = chunk_plan(cfg, layout), _eval_lines(layout.eval_file)
    chosen = [i for k in chunks for i in plan[k]]
    path = out_dir / EVAL_EXAMPLES_FILE
    write_text_atomic(path, "".join(lines[i] + "\n" for i in chosen))
    return path


def _read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def combine_chunks(cfg: RunConfig, layout: RunLayout, name: str, rounds: int, out_dir: Path) -> EvalReport:
    """Write ``name``'s evaluation over chunks ``0..rounds-1`` (predictions and metrics) into ``out_dir``."""
    from damoc.evaluation.metrics.base import build_metrics

    rows: list[dict[str, Any]] = []
    parts: list[EvalReport] = []
    for k in range(rounds):
        folder = layout.eval_chunk_dir(name, k)
        rows += _read_rows(folder / PREDICTIONS_FILE)
        parts.append(read_stage_report(folder, EvalReport))
    scorers = build_metrics(cfg.metrics(), cfg.task.type)
    write_text_atomic(out_dir / PREDICTIONS_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    report = parts[0].model_copy(
        update={
            "metrics": {m.name: float(m.compute(rows)) for m in scorers},
            "num_examples": len(rows),
            "seconds": round(sum(p.seconds for p in parts), 3),
            "rounds": rounds,
        }
    )
    write_stage_report(out_dir, report)
    return report


def leader_separated(values: Mapping[str, Sequence[float]], groups: Sequence[str] | None, seed: int) -> bool:
    """The stopping rule: the leader's paired 95% interval against every other candidate excludes 0.

    Args:
        values: candidate -> per-example values, aligned on the same examples; mapping order breaks ties.
        groups: cluster label per example (resampled together), or None.
        seed: the bootstrap seed (``selection.bootstrap_seed``).
    """
    means = {n: sum(v) / len(v) for n, v in values.items()}
    order = sorted(values, key=lambda n: -means[n])  # stable: config order on equal means
    return len(uncertainty.leader_tie_group(values, order, groups, seed)) == 1


def chunk_values(
    cfg: RunConfig, layout: RunLayout, names: Sequence[str], rounds: int
) -> tuple[dict[str, list[float]], list[str] | None]:
    """Per-example ``selection.rank_by`` values of every candidate over chunks ``0..rounds-1``, aligned."""
    scores: dict[str, dict[str, float]] = {}
    for name in names:
        scores[name] = {}
        for k in range(rounds):
            path = layout.eval_chunk_dir(name, k) / PREDICTIONS_FILE
            scores[name].update(uncertainty.per_example_scores(path, cfg.selection.rank_by, cfg.task.type))
    return uncertainty.aligned(scores, uncertainty.example_groups(layout.eval_file, cfg.selection.cluster_by))


def run_sequential(
    cfg: RunConfig,
    layout: RunLayout,
    names: Sequence[str],
    stages: Sequence[str],
    executor: Executor,
    on_event: EventFn | None = None,
) -> int:
    """The per-candidate ``stages`` with the evaluate stage in rounds; returns the rounds used.

    Args:
        cfg: the run config, with ``evaluation.sequential_chunk`` set.
        layout: the run folder (its data stage done).
        names: the candidates; must be all of the config's, since the stopping rule compares them all.
        stages: per-candidate stages to run; ``evaluate`` among them.
        executor: runs the candidate jobs (model and train first, then one job per candidate and round).
        on_event: progress callback passed to the executor.

    Raises:
        DamocError: ``names`` leaves out a candidate of the config.
    """
    missing = [c.name for c in cfg.candidates if c.name not in names]
    if missing:
        raise DamocError(
            f"evaluation.sequential_chunk compares every candidate after each round; the evaluate stage cannot "
            f"leave out {', '.join(missing)} (drop --candidate, or set evaluation.sequential_chunk=null)"
        )
    names = [c.name for c in cfg.candidates]  # config order: it breaks ties for the leader
    before = tuple(s for s in stages if s != "evaluate")
    if before:
        executor.run([CandidateJob(cfg, layout.root, n, before) for n in names], on_event)
    rounds = _evaluate_in_rounds(cfg, layout, names, executor, on_event)
    executor.run([CandidateJob(cfg, layout.root, n, ("evaluate",), eval_rounds=rounds) for n in names], on_event)
    return rounds


def _evaluate_in_rounds(
    cfg: RunConfig, layout: RunLayout, names: Sequence[str], executor: Executor, on_event: EventFn | None
) -> int:
    """Run rounds of chunk evaluation until the leader is separated, the cap is reached or the split is used up."""
    plan = chunk_plan(cfg, layout)
    for k in range(len(plan)):
        executor.run([CandidateJob(cfg, layout.root, n, ("evaluate",), eval_chunk=k) for n in names], on_event)
        used = sum(len(c) for c in plan[: k + 1])
        values, groups = chunk_values(cfg, layout, names, k + 1)
        if leader_separated(values, groups, cfg.selection.bootstrap_seed):
            log.info("sequential evaluation: leader separated after %d rounds (%d examples)", k + 1, used)
            return k + 1
        log.info("sequential evaluation: round %d (%d examples): no clear leader yet", k + 1, used)
        cap = cfg.evaluation.sequential_max_examples
        if cap is not None and used >= cap and k + 1 < len(plan):
            log.info("sequential evaluation: stopped at the cap of %d examples without a clear leader", cap)
            return k + 1
    log.info("sequential evaluation: eval split used up (%d rounds)", len(plan))
    return len(plan)
