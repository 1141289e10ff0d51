"""Shared fixtures: tiny real transformers models (6 layers, hidden 32) built from configs, a tiny
byte-level BPE tokenizer trained in code, and a small multiple-choice dataset written to JSONL."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

ARCHS = ("llama", "qwen2", "gemma3")
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _corpus() -> list[str]:
    lines = [f"Question: What is {a} plus {b}?\nAnswer: {NUMBER_WORDS[a + b]}" for a in range(6) for b in range(5)]
    return [*lines, "Context: Question: Answer: The capital of France is Paris."]


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer (any text round-trips) saved as a PreTrainedTokenizerFast."""
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
    out = tmp_path_factory.mktemp("tiny_tokenizer")
    fast.save_pretrained(out)
    reloaded = PreTrainedTokenizerFast.from_pretrained(out)
    text = "Question: What is 2 plus 3? Ünïcode ok"
    assert reloaded.decode(reloaded(text)["input_ids"]) == text
    return out


def tiny_config(arch: str, vocab_size: int) -> object:
    """A 6-layer, hidden-32 config of the given architecture family."""
    from transformers import Gemma3TextConfig, LlamaConfig, Qwen2Config

    common = dict(
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
    raise ValueError(arch)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> dict[str, Path]:
    """arch -> folder with a randomly initialised 6-layer model (safetensors) and the tiny tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    dirs = {}
    for i, arch in enumerate(ARCHS):
        torch.manual_seed(i)
        model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tok)))
        out = tmp_path_factory.mktemp(f"tiny_{arch}")
        model.save_pretrained(out)
        tok.save_pretrained(out)
        dirs[arch] = out
    return dirs


def make_mc_records(n: int, seed: int = 0) -> list[dict[str, object]]:
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


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture()
def mc_files(tmp_path: Path) -> tuple[Path, Path]:
    """(train.jsonl, eval.jsonl) with 48 and 16 arithmetic multiple-choice examples."""
    return (
        write_jsonl(tmp_path / "train.jsonl", make_mc_records(48, seed=0)),
        write_jsonl(tmp_path / "eval.jsonl", make_mc_records(16, seed=1)),
    )
