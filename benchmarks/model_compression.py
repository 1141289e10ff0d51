"""Model-level compression benchmark: what each layer scorer x merger costs the bundled models on a dev split.

For every bundled model, task (``configs/<task>.yaml`` gives the prompt, lengths, batch sizes, seed
and ``selection.cluster_by``) and removal ratio, the uncompressed model and each compressed one are
scored on a dev split carved from the task's *training* split (whole clusters held out,
:func:`damoc.tasks.dev.carve_dev`, at least ``--dev-clusters`` of them, with ``--dev-size`` examples
taken from them in turn; the eval split is never read):

* accuracy with damoc's multiple-choice log-likelihood scorer, and the retained accuracy
  (compressed / uncompressed);
* the mean answer-token loss (:func:`damoc.model.tolerance.answer_loss`, prompt masked as in fine-tuning);
* seconds spent scoring layers, merging + removing, and evaluating, wall and CPU (other jobs share
  the cores: the CPU time of this single-threaded process is the cost, the wall time includes waiting).

Calibration examples are drawn from the rest of train as the data stage draws them
(:func:`damoc.data.stage.draw_calibration`, ``data.calibration_samples``, the run seed). The default
grid is every registered scorer with merger ``none`` plus every merger with ``block_influence``
(``--full-grid``: the cross product). Layers are scored once per (scorer, ratio) on the uncompressed
model and the removal set is reused by every merger; the model is reloaded from its converted
safetensors before each compression. ``--forward-bar`` times each scorer against one plain forward
pass ``model(**batch)`` over the same calibration batches (Qwen2.5-0.5B, 64 samples of
``medical_except``, best of ``--repeats``).

The JSON is rewritten atomically after every cell, merged with what other runs wrote to it meanwhile
(two runs, on different models or tasks or one with ``--full-grid``, may share it); a rerun with the
same settings skips finished cells.

Run:  nice -n 19 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/model_compression.py \\
          [--models ...] [--tasks ...] [--ratios 0.25 0.5] [--dev-size 96] [--forward-bar] [--table]
      -> benchmarks/results/model_compression.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from damoc.artifacts import package_versions
from damoc.atomic import write_json_atomic
from damoc.config import CandidateSpec, RunConfig
from damoc.loading import load_config
from damoc.tasks.dev import ClusterKey, cluster_key
from damoc.tasks.example import Example
from damoc.tasks.prompts import PromptSpec

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "model_compression.json"
MODELS = ["smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b"]
TASKS = ["medical_except", "medical_qa", "financial_qa", "general_qa", "reading_comprehension"]
DEFAULT_SCORER = "block_influence"
BAR = 1.2  # issue 13: scoring a 0.5B model costs at most 1.2x one plain forward pass
RUN_KEYS = ("forward_seconds", "forward_cpu_seconds", "decoder_forward_seconds", "decoder_forward_cpu_seconds")


class Clock:
    """Wall and CPU seconds (this process) since it was made.

    Other jobs share this machine's cores; the wall time of a niced run measures them as much as the
    work, the CPU time of a single-threaded one (``OMP_NUM_THREADS=1``) measures the work.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        """(wall seconds, CPU seconds), rounded to ms."""
        return round(time.perf_counter() - self.wall, 3), round(time.process_time() - self.cpu, 3)


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class TaskData:
    """A task's run config, prompt, dev examples and calibration examples, and how they were cut."""

    cfg: RunConfig
    prompt: PromptSpec
    dev: list[Example]
    calibration: list[Example]
    split: dict[str, Any]


def spread(held: Sequence[Example], key: ClusterKey, size: int, seed: int) -> list[Example]:
    """``size`` of the held-out examples, one cluster after another in turn, so the dev split covers every held-out cluster."""
    clusters: dict[str, list[Example]] = {}
    for i, ex in enumerate(held):
        clusters.setdefault(cluster_key(ex, key, i), []).append(ex)
    rng = random.Random(seed)
    pools = [rng.sample(c, len(c)) for c in clusters.values()]
    order = [p[r] for r in range(max(map(len, pools), default=0)) for p in pools if r < len(p)]
    return order[:size]


