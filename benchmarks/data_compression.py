"""Data compression: each filter's and compressor's throughput and compression on real bundled data.

Every registered filter runs as a data step (``damoc.data.stage.run_step``, as a run calls it) on one
bundled task's whole training split with ``keep_ratio`` 0.25, and each compressor on a seeded 10%
sample of it; the embedding-only filters (``EMBEDDING_FILTERS``) also run on 10,000 training examples
pooled from every bundled multiple-choice task (the issue's bar: under 60 s on this 2-core CPU). Recorded per method: examples in and
kept, seconds, examples per second, prompt + target characters and SmolLM2 tokens before and after,
and the compression (before / after). Methods needing an optional package or a model that is missing
(``llmlingua2`` without ``DAMOC_LLMLINGUA2_MODEL`` and a hub) are recorded as skipped with the reason. ``rewrite`` generates with the local
SmolLM2-Instruct, so it is the slow one; ``--skip`` leaves methods out.

Run:  .venv/bin/python benchmarks/data_compression.py [--task medical_qa] [--skip rewrite]
      .venv/bin/python benchmarks/data_compression.py --embedding-dtypes   (the encoder in fp32 vs bf16 on the pooled set)
      .venv/bin/python benchmarks/data_compression.py --table      (the README table)
      -> merges {task: {method: result}} into benchmarks/results/data_compression.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path
from typing import Any

from damoc.artifacts import package_versions
from damoc.config import MethodSpec, TaskConfig
from damoc.context import StageContext
from damoc.tasks.example import Example
from damoc.tasks.load import bundled_task_names, load_split, task_sources
from damoc.tasks.prompts import PromptSpec, render_prompt, target_text
from damoc.testing import bundled_tiktoken_dir

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "data_compression.json"
EMBEDDING_FILTERS = ("k_center", "cluster_balanced", "embedding_dedup")
"""The filters timed on the pooled 10,000 examples: embedding-only. ``hybrid`` and ``deita`` also embed,
but their cost is IFD under the reference LLM (two forward passes per example, about 15x the
embedding's on the task run above), so the pooled set would time IFD, not the embedding."""
FILTER_PARAMS: dict[str, dict[str, Any]] = {
    "random": {"keep_ratio": 0.25},
    "ifd": {"keep_ratio": 0.25},
    "perplexity": {"keep_ratio": 0.25},
    "k_center": {"keep_ratio": 0.25},
    "hybrid": {"keep_ratio": 0.25},
    "cluster_balanced": {"keep_ratio": 0.25},
    "deita": {"keep_ratio": 0.25},
    "embedding_dedup": {},
    "minhash_dedup": {},
    "rules": {},
}
# llmlingua2: DAMOC_LLMLINGUA2_MODEL names a local LLMLingua-2 model; the default is a hub id, recorded as
# skipped where the hub cannot be reached
LLMLINGUA2_MODEL = os.environ.get("DAMOC_LLMLINGUA2_MODEL")
COMPRESSOR_PARAMS: dict[str, dict[str, Any]] = {
    "self_information": {},
    "llmlingua2": {"model": LLMLINGUA2_MODEL} if LLMLINGUA2_MODEL else {},
    "rewrite": {},
}
POOLED = 10_000
PICK_VARIANTS: dict[str, tuple[str, ...]] = {
    "random": ("filter-random",),
    "ifd": ("ifd-full", "previous-default"),
    "perplexity": ("filter-perplexity",),
    "k_center": ("filter-k_center",),
    "hybrid": ("filter-hybrid-pool4",),
    "cluster_balanced": ("filter-cluster_balanced",),
    "deita": ("filter-deita", "filter-deita-pool4", "deita-pool4-fallback"),
    "rules": ("rules+deita-pool4",),
    "self_information": ("deita-pool4+self_information",),
    "rewrite": ("deita-pool4+rewrite",),
    "embedding_dedup": ("embedding_dedup+deita-pool4",),
    "minhash_dedup": ("minhash_dedup+deita-pool4",),
}
"""Each method's proxy variants in ``stored_truth.json`` (``benchmarks/stored_truth.py``): the same budget
judged against the stored one-epoch ground truths, the table's "effect on the pick" column."""


def load_train(task: str) -> tuple[list[Example], PromptSpec]:
    cfg = TaskConfig.model_validate({"bundled": task})
    train_src, _, fields, task_type = task_sources(cfg)
    return load_split(train_src, fields, task_type, "train", fmt=cfg.format), PromptSpec.from_task(cfg)


def pooled_examples(n: int) -> list[Example]:
    """``n`` training examples from every bundled multiple-choice task, in a seeded order."""
    pool: list[Example] = []
    for task in bundled_task_names():
        examples, _ = load_train(task)
        if examples and examples[0].choices is not None:
            pool += examples
    random.Random(0).shuffle(pool)
    return pool[:n]


def measure(examples: list[Example], tokenizer: Any, prompt: PromptSpec) -> tuple[int, int]:
    """(characters, SmolLM2 tokens) of prompt plus target text, summed over ``examples``."""
    texts = [render_prompt(ex, prompt) + target_text(ex, prompt) for ex in examples]
    return sum(map(len, texts)), sum(len(ids) for ids in tokenizer(texts)["input_ids"])


def run_method(
    method: str, params: dict[str, Any], examples: list[Example], prompt: PromptSpec, tokenizer: Any
) -> dict[str, Any]:
    from damoc.data.stage import run_step
    from damoc.errors import ConfigError, ModelError

    ctx = StageContext(seed=0, device="cpu", prompt=prompt)
    chars0, tokens0 = measure(examples, tokenizer, prompt)
    start = time.perf_counter()
    try:
        out, step = run_step(0, MethodSpec(method=method, params=params), examples, ctx)
    except (ConfigError, ModelError) as exc:  # an optional package or model that is not installed or reachable
        return {"skipped": str(exc).split(". Without network")[0]}
    seconds = time.perf_counter() - start
    chars1, tokens1 = measure(out, tokenizer, prompt)
    return {
        "kind": step.kind,
        "params": step.params,
        "examples_in": len(examples),
        "kept": len(out),
        "seconds": round(seconds, 2),
        "examples_per_second": round(len(examples) / seconds, 1),
        "characters": [chars0, chars1],
        "tokens": [tokens0, tokens1],
        "token_compression": round(tokens0 / max(tokens1, 1), 3),
        "dropped": step.dropped,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="medical_qa")
    parser.add_argument("--skip", nargs="*", default=[], help="methods left out")
    parser.add_argument("--only", nargs="*", default=[], help="only these methods")
    parser.add_argument("--compress-fraction", type=float, default=0.1, help="sample the compressors run on")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--embedding-dtypes", action="store_true", help="only time the encoder in fp32 and bf16")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"tasks": {}}
    if args.table:
        print(markdown_table(results))
        return
    if args.embedding_dtypes:
        results["embedding_dtypes"] = embedding_dtypes(pooled_examples(POOLED))
        print(json.dumps(results["embedding_dtypes"]))
        save(results)
        return
    tiktoken_dir = bundled_tiktoken_dir()
    if tiktoken_dir is not None:  # tiktoken's encoding from disk: llmlingua2's skip names the model, not the download
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tiktoken_dir))
    from damoc.candidates.bundled import prepare_model
    from damoc.candidates.resolve import load_tokenizer

    tokenizer = load_tokenizer(prepare_model("smollm2-135m"))
    train, prompt = load_train(args.task)
    sample = sorted(random.Random(0).sample(train, int(len(train) * args.compress_fraction)), key=lambda e: e.id)
    wanted = {m: p for m, p in {**FILTER_PARAMS, **COMPRESSOR_PARAMS}.items() if m not in args.skip}
    if args.only:
        wanted = {m: p for m, p in wanted.items() if m in args.only}
    entry = results["tasks"].setdefault(args.task, {})
    for method, params in wanted.items():
        examples = sample if method in COMPRESSOR_PARAMS else train
        entry[method] = run_method(method, params, examples, prompt, tokenizer)
        print(
            method, json.dumps({k: entry[method].get(k) for k in ("kept", "seconds", "token_compression", "skipped")})
        )
        save(results)
    pooled = [m for m in EMBEDDING_FILTERS if m in wanted]
    if pooled:
        big = pooled_examples(POOLED)
        entry = results["tasks"].setdefault(f"pooled_{POOLED}", {})
        for method in pooled:
            entry[method] = run_method(method, FILTER_PARAMS[method], big, PromptSpec(), tokenizer)
            print(f"{method} on {len(big)}", json.dumps({"seconds": entry[method].get("seconds")}))
            save(results)


