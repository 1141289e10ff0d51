"""Tiny real models and data for tests, benchmarks and examples (no network, seconds to build).

The models are ordinary transformers checkpoints (6 layers, hidden size 32) of the Llama, Qwen2
and Gemma3 families with a byte-level BPE tokenizer trained in code, so every damoc stage runs on
them exactly as on a real model, only fast.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

TINY_ARCHS = ("llama", "qwen2", "gemma3")
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _corpus() -> list[str]:
    lines = [f"Question: What is {a} plus {b}?\nAnswer: {NUMBER_WORDS[a + b]}" for a in range(6) for b in range(5)]
    return [*lines, "Context: Question: Answer: The capital of France is Paris."]


def build_tiny_tokenizer(out_dir: Path) -> Path:
    """Train a byte-level BPE tokenizer (any text round-trips) and save it as a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(out_dir)
    return out_dir


def tiny_config(arch: str, vocab_size: int) -> Any:
    """A 6-layer, hidden-32 config of the given architecture family."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
    )
    if arch == "llama":
        return LlamaConfig(**common)
    if arch == "qwen2":
        return Qwen2Config(**common, use_sliding_window=False)
    if arch == "gemma3":
        return Gemma3TextConfig(**common, head_dim=8, sliding_window=16, query_pre_attn_scalar=8)
    raise ValueError(f"unknown tiny architecture {arch!r}; available: {', '.join(TINY_ARCHS)}")


def build_tiny_model(arch: str, out_dir: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    """Save a randomly initialised tiny model of ``arch`` with the tokenizer from ``tokenizer_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tok)))
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return out_dir


def make_mc_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` small arithmetic multiple-choice records with 4 choices each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randrange(6), rng.randrange(5)
        right = NUMBER_WORDS[a + b]
        wrong = rng.sample([w for w in NUMBER_WORDS if w != right], 3)
        choices = [right, *wrong]
        rng.shuffle(choices)
        out.append(
            {"id": f"q{i}", "question": f"What is {a} plus {b}?", "choices": choices, "answer": choices.index(right)}
        )
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` one JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def tiny_run_config(root: Path, model_dirs: dict[str, Path], **sections: Any) -> dict[str, Any]:
    """A raw run config over tiny models and arithmetic data under ``root`` (files are written)."""
    train = write_jsonl(root / "train.jsonl", make_mc_records(48, seed=0))
    ev = write_jsonl(root / "eval.jsonl", make_mc_records(16, seed=1))
    raw: dict[str, Any] = {
        "run_dir": str(root / "run"),
        "seed": 0,
        "device": "cpu",
        "cache_dir": str(root / "cache"),
        "task": {"type": "multiple_choice", "train": {"path": str(train)}, "eval": {"path": str(ev)}},
        "candidates": [{"name": f"tiny-{a}", "path": str(p)} for a, p in model_dirs.items()],
        "data": {"steps": [{"method": "random", "params": {"keep_ratio": 0.5}}], "calibration_samples": 8},
        "model": {"remove_ratio": 0.34, "max_seq_len": 32},
        "training": {"max_steps": 6, "batch_size": 4, "learning_rate": 0.01, "max_seq_len": 48},
        "evaluation": {"batch_size": 16},
        "selection": {"rank_by": "acc", "baselines": ["model_size"]},
    }
    raw.update(sections)
    return raw


def start_run(config: Path, run_dir: Path) -> Any:
    """Start ``damoc run CONFIG run_dir=...`` as a real subprocess (a ``subprocess.Popen``)."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "damoc", "run", str(config), f"run_dir={run_dir}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def ranking_scores(run_dir: Path) -> list[tuple[str, dict[str, float]]]:
    """(candidate, metrics) in ranking order, from ``run_dir/ranking.json``."""
    ranking = json.loads((run_dir / "ranking.json").read_text(encoding="utf-8"))
    return [(c["candidate"], c["metrics"]) for c in ranking["candidates"]]


def damaged_artefacts(run_dir: Path) -> list[str]:
    """Stage folders without a manifest, or missing a file their manifest lists (expected: none)."""
    from damoc.artifacts import read_manifest

    problems = []
    nested = [*run_dir.glob("models/*/eval_chunks/*"), *run_dir.glob("models/*/ats_subsets/*")]
    for folder in [run_dir / "data", *run_dir.glob("models/*/*"), *nested]:
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in ("eval_chunks", "ats_subsets"):
            continue
        manifest = read_manifest(folder)
        if manifest is None:
            problems.append(f"{folder}: no manifest")
            continue
        problems += [f"{folder}: {name} missing" for name in manifest["outputs"] if not (folder / name).exists()]
    return problems
