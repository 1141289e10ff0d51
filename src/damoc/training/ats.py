"""The ``ats`` baseline's training: the uncompressed candidate LoRA-tuned on nested subsets, with test losses.

AtS (Lin et al., ICML 2024) fine-tunes each candidate on nested subsets of the training data and
extrapolates the test loss to the full size (:mod:`damoc.selection.ats`). damoc shuffles the whole
training split once (seeded); subset ``n`` is the first ``n`` examples of that order, tuned for one
epoch with the run's training recipe (as ``subset_tuning``), and scored by
:func:`damoc.evaluation.loss.answer_loss` on the eval split. The sizes are the halving chain of
:func:`damoc.selection.ats.nested_subset_sizes`, as long as fits the budget: ``compute_ratio`` x the
proxy's training compute, in training tokens x decoder layers (the proxy: tokens seen x layers kept;
a subset: its tokens, counted with the candidate's tokenizer exactly as training counts them, x all
the candidate's layers). Each subset is one resumable stage folder, so a rerun redoes none.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from dataclasses import dataclass
from pathlib import Path

from damoc.config import CandidateSpec, RunConfig, TrainingConfig
from damoc.context import StageContext
from damoc.errors import DamocError
from damoc.reports import AtsPointReport, AtsReport, ProxyReport, TrainReport, read_stage_report, write_stage_report
from damoc.selection.baselines.ats import AtsBaselineParams
from damoc.tasks.example import Example
from damoc.tracking.base import track

log = logging.getLogger(__name__)

SUBSET_FILE, ADAPTER_DIR = "train_subset.jsonl", "adapter"


@dataclass(frozen=True)
class AtsPlan:
    """The subsets one candidate is tuned on: prefixes of one seeded shuffle of the whole training split."""

    examples: list[Example]
    sizes: list[int]
    layers: int
    budget_token_layers: int


def ats_params(cfg: RunConfig) -> AtsBaselineParams:
    """The ``ats`` baseline's params in the run config (``selection.baseline_params.ats``), defaults filled in."""
    return AtsBaselineParams.model_validate(cfg.selection.baseline_params.get("ats", {}))


def subset_recipe(cfg: TrainingConfig) -> TrainingConfig:
    """The run's training recipe for one epoch over a subset (``max_steps`` is the proxy's, not AtS's)."""
    return cfg.model_copy(update={"max_steps": None, "num_epochs": 1.0})


