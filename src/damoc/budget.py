"""``budget``: one number for how much the proxy may cost, instead of a keep ratio, steps and a removal ratio.

The budget ``b`` is a fraction of the ground truth's training compute, counted as training tokens x
decoder layers (a hardware-free measure). With ``N`` training examples, the ground truth's ``E``
epochs, the proxy's batch ``B`` (x gradient accumulation ``A``) and layer-removal ratio ``r``, and
examples of about the same length on both sides:

    ground truth  C_gt = E * N * T * L
    proxy         C_p  = S * B * A * T * L * (1 - r)      (S optimizer steps)

so ``b = C_p / C_gt`` gives ``S = round(b * E * N / (B * A * (1 - r)))``, and the proxy makes one pass
over its data: the first sizing filter keeps ``S * B * A / N`` of the training set (at most all of it),
as ``keep_ratio`` when it is the first step, else as ``keep_count = S * B * A``, so that a dedup or
rules step before it (which drops a share of the set first) does not shrink the proxy's data below
the budget.
``model.remove_ratio`` stays as configured; with ``model.remove_layers`` (a count, so ``r`` differs by
candidate) the steps are planned with ``r = 0``, which keeps every proxy within ``b``. Token
compression only makes the proxy cheaper than ``b``; the run's reports record the tokens actually
trained on.
"""

from __future__ import annotations

import logging

from damoc.config import MethodSpec, RunConfig

log = logging.getLogger(__name__)

KEEP_RATIO_FILTERS = ("random", "ifd", "k_center", "hybrid", "cluster_balanced", "deita", "perplexity")
"""Filters whose ``keep_ratio`` the budget sets (the first such step of ``data.steps``)."""


def budget_plan(budget: float, epochs: float, num_examples: int, batch: int, remove_ratio: float) -> tuple[int, float]:
    """(optimizer steps, keep ratio) of a proxy that costs ``budget`` of the ground truth's training."""
    steps = max(1, round(budget * epochs * num_examples / (batch * (1.0 - remove_ratio))))
    return steps, min(1.0, steps * batch / num_examples)


def apply_budget(cfg: RunConfig, num_examples: int | None = None) -> RunConfig:
    """The config with ``training.max_steps`` and the first filter's ``keep_ratio`` set from ``cfg.budget``.

    A config without a budget is returned unchanged. Applying twice gives the same config.

    Args:
        cfg: the run config.
        num_examples: training examples before compression; read from the task when None.
    """
    if cfg.budget is None:
        return cfg
    if num_examples is None:
        num_examples = count_train_examples(cfg)
    batch = cfg.training.batch_size * cfg.training.gradient_accumulation_steps
    ratio = cfg.model.remove_ratio if cfg.model.remove_layers is None else 0.0
    steps, keep = budget_plan(cfg.budget, cfg.ground_truth.epochs, num_examples, batch, ratio)
    data_steps = list(cfg.data.steps)
    at = next((i for i, s in enumerate(data_steps) if s.method in KEEP_RATIO_FILTERS), None)
    if at is None:
        data_steps.insert(0, MethodSpec(method="random", params={"keep_ratio": keep}))
    else:
        params = {k: v for k, v in data_steps[at].params.items() if k not in ("keep_count", "keep_ratio")}
        # the budget sets the size: a ratio of the whole set when the step sees it whole, else a count
        size = {"keep_ratio": keep} if at == 0 else {"keep_count": min(num_examples, steps * batch)}
        data_steps[at] = MethodSpec(method=data_steps[at].method, params={**params, **size})
    log.info(
        "budget %.4g of the ground truth: %d steps on %.1f%% of %d examples",
        cfg.budget,
        steps,
        100 * keep,
        num_examples,
    )
    return cfg.model_copy(
        update={
            "training": cfg.training.model_copy(update={"max_steps": steps}),
            "data": cfg.data.model_copy(update={"steps": data_steps}),
        }
    )


def count_train_examples(cfg: RunConfig) -> int:
    """Examples in the task's training split, as the data stage reads them."""
    from damoc.tasks.load import load_split, task_sources

    train_src, _, fields, task_type = task_sources(cfg.task)
    return len(load_split(train_src, fields, task_type, "train", fmt=cfg.task.format))