def embedding_dtypes(examples: list[Example]) -> dict[str, Any]:
    """The bundled encoder in fp32 and under bf16 autocast on the same texts: seconds and the cosines between them."""
    import numpy as np

    from damoc.data.base import example_text
    from damoc.data.embeddings import BUNDLED_ENCODER, embed_texts, native_bf16

    texts = [example_text(ex) for ex in examples]
    out: dict[str, Any] = {"texts": len(texts), "native_bf16": native_bf16("cpu")}
    vectors = {}
    for dtype in ("float32", "bfloat16"):
        start = time.perf_counter()
        vectors[dtype] = embed_texts(texts, BUNDLED_ENCODER, 64, "cpu", dtype=dtype)
        out[f"{dtype}_seconds"] = round(time.perf_counter() - start, 2)
    cos = (vectors["float32"] * vectors["bfloat16"]).sum(axis=1)
    out |= {
        "cosine_min": float(np.min(cos)),
        "cosine_mean": float(np.mean(cos)),
        "load_average_1min": os.getloadavg()[0],
    }
    out["speedup"] = round(out["float32_seconds"] / out["bfloat16_seconds"], 2)
    return out


def save(results: dict[str, Any]) -> None:
    results["machine"] = {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))}
    results["versions"] = package_versions()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    tmp.replace(RESULTS)