def task_data(task: str, dev_size: int, dev_clusters: int, calibration: int | None) -> TaskData:
    """Carve the dev split from train (whole clusters) and draw calibration from the rest, seeded by the config."""
    from damoc.data.stage import draw_calibration
    from damoc.tasks.dev import carve_dev
    from damoc.tasks.load import load_split, task_sources

    cfg = load_config(ROOT / "configs" / f"{task}.yaml")
    train_src, _, fields, task_type = task_sources(cfg.task)  # the eval source is not read
    if task_type != "multiple_choice":
        raise SystemExit(f"{task}: only multiple-choice tasks are measured (accuracy by log-likelihood)")
    train = load_split(train_src, fields, task_type, "train", fmt=cfg.task.format)
    key = cfg.selection.cluster_by
    rest, held = carve_dev(train, key, dev_size, cfg.seed, dev_clusters)
    dev = spread(held, key, dev_size, cfg.seed)
    calib = draw_calibration(rest, calibration or cfg.data.calibration_samples, cfg.seed)
    split = {
        "cluster_by": key, "train": len(train), "rest": len(rest), "held_out": len(held),
        "held_out_clusters": len({cluster_key(e, key, i) for i, e in enumerate(held)}),
        "dev": len(dev), "calibration": len(calib), "seed": cfg.seed,
    }  # fmt: skip
    return TaskData(cfg, PromptSpec.from_task(cfg.task), dev, calib, split)


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class Batches:
    """A model's tokenised calibration (unlabelled and prompt-masked) and dev answer batches."""

    calib: list[dict[str, Any]]
    calib_loss: list[dict[str, Any]]
    dev_loss: list[dict[str, Any]]


def load_fresh(alias: str, device: str) -> tuple[Any, Any, float]:
    """(model, tokenizer, seconds) of a bundled model, from its converted safetensors (as the model stage loads it)."""
    from damoc.candidates.resolve import load_model, resolve_candidate
    from damoc.model.layers import architecture

    start = time.perf_counter()
    resolved = resolve_candidate(CandidateSpec(name=alias, alias=alias))
    model, tokenizer = load_model(resolved, device)
    architecture(model)
    return model, tokenizer, time.perf_counter() - start


def make_batches(model: Any, tok: Any, data: TaskData) -> Batches:
    """Calibration cut as the model stage cuts it; calibration and dev answers as fine-tuning cuts them."""
    from damoc.model.stage import render_calibration, tokenize_batches
    from damoc.model.tolerance import answer_batches

    m = data.cfg.model
    dev = next(model.parameters()).device
    texts = render_calibration(data.calibration, data.prompt, tok)
    return Batches(
        tokenize_batches(tok, texts, m.max_seq_len, m.batch_size, dev),
        answer_batches(tok, data.calibration, m.max_seq_len, m.batch_size, data.prompt, dev),
        answer_batches(tok, data.dev, m.max_seq_len, m.batch_size, data.prompt, dev),
    )


def evaluate_dev(model: Any, tok: Any, data: TaskData, dev_loss_batches: list[dict[str, Any]]) -> dict[str, Any]:
    """Dev accuracy (damoc's log-likelihood scorer, lm-eval ``acc``), per-example hits and answer loss, timed."""
    from damoc.evaluation.loglik import score_multiple_choice
    from damoc.evaluation.metrics import build_metrics
    from damoc.evaluation.metrics.base import argmax
    from damoc.model.tolerance import answer_loss

    ev = data.cfg.evaluation
    clock = Clock()
    rows = score_multiple_choice(data.dev, model, tok, ev.max_seq_len, ev.batch_size, None, data.prompt)
    eval_s, eval_cpu = clock.read()
    acc = build_metrics(["acc"], "multiple_choice")[0].compute(rows)
    clock = Clock()
    loss = answer_loss(model, dev_loss_batches)
    loss_s, loss_cpu = clock.read()
    return {
        "acc": round(float(acc), 6),
        "answer_loss": round(loss, 6),
        "hits": "".join("1" if argmax(r["logliks"]) == r["answer"] else "0" for r in rows),
        "eval_seconds": eval_s, "eval_cpu_seconds": eval_cpu, "loss_seconds": loss_s, "loss_cpu_seconds": loss_cpu,
    }  # fmt: skip


# ---------------------------------------------------------------- grid


def grid(full: bool, variants: Sequence[str] = (), scorers: Sequence[str] | None = None) -> dict[str, list[str]]:
    """scorer -> mergers measured with its removal set: every scorer x none, block_influence x every merger.

    ``variants`` (``--scorer-variants``, e.g. ``perplexity_drop(one_shot=true)``) add scorers with
    params, each with plain removal. ``scorers`` (``--scorers``) limits the registered scorers measured
    (default: all of them), e.g. to leave out the greedy ``perplexity_drop`` whose k x L passes cost more
    than the rest of a model's grid.
    """
    from damoc.model.base import MERGERS, SCORERS

    names = SCORERS.names()
    unknown = sorted(set(scorers or ()) - set(names))
    if unknown:
        raise SystemExit(f"--scorers {', '.join(unknown)}: not a registered scorer (registered: {', '.join(names)})")
    names = [s for s in names if scorers is None or s in scorers]
    if full:
        out = {s: MERGERS.names() for s in names}
    else:
        out = {s: ["none"] for s in names}
        if DEFAULT_SCORER in out:
            out[DEFAULT_SCORER] = ["none", *[m for m in MERGERS.names() if m != "none"]]
    return {**out, **{v: ["none"] for v in variants}}