def shuffled(examples: list[Example], seed: int) -> list[Example]:
    """``examples`` in one seeded random order; its prefixes are the nested subsets."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in order]


def chain_within(num_examples: int, token_counts: list[int], layers: int, budget: int, min_examples: int) -> list[int]:
    """The longest halving chain of prefix sizes (smallest first) whose summed cost fits ``budget``.

    A prefix of ``n`` examples costs ``sum(token_counts[:n]) * layers`` (``token_counts`` covers at
    least the first ``num_examples // 2``); the sizes are ``N // 2, N // 4, ...`` down to
    ``min_examples`` (N = ``num_examples``), and AtS needs two.

    Raises:
        DamocError: If not even the two smallest sizes fit; the message gives the numbers.
    """
    from damoc.selection.ats import nested_subset_sizes

    try:
        halving = nested_subset_sizes(num_examples, num_examples, min_examples)  # every size: their sum is < N
    except ValueError as exc:
        raise DamocError(f"ats baseline: {exc}") from None
    cum = list(itertools.accumulate(token_counts, initial=0))
    for top in range(len(halving), 1, -1):
        if sum(cum[s] for s in halving[:top]) * layers <= budget:
            return halving[:top]
    cost = sum(cum[s] for s in halving[:2]) * layers
    raise DamocError(
        f"ats baseline: the two smallest subsets {halving[:2]} cost {cost} tokens x layers, over the budget of "
        f"{budget}; raise selection.baseline_params.ats.compute_ratio or lower min_examples"
    )


def plan_ats(cfg: RunConfig, spec: CandidateSpec, proxy_dir: Path, adapter_dir: Path, ctx: StageContext) -> AtsPlan:
    """Shuffle the whole training split and choose the subset sizes within the proxy-matched budget."""
    from damoc.candidates.resolve import load_tokenizer, resolve_candidate
    from damoc.tasks.load import load_split, task_sources
    from damoc.tasks.tokens import special_prefix
    from damoc.training.features import encode_example

    params = ats_params(cfg)
    proxy = read_stage_report(proxy_dir, ProxyReport)
    budget = int(params.compute_ratio * read_stage_report(adapter_dir, TrainReport).tokens_seen * proxy.layers_after)
    train_src, _, fields, task_type = task_sources(cfg.task)
    examples = shuffled(load_split(train_src, fields, task_type, "train", fmt=cfg.task.format), cfg.seed)
    model = resolve_candidate(spec, ctx.cache_dir, ctx.progress)
    tokenizer = load_tokenizer(model.source, revision=model.revision, trust_remote_code=model.trust_remote_code)
    prefix = special_prefix(tokenizer)
    max_len = cfg.training.max_seq_len
    # no subset is larger than half the split: the rest needs no tokenising
    counts = [
        len(encode_example(tokenizer, ex, max_len, prefix, ctx.prompt).input_ids)
        for ex in examples[: len(examples) // 2]
    ]
    sizes = chain_within(len(examples), counts, proxy.layers_before, budget, params.min_examples)
    log.info("%s: ats subsets %s of %d examples (budget %d tokens x layers)", spec.name, sizes, len(examples), budget)
    return AtsPlan(examples=examples, sizes=sizes, layers=proxy.layers_before, budget_token_layers=budget)


def loss_examples(cfg: RunConfig, eval_file: Path, limit: int | None) -> list[Example]:
    """The eval examples the subsets' test loss is measured on: all, or the first ``limit`` in evaluation order.

    The order is sequential evaluation's (:func:`damoc.sequential.evaluation_order`: seeded, one example
    from every cluster in turn), so a cap of the proxies' ``sequential_max_examples`` spreads over the
    same clusters their evaluation does.
    """
    from damoc.sequential import evaluation_order
    from damoc.tasks.load import read_examples

    examples = read_examples(eval_file)
    if limit is None or limit >= len(examples):
        return examples
    by_id = {e.id: e for e in examples}
    return [by_id[i] for i in evaluation_order(cfg, eval_file)[:limit]]


def tune_prefix(
    cfg: RunConfig, spec: CandidateSpec, plan: AtsPlan, size: int, eval_file: Path, out_dir: Path, ctx: StageContext
) -> AtsPointReport:
    """Tune the full candidate for one epoch on the first ``size`` examples and measure its test loss.

    Writes ``train_subset.jsonl``, the adapter with its ``train.json`` (``out_dir/adapter``) and ``test_loss.json``;
    the test loss goes to the trackers as ``eval/test_loss`` at the subset's last step.
    """
    from damoc.candidates.resolve import resolve_candidate
    from damoc.evaluation.loss import answer_loss
    from damoc.evaluation.stage import load_for_eval
    from damoc.tasks.load import write_examples
    from damoc.training.stage import train_proxy

    start = time.perf_counter()
    write_examples(out_dir / SUBSET_FILE, plan.examples[:size])
    model_ref = resolve_candidate(spec, ctx.cache_dir, ctx.progress)
    (out_dir / ADAPTER_DIR).mkdir(exist_ok=True)
    train = train_proxy(model_ref, out_dir / SUBSET_FILE, subset_recipe(cfg.training), out_dir / ADAPTER_DIR, ctx)
    model, tokenizer = load_for_eval(model_ref, out_dir / ADAPTER_DIR, ctx.device, ctx.dtype)
    ev = cfg.evaluation
    tests = loss_examples(cfg, eval_file, ats_params(cfg).test_examples)
    loss, tokens = answer_loss(model, tokenizer, tests, ev.max_seq_len, ev.batch_size, ctx.prompt)
    report = AtsPointReport(
        num_examples=size,
        test_loss=loss,
        test_tokens=tokens,
        test_examples=len(tests),
        tokens_seen=train.tokens_seen,
        layers=plan.layers,
        seconds=round(time.perf_counter() - start, 3),
    )
    write_stage_report(out_dir, report)
    track(ctx.track, {"eval/test_loss": loss}, train.steps)
    log.info("%s: ats subset %d, test loss %.4f", spec.name, size, loss)
    return report


def write_curve(cfg: RunConfig, plan: AtsPlan, subset_dirs: list[Path], out_dir: Path) -> AtsReport:
    """Collect the finished subsets into ``ats.json``: sizes, test losses and the cost in tokens x layers."""
    points = [read_stage_report(d, AtsPointReport) for d in subset_dirs]
    params = ats_params(cfg)
    report = AtsReport(
        full_size=len(plan.examples),
        sizes=[p.num_examples for p in points],
        losses=[p.test_loss for p in points],
        token_layers=sum(p.tokens_seen * p.layers for p in points),
        budget_token_layers=plan.budget_token_layers,
        min_examples=params.min_examples,
        compute_ratio=params.compute_ratio,
        test_examples=points[0].test_examples if points else None,
        seed=cfg.seed,
    )
    write_stage_report(out_dir, report)
    return report
