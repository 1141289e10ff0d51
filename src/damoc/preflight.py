"""Preflight checks of a parsed run config: method names and params, templates, files, candidates.

They run in :func:`damoc.loading.load_config`, so ``damoc validate`` catches a wrong method, a bad
parameter, a broken template, a missing data file or an unusable model before any stage starts.
No torch is imported and no weights are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from damoc.config import CandidateSpec, RunConfig
from damoc.errors import ConfigError, DamocError

if TYPE_CHECKING:
    from damoc.candidates.resolve import ResolvedModel


def validate_methods(cfg: RunConfig) -> None:
    """Check every method name and its params against the registries (imports no torch)."""
    from damoc.registry import registry

    for i, step in enumerate(cfg.data.steps):
        kind = "filter" if step.method in registry("filter").names() else "compressor"
        if step.method not in registry(kind).names():
            allowed = registry("filter").names() + registry("compressor").names()
            raise ConfigError(f"data.steps.{i}.method: unknown method {step.method!r}; available: {', '.join(allowed)}")
        registry(kind).build(step.method, step.params, where=f"data.steps.{i}")
    registry("scorer").build(cfg.model.scorer.method, cfg.model.scorer.params, where="model.scorer")
    registry("merger").build(cfg.model.merger.method, cfg.model.merger.params, where="model.merger")
    from damoc.evaluation.metrics.base import build_metrics

    build_metrics(cfg.metrics(), cfg.task.type)
    if cfg.selection.rank_by not in cfg.metrics():
        raise ConfigError(
            f"selection.rank_by: {cfg.selection.rank_by!r} is not among the evaluation metrics {cfg.metrics()}"
        )
    from damoc.validation.recipe import truth_metric

    try:
        build_metrics([truth_metric(cfg)], cfg.task.type)
    except ConfigError as exc:
        raise ConfigError(f"ground_truth.metric: {exc}") from None
    for name in cfg.selection.baselines:
        registry("baseline").build(
            name, cfg.selection.baseline_params.get(name), where=f"selection.baseline_params.{name}"
        )
    unlisted = sorted(set(cfg.selection.baseline_params) - set(cfg.selection.baselines))
    if unlisted:
        raise ConfigError(f"selection.baseline_params: {unlisted} not in selection.baselines {cfg.selection.baselines}")
    check_executor(cfg)
    check_trackers(cfg)
    check_4bit(cfg)


def check_4bit(cfg: RunConfig) -> None:
    """``model.score_in_4bit`` needs bitsandbytes (looked up, not imported) and cannot run with ``device: cpu``."""
    import importlib.util

    if not cfg.model.score_in_4bit:
        return
    if cfg.device == "cpu":
        raise ConfigError("model.score_in_4bit: 4-bit scoring runs on a CUDA GPU (bitsandbytes); not with device: cpu")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("model.score_in_4bit needs the bitsandbytes package: pip install bitsandbytes")


def check_trackers(cfg: RunConfig) -> None:
    """Every ``report_to`` tracker is registered and its optional package is installed (looked up, not imported)."""
    from damoc.tracking.base import build_trackers

    for tracker in build_trackers(cfg.report_to):
        tracker.check(cfg.run_dir)


def check_executor(cfg: RunConfig) -> None:
    """``executor.kind: ray`` needs the ray package (looked up, not imported: it is heavy)."""
    import importlib.util

    if cfg.executor.kind == "ray" and importlib.util.find_spec("ray") is None:
        raise ConfigError("executor.kind: ray needs the ray package: pip install 'damoc[ray]' (ray==2.60.0)")


def check_selection_strategy(cfg: RunConfig) -> None:
    """Check ``selection.prescreen`` (method, task type) and ``selection.strategy`` (its needs)."""
    check_prescreen(cfg)
    check_halving(cfg)


def check_prescreen(cfg: RunConfig) -> None:
    """Fail early on an unknown pre-screen (``selection.prescreen`` or ``.fallback``) or one that cannot score the task type."""
    from damoc.registry import registry

    for key, p in (("prescreen", cfg.selection.prescreen), ("fallback", cfg.selection.fallback)):
        if p is None:
            continue
        try:
            method = registry("prescreen").get(p.method)
        except ConfigError as exc:
            raise ConfigError(f"selection.{key}.method: {exc}") from None
        if cfg.task.type not in method.task_types:
            raise ConfigError(
                f"selection.{key}.method: {p.method!r} scores {', '.join(method.task_types)} tasks, "
                f"not {cfg.task.type}; use perplexity"
            )


def check_halving(cfg: RunConfig) -> None:
    """Fail early on settings successive halving cannot run with."""
    if cfg.selection.strategy != "successive_halving":
        return
    if cfg.training.max_steps is None:
        raise ConfigError("selection.strategy: successive_halving doubles training steps; set training.max_steps")
    if cfg.evaluation.sequential_chunk is not None:
        raise ConfigError(
            "selection.strategy: successive_halving evaluates every survivor on the whole eval split; "
            "set evaluation.sequential_chunk=null"
        )


def check_paths(cfg: RunConfig) -> None:
    """Fail before any work when a local data file, model folder or GGUF file does not exist."""
    if cfg.run_dir.exists() and not cfg.run_dir.is_dir():
        raise ConfigError(f"run_dir: {cfg.run_dir} exists and is not a folder")
    for split in ("train", "eval"):
        source = getattr(cfg.task, split)
        if source is not None and source.path is not None and not source.path.is_file():
            raise ConfigError(f"task.{split}.path: data file not found: {source.path}")
    for i, c in enumerate(cfg.candidates):
        try:
            check_candidate(c, cfg.model.remove_ratio, cfg.model.remove_layers)
        except DamocError as exc:
            raise ConfigError(f"candidates.{i} ({c.name}): {exc}") from None


def check_candidate(c: CandidateSpec, remove_ratio: float, remove_layers: int | None = None) -> None:
    """Check a candidate from its files alone (headers, config.json), loading no weights and no torch."""
    from damoc.candidates.bundled import bundled_models, check_gguf_header
    from damoc.candidates.resolve import ResolvedModel, check_checkpoint_dir

    if c.alias is not None and c.alias not in bundled_models():
        raise ConfigError(f"unknown bundled model {c.alias!r}; available: {', '.join(bundled_models())}")
    if c.gguf is not None:
        if not c.gguf.is_file():
            raise ConfigError(f"GGUF file not found: {c.gguf}")
        check_gguf_header(c.gguf)
    if c.path is not None:
        if not c.path.is_dir():
            raise ConfigError(f"model folder not found: {c.path}")
        check_checkpoint_dir(c.path, c.allow_pickle)
        resolved = ResolvedModel(
            name=c.name, source=c.path, trust_remote_code=c.trust_remote_code, allow_pickle=c.allow_pickle
        )
        check_candidate_config(resolved, remove_ratio, remove_layers)


def check_candidate_config(resolved: ResolvedModel, remove_ratio: float, remove_layers: int | None = None) -> None:
    """Fail from file headers and config.json alone, before loading weights.

    Refuses corrupted safetensors, remote code without trust_remote_code, a model that is not a
    causal LM, a family without layer-removal support, and a ratio that leaves no layer.
    """
    from damoc.candidates.resolve import check_config_safe_causal, check_safetensors, read_config_json
    from damoc.model.layers import check_layer_plan

    if not isinstance(resolved.source, Path):
        return  # a hub id: its config is checked after download, when the model loads
    check_safetensors(resolved.source)
    config = read_config_json(resolved.source)
    check_config_safe_causal(config, str(resolved.source), resolved.trust_remote_code)
    check_layer_plan(config, str(resolved.source), remove_ratio, remove_layers)


def check_template(template: str | None) -> None:
    """Compile a prompt template and check its variables.

    Raises:
        ConfigError: a syntax error or an unknown variable.
    """
    from damoc.tasks.prompts import check_template as compile_template

    try:
        compile_template(template)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