def markdown_table(results: dict[str, Any], variants: dict[str, Any] | None = None) -> str:
    """The README table; ``variants`` (``stored_truth.json``'s, default: read from the file) fills the
    effect-on-the-pick column of each method's first row."""
    if variants is None:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import stored_truth  # its results file and reader

        variants = stored_truth.load()["variants"]
    lines = [
        "| data | method | kind | examples in -> kept | tokens before -> after | token compression | seconds "
        "| examples/s | effect on the pick (stored truths, budget 1/32) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    shown: set[str] = set()
    for task, methods in results["tasks"].items():
        for method, r in methods.items():
            pick = "" if method in shown else pick_effect(method, variants)
            shown.add(method)
            if "skipped" in r:
                lines.append(f"| {task} | {method} | - | skipped: {r['skipped'][:80]} | | | | | {pick} |")
                continue
            lines.append(
                f"| {task} | {method} | {r['kind']} | {r['examples_in']:,} -> {r['kept']:,} | "
                f"{r['tokens'][0]:,} -> {r['tokens'][1]:,} | {r['token_compression']:.2f}x | {r['seconds']:.1f} "
                f"| {r['examples_per_second']:.1f} | {pick} |"
            )
    return "\n".join(lines)


def pick_effect(method: str, variants: dict[str, Any]) -> str:
    """``variant: hits of tasks tie-aware (strict)`` for each stored variant of ``method`` (one-epoch cells);
    ``not measured`` when it has none."""
    out = []
    for label in PICK_VARIANTS.get(method, ()):
        cells = [c for t, c in variants.get(label, {}).get("tasks", {}).items() if "@" not in t]
        if cells:
            tie = sum(bool(c["top1_tie_aware"]) for c in cells)
            strict = sum(bool(c["top1_strict"]) for c in cells)
            out.append(f"{label}: {tie} of {len(cells)} ({strict} strict)")
    return "; ".join(out) or "not measured"


if __name__ == "__main__":
    main()