def scorer_variant(label: str) -> tuple[str, dict[str, Any]]:
    """``name(key=value,...)`` -> (name, params); values read as YAML scalars. A plain name has no params."""
    import yaml

    name, _, rest = label.partition("(")
    if not rest:
        return name, {}
    if not rest.endswith(")") or "/" in label:
        raise SystemExit(f"scorer variant {label!r}: expected name(key=value,...) without '/'")
    params = {}
    for item in filter(None, rest[:-1].split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"scorer variant {label!r}: {item!r} is not key=value")
        params[key.strip()] = yaml.safe_load(value)
    return name, params


def score_layers(model: Any, batches: Batches, scorer_name: str, ratio: float, seed: int) -> dict[str, Any]:
    """One scorer's verdict on the uncompressed model at ``ratio``, timed."""
    import torch

    from damoc.model.base import SCORERS
    from damoc.model.layers import decoder_layers, num_layers_to_remove

    name, params = scorer_variant(scorer_name)
    scorer = SCORERS.build(name, params, where="model.scorer")
    num_remove = num_layers_to_remove(len(decoder_layers(model)), ratio)
    torch.manual_seed(seed)
    clock = Clock()
    result = scorer.score(model, batches.calib, num_remove, None, batches.calib_loss)
    wall, cpu = clock.read()
    return {
        "removed": result.removed,
        "scores": [round(s, 6) for s in result.scores],
        "tokens": result.tokens,
        "score_seconds": wall,
        "score_cpu_seconds": cpu,
    }


def compress(
    alias: str, device: str, removed: list[int], merger_name: str, seed: int
) -> tuple[Any, Any, dict[str, Any]]:
    """A fresh copy of the model with ``removed`` merged (``merger_name``) and removed; (model, tokenizer, facts)."""
    from damoc.candidates.resolve import count_parameters
    from damoc.model.base import MERGERS
    from damoc.model.layers import decoder_layers, remove_layers

    merger = MERGERS.build(merger_name, {}, where="model.merger")
    model, tok, load_s = load_fresh(alias, device)
    clock = Clock()
    merged = merger.merge(decoder_layers(model), removed, seed)
    remove_layers(model, list(removed))
    wall, cpu = clock.read()
    facts = {
        "merged_into": {str(k): v for k, v in merged.items()},
        "layers_after": len(decoder_layers(model)),
        "params_after": count_parameters(model),
        "merge_seconds": wall,
        "merge_cpu_seconds": cpu,
        "load_seconds": round(load_s, 3),
    }
    return model, tok, facts


# ---------------------------------------------------------------- results


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"runs": {}}


def save(results: dict[str, Any], path: Path) -> None:
    """Merge with what other runs wrote meanwhile, stamp machine and versions, write atomically.

    Two runs may share the file (say, one task and another's ``--full-grid``): under an exclusive
    lock the file is re-read and every (model, task)'s scoring and cells are the union of both, this
    run's entries winning for the same key; then it is replaced by a temporary file + rename.
    """
    import fcntl

    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merge_runs(results, load_results(path))
        results["machine"] = {
            "platform": platform.platform(), "processor": platform.processor(),
            "cpus": len(os.sched_getaffinity(0)), "torch_threads": _torch_threads(),
        }  # fmt: skip
        results["versions"] = package_versions()
        write_json_atomic(path, results)


