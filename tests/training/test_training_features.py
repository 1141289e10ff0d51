"""Tokenisation for training: the prompt is masked, truncation keeps the target, steps are seeded."""

from __future__ import annotations

from pathlib import Path

import pytest

from damoc.config import TrainingConfig
from damoc.tasks.load import Example, build_prompt, target_text
from damoc.tasks.tokens import encode_pair, special_prefix
from damoc.training.features import IGNORE_INDEX, collate, encode_example, plan_steps

EX = Example(id="q0", question="What is 2 plus 3?", answer=1, choices=("four", "five", "six"))


@pytest.fixture(scope="module")
def tokenizer(tiny_tokenizer_dir: Path) -> object:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)


def test_labels_mask_the_prompt(tokenizer: object) -> None:
    feat = encode_example(tokenizer, EX, 256, prefix=[])
    learned = [t for t in feat.labels if t != IGNORE_INDEX]
    n_prompt = len(feat.labels) - len(learned)
    assert feat.labels[:n_prompt] == [IGNORE_INDEX] * n_prompt
    assert tokenizer.decode(feat.input_ids[:n_prompt]) == build_prompt(EX)  # type: ignore[attr-defined]
    assert tokenizer.decode(learned) == target_text(EX) + "</s>"  # type: ignore[attr-defined]
    assert feat.input_ids[n_prompt:] == learned


def test_truncation_cuts_the_prompt_from_the_left_and_keeps_the_prefix(tokenizer: object) -> None:
    full = encode_example(tokenizer, EX, 256, prefix=[1])
    short = encode_example(tokenizer, EX, 6, prefix=[1])
    n_target = sum(t != IGNORE_INDEX for t in full.labels)
    assert len(short.input_ids) == 6
    assert short.input_ids[0] == 1
    assert short.input_ids[1:] == full.input_ids[-5:]
    assert sum(t != IGNORE_INDEX for t in short.labels) == n_target


def test_target_longer_than_the_limit_is_kept_from_its_start(tokenizer: object) -> None:
    ex = Example(id="q", question="q?", answer="one two three four five six seven eight nine ten")
    feat = encode_example(tokenizer, ex, 4, prefix=[1])
    assert len(feat.input_ids) == 4
    assert all(t != IGNORE_INDEX for t in feat.labels)


def test_encode_pair_tail_is_the_continuation(tokenizer: object) -> None:
    ctx, cont = encode_pair(tokenizer, "Answer: ", "five")
    assert tokenizer.decode(ctx) == "Answer:"  # type: ignore[attr-defined]
    assert tokenizer.decode(cont) == " five"  # type: ignore[attr-defined]
    assert special_prefix(tokenizer) == []


def test_collate_right_pads(tokenizer: object) -> None:
    a = encode_example(tokenizer, EX, 256, prefix=[])
    b = encode_example(tokenizer, EX, 5, prefix=[])
    batch = collate([a, b], pad_id=0)
    assert batch["input_ids"].shape == (2, len(a.input_ids))
    assert batch["attention_mask"][1].tolist() == [1] * 5 + [0] * (len(a.input_ids) - 5)
    assert (batch["labels"][1, 5:] == IGNORE_INDEX).all()


def test_plan_steps_is_seeded_and_covers_epochs() -> None:
    import torch

    cfg = TrainingConfig(max_steps=None, num_epochs=2, batch_size=4, gradient_accumulation_steps=2)
    plan = plan_steps(10, cfg, torch.Generator().manual_seed(0))
    flat = [i for step in plan for mb in step for i in mb]
    assert len(flat) == 20 and sorted(flat) == sorted(list(range(10)) * 2)
    assert len(plan) == 3 and [len(mb) for mb in plan[0]] == [4, 4]
    assert plan == plan_steps(10, cfg, torch.Generator().manual_seed(0))
    capped = plan_steps(10, TrainingConfig(max_steps=7, batch_size=3), torch.Generator().manual_seed(1))
    assert len(capped) == 7 and all(len(s) == 1 and len(s[0]) == 3 for s in capped)


def test_special_prefix_finds_a_bos(tiny_tokenizer_dir: Path) -> None:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(tiny_tokenizer_dir)
    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    assert tok("a")["input_ids"][0] == 1
    assert special_prefix(tok) == [1]


def test_target_loss_matches_the_models_own_loss(tiny_model_dirs: dict[str, Path], tokenizer: object) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from damoc.training.loop import target_loss

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dirs["gemma3"])
    feats = [encode_example(tokenizer, EX, 256, prefix=[1]), encode_example(tokenizer, EX, 9, prefix=[1])]
    batch = collate(feats, pad_id=0)
    n_targets = int((batch["labels"] != IGNORE_INDEX).sum())
    with torch.no_grad():
        ours = target_loss(model, batch) / n_targets
        theirs = model(**batch).loss
    assert float(ours) == pytest.approx(float(theirs), abs=1e-5)
