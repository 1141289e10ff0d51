"""The ground-truth recipe: config -> TrainingConfig, the deterministic epoch plan, curve steps, max_seq_len."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from damoc.config import GroundTruthConfig, TrainingConfig
from damoc.tasks.example import Example
from damoc.testing import make_mc_records
from damoc.training.features import encode_example, plan_steps
from damoc.validation.recipe import (
    MAX_AUTO_SEQ_LEN,
    auto_max_seq_len,
    curve_steps,
    plan_epochs,
    quantile_length,
    training_config,
)


def _tokenizer(folder: Path) -> object:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(folder)


def _examples(n: int) -> list[Example]:
    return [Example.from_json(r) for r in make_mc_records(n)]


def test_config_defaults_are_the_common_recipe() -> None:
    gt = GroundTruthConfig()
    assert (gt.method, gt.epochs, gt.learning_rate, gt.batch_size) == ("lora", 3.0, 2e-4, 8)
    assert (gt.lora_r, gt.lora_alpha, gt.lora_dropout, gt.warmup_ratio) == (8, 16, 0.05, 0.03)
    assert gt.max_seq_len is None and gt.max_eval_examples is None
    assert gt.curve_fractions == [0.125, 0.25, 0.5]


@pytest.mark.parametrize(
    "bad", [{"epochs": 0}, {"learning_rate": -1}, {"lora_dropout": 1.0}, {"curve_fractions": [0.5, 0]},
            {"checkpoint_minutes": 0}, {"method": "qlora"}, {"max_seq_len": 0}, {"unknown": 1}],
)  # fmt: skip
def test_config_refuses_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GroundTruthConfig.model_validate(bad)


def test_training_config_carries_every_shared_knob() -> None:
    gt = GroundTruthConfig(method="full", epochs=2.5, learning_rate=1e-3, batch_size=2, gradient_accumulation_steps=3,
                           warmup_ratio=0.1, weight_decay=0.01, lora_r=4, lora_alpha=8, lora_dropout=0.1,
                           target_modules=["q_proj"])  # fmt: skip
    cfg = training_config(gt, 77)
    assert cfg.max_steps is None and cfg.num_epochs == 2.5 and cfg.max_seq_len == 77
    for name in ("method", "learning_rate", "batch_size", "gradient_accumulation_steps", "warmup_ratio",
                 "weight_decay", "lora_r", "lora_alpha", "lora_dropout", "target_modules"):  # fmt: skip
        assert getattr(cfg, name) == getattr(gt, name), name


def _flat(plan_steps_: list[list[list[int]]]) -> list[int]:
    return [i for step in plan_steps_ for mb in step for i in mb]


def test_plan_is_whole_epochs_ending_on_step_boundaries() -> None:
    cfg = TrainingConfig(max_steps=None, num_epochs=3, batch_size=4, gradient_accumulation_steps=2)
    plan = plan_epochs(21, cfg, seed=0)
    assert plan.steps_per_epoch == 3 and plan.epoch_ends == [3, 6, 9] and plan.total == 9
    flat = _flat(plan.steps)
    for e in range(3):  # every epoch sees every example once
        assert sorted(flat[21 * e : 21 * (e + 1)]) == list(range(21))
    assert all(len(mb) <= 4 for step in plan.steps for mb in step)
    assert [sum(len(mb) for mb in step) for step in plan.steps[:3]] == [8, 8, 5]  # last step of an epoch is smaller


def test_plan_is_a_function_of_the_seed() -> None:
    cfg = TrainingConfig(max_steps=None, num_epochs=2, batch_size=4)
    assert plan_epochs(10, cfg, 3).steps == plan_epochs(10, cfg, 3).steps
    assert plan_epochs(10, cfg, 3).steps != plan_epochs(10, cfg, 4).steps


def test_plan_draws_like_stage3_plan_steps() -> None:
    import torch

    cfg = TrainingConfig(max_steps=None, num_epochs=2, batch_size=4)
    reference = plan_steps(12, cfg, torch.Generator().manual_seed(5))
    assert _flat(plan_epochs(12, cfg, 5).steps) == _flat(reference)


def test_fractional_epochs() -> None:
    cfg = TrainingConfig(max_steps=None, num_epochs=1.5, batch_size=4)
    plan = plan_epochs(16, cfg, 0)
    assert plan.epoch_ends == [4, 6] and len(_flat(plan.steps)) == 24
    tiny = plan_epochs(16, cfg.model_copy(update={"num_epochs": 0.01}), 0)
    assert tiny.total == 1 and len(_flat(tiny.steps)) == 1 and tiny.epoch_ends == [1]


def test_curve_steps_fractions_and_epoch_ends() -> None:
    cfg = TrainingConfig(max_steps=None, num_epochs=2, batch_size=2)
    plan = plan_epochs(32, cfg, 0)  # 16 steps per epoch
    assert curve_steps(plan, [0.125, 0.25, 0.5], 2) == {2: 0.125, 4: 0.25, 8: 0.5, 16: 1.0, 32: 2.0}
    short = plan_epochs(32, cfg.model_copy(update={"num_epochs": 0.25}), 0)
    assert curve_steps(short, [0.125, 0.25, 0.5], 0.25) == {2: 0.125, 4: 0.25}  # 0.5 lies past the end


def test_quantile_length_nearest_rank() -> None:
    assert quantile_length(list(range(1, 101))) == 99
    assert quantile_length([5]) == 5
    assert quantile_length([3, 1, 2], 0.5) == 2


def test_auto_max_seq_len_covers_99_percent_of_the_examples(tiny_tokenizer_dir: Path) -> None:
    from damoc.tasks.tokens import special_prefix

    tok = _tokenizer(tiny_tokenizer_dir)
    examples = _examples(200)
    n = auto_max_seq_len(tok, examples, None)
    lengths = [len(encode_example(tok, ex, 10_000, special_prefix(tok)).input_ids) for ex in examples]
    assert sum(length <= n for length in lengths) >= 0.99 * len(lengths) and n in lengths
    assert auto_max_seq_len(tok, examples, None, cap=5) == 5
    assert MAX_AUTO_SEQ_LEN == 1024


def test_encode_example_keeps_the_whole_prompt_when_it_fits(tiny_tokenizer_dir: Path) -> None:
    """Regression: a room between len(prompt) and 2*len(prompt) used to cut the prompt (negative slice start)."""
    tok = _tokenizer(tiny_tokenizer_dir)
    ex = Example(id="a", question="What is 2 plus 3? " * 3, answer=0, choices=("five", "six"))
    full = encode_example(tok, ex, 10_000, [1])
    for max_seq_len in range(len(full.input_ids), len(full.input_ids) + 40):
        assert encode_example(tok, ex, max_seq_len, [1]) == full, max_seq_len