def merge_runs(results: dict[str, Any], disk: dict[str, Any]) -> None:
    """Add to ``results`` (in place) the runs, scorings and cells that only ``disk`` has."""
    for key, theirs in disk.get("runs", {}).items():
        mine = results["runs"].setdefault(key, theirs)
        if mine is theirs:
            continue
        for part in ("scoring", "cells"):  # sorted: two runs' writes do not reorder the file
            merged = {**theirs.get(part, {}), **mine[part]}
            mine[part] = {k: merged[k] for k in sorted(merged)}
        if "full" not in mine and "full" in theirs:
            mine["full"] = theirs["full"]
    if "forward_bar" not in results and "forward_bar" in disk:
        results["forward_bar"] = disk["forward_bar"]


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def run_entry(results: dict[str, Any], key: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The results of one (model, task); a rerun must use the settings it was started with."""
    entry = results["runs"].setdefault(key, {"settings": settings, "scoring": {}, "cells": {}})
    if _identity(entry["settings"]) != _identity(settings):
        raise SystemExit(
            f"{key}: stored results were measured with {entry['settings']}, this run asks for {settings}; "
            "rerun with the stored settings, or write elsewhere with --out"
        )
    return entry


def _identity(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that make two runs' cells comparable (``full_grid`` only chooses which cells run)."""
    return {k: v for k, v in settings.items() if k != "full_grid"}


def cell_record(
    entry: dict[str, Any], scoring: dict[str, Any], facts: dict[str, Any], ev: dict[str, Any]
) -> dict[str, Any]:
    full = entry["full"]
    return {
        **{k: scoring[k] for k in ("removed", "score_seconds", "score_cpu_seconds")},
        **facts,
        **ev,
        "retained_acc": round(ev["acc"] / full["acc"], 4) if full["acc"] > 0 else None,
        "loss_increase": round(ev["answer_loss"] - full["answer_loss"], 6),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


# ---------------------------------------------------------------- the grid run


def run_model_task(alias: str, task: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Measure the uncompressed model and every grid cell of one (model, task); save after each.

    One copy of the model is in memory at a time: the uncompressed one while it is evaluated or scored,
    then each compressed copy (reloaded from safetensors) while it is evaluated.
    """
    data = task_data(task, args.dev_size, args.dev_clusters, args.calibration)
    settings = {**data.split, "dev_clusters_min": args.dev_clusters, "device": args.device}
    entry = run_entry(results, f"{alias}/{task}", settings)
    todo = [
        (r, s, m) for r in args.ratios for s, ms in grid(args.full_grid, args.scorer_variants, args.scorers).items() for m in ms
        if f"{r:g}/{s}/{m}" not in entry["cells"]
    ]  # fmt: skip
    if "full" in entry and not todo:
        log(f"{alias}/{task}: all cells done")
        return
    model, tok, _ = load_fresh(alias, args.device)
    batches = make_batches(model, tok, data)
    if "full" not in entry:
        entry["full"] = {**_full_facts(model, data), **evaluate_dev(model, tok, data, batches.dev_loss)}
        save(results, args.out)
        log(f"{alias}/{task}: uncompressed acc {entry['full']['acc']:.3f}, loss {entry['full']['answer_loss']:.3f}")
    for ratio, scorer_name, merger_name in reversed(todo) if args.reverse else todo:
        skey = f"{ratio:g}/{scorer_name}"
        if stored_meanwhile(results, args.out, entry, f"{skey}/{merger_name}"):
            log(f"{alias}/{task} {skey}/{merger_name}: stored by another run, skipped")
            continue
        if skey not in entry["scoring"]:
            model = model if model is not None else load_fresh(alias, args.device)[0]
            entry["scoring"][skey] = score_layers(model, batches, scorer_name, ratio, data.cfg.seed)
            save(results, args.out)
        model = None  # freed before the compressed copy loads: one copy in memory at a time
        gc.collect()  # transformers modules hold reference cycles
        compressed, tok, facts = compress(
            alias, args.device, entry["scoring"][skey]["removed"], merger_name, data.cfg.seed
        )
        ev = evaluate_dev(compressed, tok, data, batches.dev_loss)
        del compressed
        gc.collect()
        c = entry["cells"][f"{skey}/{merger_name}"] = cell_record(entry, entry["scoring"][skey], facts, ev)
        save(results, args.out)
        log(f"{alias}/{task} {skey}/{merger_name}: removed {c['removed']} acc {c['acc']:.3f} "
            f"(retained {c['retained_acc']}), loss {c['answer_loss']:.3f}, score {c['score_seconds']:.0f} s")  # fmt: skip


def stored_meanwhile(results: dict[str, Any], path: Path, entry: dict[str, Any], cell: str) -> bool:
    """Whether another run sharing ``path`` has stored ``cell`` since this run listed its work.

    The file is re-read (writes are atomic renames) and its scorings and cells joined into ``results``,
    so two runs of one grid, one with ``--reverse``, split it between them and each reuses the other's
    layer scores; they duplicate at most the cell where they meet.
    """
    merge_runs(results, load_results(path))
    return cell in entry["cells"]


def _full_facts(model: Any, data: TaskData) -> dict[str, Any]:
    from damoc.candidates.resolve import count_parameters
    from damoc.model.layers import decoder_layers

    chance = sum(1 / len(ex.choices or (1,)) for ex in data.dev) / len(data.dev)
    return {"layers": len(decoder_layers(model)), "params": count_parameters(model), "chance_acc": round(chance, 4)}


# ---------------------------------------------------------------- the forward-pass bar


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``."""
    clock = Clock()
    fn()
    return clock.read()


def forward_bar(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Time each scorer against one plain forward pass over the same calibration batches, best of several runs.

    Within each repeat the forward passes come first and the scorers follow, so load from other
    jobs falls on both; every ratio divides by forward passes timed in the same invocation.
    ``perplexity_drop`` (about k x L passes) is timed ``--ppl-repeats`` times. A scorer already timed
    in the JSON is skipped, so ``--bar-scorers`` can add the slow one in a later invocation.
    """
    from damoc.model.layers import decoder_body, decoder_layers, num_layers_to_remove

    data = task_data("medical_except", args.dev_size, args.dev_clusters, args.bar_samples)
    model, tok, _ = load_fresh(args.bar_model, args.device)
    batches = make_batches(model, tok, data)
    num_remove = num_layers_to_remove(len(decoder_layers(model)), 0.25)
    facts = _bar_facts(args.bar_model, data, model, batches.calib, num_remove)
    bar = results.get("forward_bar")
    if bar is None or any(bar.get(k) != v for k, v in facts.items()):
        bar = results["forward_bar"] = {**facts, "scorers": {}}
    wanted = {n: args.ppl_repeats if n == "perplexity_drop" else args.repeats for n in args.bar_scorers}
    todo = {n: r for n, r in wanted.items() if r > 0 and len(bar["scorers"].get(n, {}).get("seconds", [])) < r}
    run: dict[str, list[float]] = {k: [] for k in RUN_KEYS}  # this invocation's forward passes
    timings: dict[str, dict[str, list[float]]] = {
        n: {"seconds": [], "cpu_seconds": []} for n in todo
    }  # an unfinished scorer is timed again in full
    reps = max(todo.values(), default=0)
    for rep in range(reps):
        for prefix, module in (("forward", model), ("decoder_forward", decoder_body(model))):
            wall, cpu = timed(partial(_forward, module, batches.calib))
            run[f"{prefix}_seconds"].append(wall)
            run[f"{prefix}_cpu_seconds"].append(cpu)
        for name in [n for n, r in todo.items() if rep >= reps - r]:  # fewer repeats: the last rounds
            wall, cpu = _time_scorer(model, batches, name, num_remove)
            timings[name]["seconds"].append(wall)
            timings[name]["cpu_seconds"].append(cpu)
            bar["scorers"][name] = entry = json.loads(json.dumps({**timings[name], **run}))  # a snapshot
            _summarise(entry)
            save(results, args.out)
            log(f"forward bar: {name} {wall:.1f} s ({cpu:.1f} s CPU), forward best {min(run['forward_seconds']):.1f} s "
                f"({min(run['forward_cpu_seconds']):.1f} s CPU): x{entry['ratio']:.2f} wall, x{entry['ratio_cpu']:.2f} CPU")  # fmt: skip
    if not todo:
        log("forward bar: every scorer asked for is already timed")


def _forward(module: Any, batches: list[dict[str, Any]]) -> None:
    import torch

    with torch.no_grad():
        for b in batches:
            module(**b)


def _time_scorer(model: Any, batches: Batches, name: str, num_remove: int) -> tuple[float, float]:
    from damoc.model.base import SCORERS

    scorer = SCORERS.build(*scorer_variant(name), where="model.scorer")
    return timed(partial(scorer.score, model, batches.calib, num_remove, None, batches.calib_loss))


def _bar_facts(
    alias: str, data: TaskData, model: Any, batches: list[dict[str, Any]], num_remove: int
) -> dict[str, Any]:
    param = next(model.parameters())
    return {
        "model": alias, "task": "medical_except", "samples": len(data.calibration), "batches": len(batches),
        "batch_size": data.cfg.model.batch_size, "max_seq_len": data.cfg.model.max_seq_len,
        "tokens": sum(int(b["attention_mask"].sum()) for b in batches), "num_remove": num_remove,
        "dtype": str(param.dtype), "device": str(param.device), "bar": BAR,
        "forward": "model(**batch) under torch.no_grad(): the whole model with its lm_head, every batch",
        "decoder_forward": "the decoder body alone (no lm_head), as the similarity scorers run it",
    }  # fmt: skip


def _summarise(entry: dict[str, Any]) -> None:
    """Best of each list, and the scorer's ratios to the plain and the decoder-only forward pass, wall and CPU."""
    for suffix, key in (("", "seconds"), ("_cpu", "cpu_seconds")):
        best = entry[f"best_{key}"] = min(entry[key])
        ratio = entry[f"ratio{suffix}"] = round(best / min(entry[f"forward_{key}"]), 3)
        entry[f"ratio_to_decoder_forward{suffix}"] = round(best / min(entry[f"decoder_forward_{key}"]), 3)
        entry[f"within_bar{suffix}"] = ratio <= BAR


# ---------------------------------------------------------------- the README tables


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def dev_groups(task: str, settings: dict[str, Any]) -> list[str]:
    """The cluster key (e.g. question stem) of each dev example, in the order of the stored ``hits``.

    Rebuilt from the seeded split the entry was measured on (no model is loaded); refused if the rebuilt
    split differs from the stored one (the task data or the carving changed since).
    """
    data = task_data(task, settings["dev"], settings["dev_clusters_min"], settings["calibration"])
    changed = {k: (v, settings.get(k)) for k, v in data.split.items() if settings.get(k) != v}
    if changed:
        raise SystemExit(f"{task}: the dev split rebuilt today differs from the stored one {changed}")
    return [cluster_key(ex, settings["cluster_by"], i) for i, ex in enumerate(data.dev)]


def acc_change(hits: str, full_hits: str, groups: Sequence[str] | None) -> str:
    """Compressed minus uncompressed dev accuracy with its paired 95% bootstrap interval, whole clusters
    resampled (:func:`damoc.selection.agreement.paired_difference`): on a dev split of a few question
    stems, one stem flipping moves accuracy by a twelfth, so a gain inside the interval is not a gain."""
    from damoc.selection.agreement import paired_difference

    d = paired_difference([int(h) for h in hits], [int(h) for h in full_hits], groups)
    return f"{d.point:+.3f} ({d.low:+.3f} to {d.high:+.3f})"


def grid_table(results: dict[str, Any], groups: dict[str, list[str]] | None = None) -> list[str]:
    """Per model, task and ratio: each scorer / merger's dev accuracy, its change from the uncompressed
    model with a 95% interval (``groups``: each run's dev cluster keys; without, examples resampled one by
    one), retained accuracy, answer loss and seconds."""
    lines = [
        "| model | task | ratio | scorer / merger | layers | dev acc | acc change (95% CI) | retained acc "
        "| dev answer loss | CPU seconds score / merge / eval (acc + loss) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, entry in results["runs"].items():
        if "full" not in entry:
            continue
        model, task = key.split("/")
        f = entry["full"]
        lines.append(
            f"| {model} | {task} | 0 | uncompressed | {f['layers']} | {f['acc']:.3f} | - | 1.000 "
            f"| {f['answer_loss']:.3f} | - / - / {f['eval_cpu_seconds'] + f['loss_cpu_seconds']:.0f} |"
        )
        for ckey, c in sorted(entry["cells"].items(), key=lambda kv: _cell_order(kv[0])):
            ratio, scorer, merger = ckey.split("/")
            change = acc_change(c["hits"], f["hits"], (groups or {}).get(key))
            lines.append(
                f"| {model} | {task} | {ratio} | {scorer} / {merger} | {c['layers_after']} | {c['acc']:.3f} "
                f"| {change} | {_f(c['retained_acc'])} | {c['answer_loss']:.3f} "
                f"| {c['score_cpu_seconds']:.0f} / {c['merge_cpu_seconds']:.1f} "
                f"/ {c['eval_cpu_seconds'] + c['loss_cpu_seconds']:.0f} |"
            )
    return lines if len(lines) > 2 else []  # no rows: no table


def _cell_order(key: str) -> tuple[float, bool, str, str]:
    """Ratio, then every scorer with plain removal, then the mergers."""
    ratio, scorer, merger = key.split("/")
    return float(ratio), merger != "none", scorer, merger


def paired(a: str, b: str) -> tuple[int, int]:
    """(examples right in ``a`` but not ``b``, right in ``b`` but not ``a``)."""
    pairs = list(zip(a, b, strict=True))
    return pairs.count(("1", "0")), pairs.count(("0", "1"))


def merging_table(results: dict[str, Any]) -> list[str]:
    """Per model, task and ratio: the best merger (block_influence's removal set) against plain removal."""
    lines = [
        "| model | task | ratio | plain removal acc / loss | best merger: acc / loss | merging beats plain removal? |",
        "|---|---|---|---|---|---|",
    ]
    for key, entry in results["runs"].items():
        model, task = key.split("/")
        for ratio in sorted({k.split("/")[0] for k in entry["cells"]}, key=float):
            plain = entry["cells"].get(f"{ratio}/{DEFAULT_SCORER}/none")
            merged = {
                k.split("/")[2]: c for k, c in entry["cells"].items()
                if k.startswith(f"{ratio}/{DEFAULT_SCORER}/") and not k.endswith("/none")
            }  # fmt: skip
            if plain is None or not merged:
                continue
            name, best = max(merged.items(), key=lambda kv: (kv[1]["acc"], -kv[1]["answer_loss"]))
            won, lost = paired(best["hits"], plain["hits"])
            verdict = "yes" if best["acc"] > plain["acc"] else "no"
            lower_loss = [m for m, c in merged.items() if c["answer_loss"] < plain["answer_loss"]]
            lines.append(
                f"| {model} | {task} | {ratio} | {plain['acc']:.3f} / {plain['answer_loss']:.3f} "
                f"| {name}: {best['acc']:.3f} / {best['answer_loss']:.3f} | {verdict}: acc {best['acc'] - plain['acc']:+.3f} "
                f"(+{won} / -{lost} examples of {len(plain['hits'])}); lower dev loss: {', '.join(lower_loss) or 'none'} |"
            )
    return lines if len(lines) > 2 else []  # no rows: no table


def order_table(results: dict[str, Any]) -> list[str]:
    """Per task, ratio and setting measured on every model: the models' dev order against the uncompressed one.

    Orders are by dev answer loss (lowest first) and by dev accuracy (highest first); tau is Kendall's
    tau-b between the compressed and the uncompressed models' values (1: order kept).
    """
    by_task = complete_tasks(results)
    lines = [
        "| task | ratio | scorer / merger | dev answer loss, lowest first | tau vs uncompressed (loss) "
        "| dev acc, highest first | tau vs uncompressed (acc) |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, entries in by_task.items():
        models = list(entries)
        if len(models) < 2:
            continue
        full = {m: entries[m]["full"] for m in models}
        lines.append(_order_row(task, "0", "uncompressed", full, full))
        common = set.intersection(*(set(entries[m]["cells"]) for m in models))
        for ckey in sorted(common, key=_cell_order):
            ratio, scorer, merger = ckey.split("/")
            cells = {m: entries[m]["cells"][ckey] for m in models}
            lines.append(_order_row(task, ratio, f"{scorer} / {merger}", cells, full))
    return lines if len(lines) > 2 else []  # no rows: no table


def complete_tasks(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """task -> model -> entry, for the tasks measured (uncompressed) on every model seen on any task, if 2+.

    A task still running on its last model would otherwise be compared on fewer models than the rest.
    """
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for key, entry in results["runs"].items():
        if "full" in entry:
            model, task = key.split("/")
            by_task.setdefault(task, {})[model] = entry
    models = {m for entries in by_task.values() for m in entries}
    return {t: e for t, e in by_task.items() if set(e) == models and len(models) > 1}


def summary_table(results: dict[str, Any]) -> list[str]:
    """Every setting on every task at once: the models' mean dev answer-loss rise and whether their order holds.

    A cell is ``+rise (tau)``: the mean over the models of (compressed - uncompressed) dev answer loss,
    and Kendall's tau-b between the compressed and the uncompressed models' losses (1: order kept). Only
    (task, setting) pairs measured on every model of the task count; the last columns average the rise
    over those tasks and count the tasks whose loss order is kept exactly.
    """
    from damoc.selection.agreement import kendall_tau as tau

    by_task = complete_tasks(results)
    if not by_task:
        return []
    cells: dict[str, dict[str, tuple[float, float]]] = {}
    for task, entries in by_task.items():
        common = set.intersection(*(set(e["cells"]) for e in entries.values()))
        for ckey in common:
            rises = [e["cells"][ckey]["answer_loss"] - e["full"]["answer_loss"] for e in entries.values()]
            t = tau([e["cells"][ckey]["answer_loss"] for e in entries.values()],
                    [e["full"]["answer_loss"] for e in entries.values()])  # fmt: skip
            cells.setdefault(ckey, {})[task] = (sum(rises) / len(rises), t)
    tasks = list(by_task)
    lines = [
        "| ratio | scorer / merger | " + " | ".join(tasks) + " | mean rise | loss order kept |",
        "|---|---|" + "---|" * len(tasks) + "---|---|",
    ]
    for ckey in sorted(cells, key=_cell_order):
        ratio, scorer, merger = ckey.split("/")
        row = cells[ckey]
        shown = [f"{row[t][0]:+.2f} ({row[t][1]:+.2f})" if t in row else "-" for t in tasks]
        mean = sum(r for r, _ in row.values()) / len(row)
        kept = sum(t >= 1.0 - 1e-9 for _, t in row.values())
        lines.append(
            f"| {ratio} | {scorer} / {merger} | " + " | ".join(shown) + f" | {mean:+.2f} | {kept} of {len(row)} |"
        )
    return lines


def _order_row(task: str, ratio: str, setting: str, cells: dict[str, Any], full: dict[str, Any]) -> str:
    from damoc.selection.agreement import kendall_tau as tau

    models = list(cells)
    by_loss = _ranked(models, {m: round(cells[m]["answer_loss"], 2) for m in models}, "<", "{:.2f}")
    by_acc = _ranked(models, {m: -round(cells[m]["acc"], 3) for m in models}, ">", "{:.3f}")
    tau_loss = tau([cells[m]["answer_loss"] for m in models], [full[m]["answer_loss"] for m in models])
    tau_acc = tau([cells[m]["acc"] for m in models], [full[m]["acc"] for m in models])
    return f"| {task} | {ratio} | {setting} | {by_loss} | {tau_loss:+.2f} | {by_acc} | {tau_acc:+.2f} |"


def _ranked(models: list[str], key: dict[str, float], sign: str, fmt: str) -> str:
    """``a 1.00 < b 2.00 = c 2.00``: models by ``key`` (ascending), ``=`` between equal values."""
    order = sorted(models, key=lambda m: key[m])
    out = ""
    for i, m in enumerate(order):
        if i:
            out += " = " if key[m] == key[order[i - 1]] else f" {sign} "
        out += f"{m.split('-')[0]} {fmt.format(abs(key[m]))}"
    return out


def bar_table(results: dict[str, Any]) -> list[str]:
    """Each scorer's best time against the best plain forward pass of the same invocation, wall and CPU."""
    bar = results.get("forward_bar")
    if not bar or not bar["scorers"]:
        return []
    lines = [
        f"Layer scoring vs one plain forward pass `model(**batch)`: {bar['model']}, {bar['samples']} calibration "
        f"samples of {bar['task']} ({bar['tokens']} tokens, batches of {bar['batch_size']}, {bar['dtype']} on "
        f"{bar['device']}, {bar['num_remove']} layers to remove); best of (runs), seconds wall / CPU",
        "",
        "| scorer | scorer (runs) | plain forward (runs) | x plain forward, wall / CPU "
        "| x decoder-only forward, CPU | within 1.2x, wall / CPU |",
        "|---|---|---|---|---|---|",
    ]
    yes = {True: "yes", False: "no"}
    for name, s in bar["scorers"].items():
        lines.append(
            f"| {name} | {s['best_seconds']:.1f} / {s['best_cpu_seconds']:.1f} ({len(s['seconds'])}) "
            f"| {min(s['forward_seconds']):.1f} / {min(s['forward_cpu_seconds']):.1f} ({len(s['forward_seconds'])}) "
            f"| {s['ratio']:.2f} / {s['ratio_cpu']:.2f} | {s['ratio_to_decoder_forward_cpu']:.2f} "
            f"| {yes[s['within_bar']]} / {yes[s['within_bar_cpu']]} |"
        )
    return lines


def split_notes(results: dict[str, Any]) -> list[str]:
    """One line per (model, task): how its dev split and calibration sample were cut."""
    lines = []
    for key, entry in results["runs"].items():
        t = entry["settings"]
        lines.append(
            f"- {key}: dev {t['dev']} examples from {t['held_out_clusters']} held-out `{t['cluster_by']}` clusters "
            f"of train ({t['held_out']} held out); calibration {t['calibration']} examples from the other "
            f"{t['rest']}; seed {t['seed']}"
        )
    return lines


def print_tables(results: dict[str, Any]) -> None:
    groups = {
        key: dev_groups(key.split("/")[1], entry["settings"])
        for key, entry in results["runs"].items()
        if "full" in entry
    }
    for block in (
        summary_table(results),
        grid_table(results, groups),
        split_notes(results),
        merging_table(results),
        order_table(results),
        bar_table(results),
    ):
        if block:
            print("\n".join(block) + "\n")


# ---------------------------------------------------------------- command line


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    p.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    p.add_argument("--ratios", nargs="+", type=float, default=[0.25, 0.5])
    p.add_argument("--dev-size", type=int, default=96, help="dev examples evaluated (whole clusters held out)")
    p.add_argument("--dev-clusters", type=int, default=8, help="fewest clusters held out for the dev split")
    p.add_argument(
        "--calibration", type=int, default=None, help="calibration samples (default: data.calibration_samples)"
    )
    p.add_argument("--full-grid", action="store_true", help="every scorer x every merger")
    p.add_argument(
        "--scorer-variants", nargs="*", default=[], metavar="NAME(KEY=VALUE,...)",
        help="scorers with params, each with plain removal, e.g. 'perplexity_drop(one_shot=true)'",
    )  # fmt: skip
    p.add_argument(
        "--scorers", nargs="+", default=None, metavar="NAME",
        help="registered scorers to measure (default: all), e.g. all but the greedy perplexity_drop",
    )  # fmt: skip
    p.add_argument(
        "--reverse", action="store_true",
        help="measure the cells last to first: a second run of the same grid, sharing --out, meets the first midway",
    )  # fmt: skip
    p.add_argument("--device", default="auto")
    p.add_argument("--forward-bar", action="store_true", help="only time the scorers against a plain forward pass")
    p.add_argument("--bar-model", default="qwen2.5-coder-0.5b", choices=MODELS)
    p.add_argument("--bar-samples", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="forward bar: timings per scorer (best kept)")
    p.add_argument("--ppl-repeats", type=int, default=1, help="forward bar: timings of perplexity_drop (~k*L passes)")
    p.add_argument("--bar-scorers", nargs="+", default=None, help="forward bar: scorers to time (default: all)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--table", action="store_true", help="print the README tables from the stored JSON")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per reload would drown the log
    from damoc.model.base import SCORERS

    args = parse_args(argv)
    args.bar_scorers = args.bar_scorers or SCORERS.names()
    results = load_results(args.out)
    if args.table:
        print_tables(results)
        return
    if args.forward_bar:
        forward_bar(args, results)
        return
    for task in args.tasks:
        for alias in args.models:
            run_model_task(alias, task, args, results)


if __name__ == "__main__":
    main()
